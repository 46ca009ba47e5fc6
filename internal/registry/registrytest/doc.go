// Package registrytest gives tests a real container registry:
// go-containerregistry's in-process registry on 127.0.0.1, helpers to push
// images and indexes to it, and a record of the requests it served, so a test
// can prove what a step did and did not transfer.
package registrytest
