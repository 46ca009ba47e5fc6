// Package cluster runs a real, local Kubernetes control plane on 127.0.0.1
// for driftless's tests and demo: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler v1.34, and KWOK playing one
// node, so Deployments roll out, pods become Ready (or, labelled
// driftless.dev/test-unready: "true", never do), and claims bind to a pool
// of PersistentVolumes, all without a container runtime.
//
// Start builds nothing itself: it asks for the binaries by name (by
// default from scripts/tool, which builds them once from tools/cluster and
// caches them by version), generates a CA, certificates and a
// service-account key, starts the processes and waits until the cluster
// can run workloads. Requests are authorized with RBAC; the kubeconfig
// authenticates as a member of system:masters.
//
// Without WithDetach the processes die with the program that started them
// (each runs in its own process group with a parent-death signal) and Stop
// kills them and removes the temporary directory. scripts/cluster uses
// WithDetach and WithDir so the cluster outlives the command, and Open to
// find it again for status and stop. Tests use package clustertest, which
// starts one cluster per test binary and gives each test its own
// namespace.
package cluster
