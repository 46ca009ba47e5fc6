//go:build tools

// Package helm records the program built from this module.
package helm

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
