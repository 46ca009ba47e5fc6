package cluster

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/driftless-dev/driftless/internal/testtool"
)

// Option configures Start.
type Option func(*options)

type options struct {
	dir        string
	detach     bool
	binary     func(name string) (string, error)
	volumes    int
	volumeSize resource.Quantity
	progress   io.Writer
	realNode   bool
}

func defaultOptions() options {
	return options{
		binary:     buildTool,
		volumes:    20,
		volumeSize: resource.MustParse("10Gi"),
		progress:   io.Discard,
	}
}

// WithDir keeps the cluster's files (certificates, kubeconfig, etcd data,
// volumes, logs) in dir, which must be missing, empty, or the directory of
// an earlier cluster, whose files Start replaces. Stop leaves it in place
// so the logs can be read. Without WithDir Start uses a temporary
// directory that Stop removes.
func WithDir(dir string) Option {
	return func(o *options) { o.dir = dir }
}

// WithDetach lets the processes outlive the program that started them, in
// sessions of their own; Open(dir) finds them again and Stop ends them.
// It needs WithDir.
func WithDetach() Option {
	return func(o *options) { o.detach = true }
}

// WithBinaries sets how Start finds the programs it runs, by name: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, or,
// WithRealNode, kubelet, kube-proxy, coredns, pause and nsrelay instead of
// kwok.
// The default builds them with the scripts/tool of the repository around
// the working directory (testtool.Build), and pause and nsrelay with go
// build from internal/cluster/<name>.
func WithBinaries(find func(name string) (string, error)) Option {
	return func(o *options) { o.binary = find }
}

// WithVolumes sets the pool of hostPath PersistentVolumes claims bind to:
// n volumes of size each (default 20 of 10Gi).
func WithVolumes(n int, size resource.Quantity) Option {
	return func(o *options) { o.volumes, o.volumeSize = n, size }
}

// WithRealNode runs a real node instead of KWOK's simulated one: kubelet
// and kube-proxy v1.34 with Debian's containerd, runc and CNI plugins, in
// a mount and network namespace of its own, and a registry of the
// cluster's own (Registry) its pause image comes from. Pods run for real
// there; see the package documentation for what it needs and what it
// leaves behind (nothing).
func WithRealNode() Option {
	return func(o *options) { o.realNode = true }
}

// WithProgress writes a line to w for each step Start takes. By default
// Start is quiet.
func WithProgress(w io.Writer) Option {
	return func(o *options) { o.progress = w }
}

func buildTool(name string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", name, err)
	}
	root, err := testtool.FindRoot(wd)
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", name, err)
	}
	if name == "pause" || name == "nsrelay" {
		return buildOwn(root, name)
	}
	return testtool.Build(root, name)
}
