//go:build tools

// Package act records the program built from this module.
package act

import (
	_ "github.com/nektos/act"
)
