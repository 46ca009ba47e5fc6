// Package registrytest gives tests a real container registry:
// go-containerregistry's in-process registry on 127.0.0.1, helpers to push
// images and indexes to it, a record of the requests it served, so a test
// can prove what a step did and did not transfer, and a registry that
// demands credentials (Basic, or a token service as hosted registries
// have).
package registrytest
