// Package repofs is the one place the steps read a user's repository
// through: every path must lead, after its symbolic links are resolved,
// to a regular file or directory inside the repository's root, and every
// read is bounded or streamed and stops when its context ends.
//
// A pull request can edit driftless.yaml, so nothing the spec names may
// reach the runner's files (a Docker config, a cloud credential) through
// "../", an absolute path or a symbolic link; and a named pipe, socket or
// device in the repository is refused by its type, without being opened,
// so a step can never hang on one. bake-image and validate-config apply
// these rules through Root, so what one refuses the other refuses too.
package repofs
