// Package configrev computes the configuration revision of a static
// configuration directory: one sha256 over the relative path, size and
// content of every regular file, in sorted order.
//
// It is the single definition of the revision. The service reports it at
// start, bake-image labels the image with it, and smoke-test compares the
// two, so all three must hash the same bytes the same way. File modes and
// empty directories are deliberately left out: Git keeps neither faithfully,
// and images set fixed modes, so including them would make the revision
// depend on the machine that checked the files out.
package configrev
