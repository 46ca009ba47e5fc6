// Package static loads and checks the pssp-api static configuration: the API
// definitions, plans, groups and routing baked into the image.
//
// The configuration is immutable for the life of the process, so it is read
// once, checked as a whole (every file, every cross-reference) and then only
// read. A configuration that does not pass is reported in full, with every
// problem and its file, so that one failed start is enough to fix it.
package static
