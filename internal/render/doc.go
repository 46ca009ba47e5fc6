// Package render renders an environment's kustomize overlay in-process with
// krusty, pins the pipeline's image by digest using kustomize's own images
// transformer, adds traceability metadata, and refuses output whose images
// float (untagged, latest, or the pipeline's image without a digest).
//
// Apart from the pinned image and the added metadata the output is exactly
// what `kustomize build` (and `kubectl kustomize`) print for the overlay.
package render
