// Package bake builds the immutable image: a base (tag, digest, index or
// scratch) plus the static configuration and binaries, reproducibly (sorted
// entries, fixed owners and times), labelled so it can be traced back to
// the commit, the base and the configuration revision; and rebases such an
// image onto a new base without rebuilding it.
package bake
