package kube

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

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
	// Where names the cluster for messages: the kubeconfig context (or
	// the in-cluster service account) and the API server's address.
	Where string
}

// QPS is the client-side rate limit: none. client-go's default (5 QPS,
// burst 10), and even 100 QPS, make a 500-object apply wait on the client
// rather than the server: apply-env sends each object twice (the dry run,
// then the apply) and reads health. At 100 QPS a first apply of 500
// objects spent 7.3 s before it waited for health; without the limit,
// 3.1 s (an idle 2-core machine). What bounds the load instead: the steps'
// own concurrency (apply.DefaultWorkers requests in flight) and the API
// server's priority and fairness (GA since Kubernetes 1.29), whose 429s
// with Retry-After client-go waits out and retries.
const QPS = -1

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
	if clientcmd.IsEmptyConfig(err) {
		looked := rules.ExplicitPath
		if looked == "" {
			looked = strings.Join(rules.Precedence, string(filepath.ListSeparator))
		}
		return nil, fmt.Errorf("no cluster access: no kubeconfig at %s, and not running inside a cluster: pass kubeconfig, set KUBECONFIG, or run the cloud's login step (it writes one) before this step", looked)
	}
	if err != nil {
		return nil, fmt.Errorf("loading cluster access (kubeconfig %q, context %q): %w", kubeconfig, context, err)
	}
	c, err := NewClients(cfg, userAgent)
	if err != nil {
		return nil, err
	}
	c.Where = "the in-cluster service account's API server " + cfg.Host
	if raw, err := cc.RawConfig(); err == nil && len(raw.Contexts) > 0 {
		name := context
		if name == "" {
			name = raw.CurrentContext
		}
		c.Where = fmt.Sprintf("context %q at %s", name, cfg.Host)
	}
	return c, nil
}

// Check asks the API server for its version, so that a cluster that
// cannot be reached, or refuses the credentials, is reported once, naming
// the context and server, before a step does anything else.
func (c *Clients) Check(ctx context.Context) error {
	err := c.Kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
	switch {
	case err == nil:
		return nil
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster (%s) refused the credentials (401 Unauthorized): log in again — a cloud login step, or the kubeconfig's exec plugin, gives fresh ones: %w", c.Where, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("the cluster (%s) forbids these credentials even its version (403): %w", c.Where, err)
	}
	return fmt.Errorf("cannot reach the cluster (%s): %w", c.Where, err)
}

// NewClients builds clients for a REST config; userAgent names the step
// ("driftless-apply-env/v1.2.3"), or client-go's default when empty.
func NewClients(cfg *rest.Config, userAgent string) (*Clients, error) {
	where := "the API server at " + cfg.Host
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = QPS
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
	return &Clients{Config: cfg, Dynamic: dyn, Kube: kube, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), Where: where}, nil
}
