// Package corpus gives tests the kustomize applications that driftless's
// guarantees are checked against: the ones in testdata/corpus at the
// repository root, written for driftless in the shapes real applications
// take, and upstream applications copied verbatim into a directory named by
// DRIFTLESS_CORPUS (or shared/corpus beside the repository), each with a
// SOURCE file saying where it was copied from.
//
// Every application is a directory with a driftless.yaml whose one
// environment's overlay is the application, so the same directory feeds
// kustomize, the render package and validate-config.
package corpus
