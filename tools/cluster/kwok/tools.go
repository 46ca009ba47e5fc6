//go:build tools

// Package kwok records the program built from this module.
package kwok

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
