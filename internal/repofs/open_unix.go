//go:build unix

package repofs

import "syscall"

// openFlags keep an open from blocking on a named pipe swapped in after
// the type check, or following a link swapped in for the file.
const openFlags = syscall.O_NONBLOCK | syscall.O_NOFOLLOW
