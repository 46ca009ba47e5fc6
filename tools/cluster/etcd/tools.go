//go:build tools

// Package etcd records the program built from this module; the module
// root of go.etcd.io/etcd/server/v3 is etcd's main package.
package etcd

import (
	_ "go.etcd.io/etcd/server/v3"
)
