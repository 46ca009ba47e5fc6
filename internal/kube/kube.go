package kube

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Clients are what the steps need from a cluster.
type Clients struct {
	Config  *rest.Config
	Dynamic dynamic.Interface
	Kube    kubernetes.Interface
	Mapper  *restmapper.DeferredDiscoveryRESTMapper
}

// Rate limits for real clusters: client-go's defaults (5 QPS, burst 10)
// make a 500-object apply wait on the client, not the server. These are
// kubectl's; the API server's priority and fairness does the rest.
const (
	QPS   = 100
	Burst = 300
)

// Connect builds clients from a kubeconfig path, else the KUBECONFIG value
// given (a list, as kubectl reads it), else ~/.kube/config, else the
// in-cluster service account; context names the kubeconfig context.
// userAgent names the step to the API server (its audit log).
func Connect(kubeconfig, kubeconfigEnv, context, userAgent string) (*Clients, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.Precedence = nil
	switch {
	case kubeconfig != "":
		rules.ExplicitPath = kubeconfig
	case kubeconfigEnv != "":
		rules.Precedence = filepath.SplitList(kubeconfigEnv)
	default:
		rules.Precedence = []string{clientcmd.RecommendedHomeFile}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading cluster access (kubeconfig %q, context %q): %w", kubeconfig, context, err)
	}
	return NewClients(cfg, userAgent)
}

// NewClients builds clients for a REST config; userAgent names the step
// ("driftless-apply-env/v1.2.3"), or client-go's default when empty.
func NewClients(cfg *rest.Config, userAgent string) (*Clients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = QPS, Burst
	if userAgent != "" {
		cfg.UserAgent = userAgent
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{Config: cfg, Dynamic: dyn, Kube: kube, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}
