//go:build tools

// Package kubeconform records the program built from this module.
package kubeconform

import (
	_ "github.com/yannh/kubeconform/cmd/kubeconform"
)
