//go:build !unix

package repofs

// openFlags: named pipes and links cannot be swapped in as on Unix; the
// type check before the open and the identity check after it remain.
const openFlags = 0
