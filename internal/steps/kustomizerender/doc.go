// Package kustomizerender is the kustomize-render step: it renders each environment's overlay with the
// pipeline's image pinned by digest and traceability metadata, one file per
// environment. See docs/steps/kustomize-render.md.
package kustomizerender
