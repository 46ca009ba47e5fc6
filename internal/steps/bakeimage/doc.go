// Package bakeimage is the bake-image step: it turns a base image plus the static configuration and
// binaries into a reproducible, labelled image pushed by digest. See
// docs/steps/bake-image.md.
package bakeimage
