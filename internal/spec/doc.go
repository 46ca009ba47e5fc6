// Package spec reads driftless.yaml, the pipeline spec every step reads.
//
// The Go types in types.go are the single definition of the format: their
// struct tags drive strict decoding (unknown fields, wrong types and invalid
// choices are reported with file, line and column, together with what would
// be valid), defaults, and the published JSON Schema (Schema).
package spec
