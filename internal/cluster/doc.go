// Package cluster runs a real, local Kubernetes cluster on 127.0.0.1 for
// driftless's tests and demo: etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler v1.34, and one node, either simulated by KWOK or real.
//
// Start builds nothing itself: it asks for the binaries by name (by
// default from scripts/tool, which builds them once from tools/cluster and
// caches them by version), generates a CA, certificates and a
// service-account key, starts the processes and waits until the cluster
// can run workloads. Requests are authorized with the Node authorizer and
// RBAC; the kubeconfig authenticates as a member of system:masters.
// Claims bind to a pool of hostPath PersistentVolumes of the default
// StorageClass.
//
// # KWOK's node or a real one
//
// By default KWOK plays the node: Deployments roll out and pods become
// Ready (or, labelled driftless.dev/test-unready: "true", never do; the
// Stages in stages/ say how) in a second, but nothing runs, and pods get
// 127.0.0.1 as their address. It costs no container runtime and no root.
//
// WithRealNode runs a real node instead, the way a kind or k3s node would:
// kubelet and kube-proxy v1.34 (built like the control plane) with
// Debian's containerd, runc and CNI plugins (scripts/deps installs them),
// a cluster DNS (CoreDNS with three plugins, tools/cluster/coredns), and a
// registry of the cluster's own (Debian's docker-registry) that the pause
// image, built from internal/cluster/pause, is pushed to. Images run by
// digest from any registry on 127.0.0.1 (PushProgram pushes a static
// program to the cluster's own). Images of public registries (docker.io,
// ghcr.io, ...) come from the cluster's registry too, never from the
// internet: PushStandIn serves one there built from a program of the host
// (the demo's redis:7.2.5 is Debian's redis-server). It needs root, and
// these choices keep it off the host:
//
//   - The node lives in a network namespace and a mount namespace of its
//     own, held by one process, and every process of it (containerd,
//     kubelet, kube-proxy, the container shims, the containers) in a
//     cgroup of its own, driftless-node<N>. The namespaces hold the CNI
//     bridge, the pods' links, kube-proxy's and kubelet's iptables
//     chains, containerd's state and every mount; kubelet's writes to the
//     kernel settings it wants (vm.overcommit_memory, kernel.panic, ...)
//     land in files mounted over them. Stop kills everything in the
//     cgroup, and with the last process the namespaces and all they hold
//     are gone; then it removes the cgroups and checks the settings. A
//     node whose program was killed leaves its containers running: the
//     next real node's start sweeps them up (clustertest also stops its
//     clusters on SIGINT and SIGTERM).
//   - containerd and kubelet run in the host's network namespace, so that
//     containerd pulls from registries on 127.0.0.1 and kubelet listens on
//     127.0.0.1 only (the API server reaches it as RealNodeName); the
//     bridge plugin and their iptables run in the node's namespace through
//     wrappers. kube-proxy and CoreDNS run inside it and reach the API
//     server through nsrelay; pods resolve names at the namespace's end of
//     the link.
//   - Each node takes a slot N of 64 (a lock in /run/driftless/nodes), so
//     several run at once: link dlnode<N> with 10.245.N.1 on the host (the
//     node's InternalIP) and 10.245.N.2 inside, pods in 10.244.N.0/24,
//     services in 10.96.N.0/24, both routed into the namespace. Pods reach
//     their bridge and, through kube-proxy, the service range; nothing is
//     masqueraded, and a pod can open no connection out of the namespace
//     (the host answers only connections it opened: the API server's
//     service proxy, kubelet's probes, a test dialling a Service's address).
//   - Ports are below 32768; containerd's CNI cache needs /var/lib/cni to
//     exist, and Start creates that empty directory if it is missing.
//
// Measured here (2 cores, TestRealNode and scripts/cluster status): the
// cluster with a Ready real node in 5-9 s (3-4 s with KWOK's), a
// 2-replica Deployment of a small program available 1.4-2.5 s after it is
// created, and about 250 MiB resident for the node's programs (registry
// 23, containerd 38, kubelet 81, kube-proxy 60, CoreDNS 40) where KWOK
// takes 65, plus some 30 MiB per small pod with its shim.
//
// Which tests use which: KWOK where a test needs a failure on cue or only
// the API objects and the pipeline's wiring (internal/apply, internal/kube,
// internal/smoke, the steps' tests, validate's scope checks, and e2e's act
// runs, which serve the image from the host): it is fast and deterministic.
// The real node where something must really run: this package's node
// tests, e2e's TestDataSurvivesReleases (the example's releases on Redis's
// volume, a crash-looping release rolled back) and the demo's cluster
// (scripts/cluster starts a real node by default; scripts/demo deploys the
// example to it and smoke-tests it through its Service).
//
// Without WithDetach the processes die with the program that started them
// (each runs in its own process group with a parent-death signal) and Stop
// kills them and removes the temporary directory. scripts/cluster uses
// WithDetach and WithDir so the cluster outlives the command, and Open to
// find it again for status and stop. Tests use package clustertest, which
// starts one cluster of each kind per test binary and gives each test its
// own namespace.
package cluster
