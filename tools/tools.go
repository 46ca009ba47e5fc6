//go:build tools

// Package tools records the programs built from this module.
package tools

import (
	_ "github.com/google/go-containerregistry/cmd/crane"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
