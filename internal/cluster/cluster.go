package cluster

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names the cluster gives things tests may refer to.
const (
	// NodeName is the fake node KWOK runs every pod on (RealNodeName is
	// the real node's).
	NodeName = "kwok-node"
	// StorageClass is the default StorageClass; the pool of
	// PersistentVolumes belongs to it.
	StorageClass = "standard"
	// UnreadyLabel on a pod, with the value "true", keeps it Running but
	// never Ready, so a Deployment whose pod template carries it never
	// becomes available.
	UnreadyLabel = "driftless.dev/test-unready"
	// VolumePoolLabel marks the pool's PersistentVolumes.
	VolumePoolLabel = "driftless.dev/volume-pool"
)

// Address ranges inside a cluster with KWOK's node; nothing listens on
// them. A real node's come from its slot (slotState).
const (
	serviceCIDR = "10.96.0.0/16"
	podCIDR     = "10.244.0.0/16"
)

// stages are the KWOK Stages that play the node, its pods and the volume
// recycler.
//
//go:embed stages/*.yaml
var stages embed.FS

// startTimeout bounds how long the processes may take to come up once
// their binaries are there.
const startTimeout = 2 * time.Minute

// Cluster is a running control plane.
type Cluster struct {
	dir        string
	removeDir  bool
	kubeconfig string
	config     *rest.Config
	// registry is the cluster's own registry's host:port, node its real
	// node; both only WithRealNode.
	registry string
	node     *nodeState

	mu    sync.Mutex
	procs []*process
}

// Start starts a control plane and returns once it runs workloads: the
// node is Ready and untainted, the default namespace has its
// ServiceAccount, and the scheduler is healthy. If ctx ends first, or a
// process exits, Start stops what it started and says why, with the end
// of the process's log.
func Start(ctx context.Context, opts ...Option) (_ *Cluster, err error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.detach && o.dir == "" {
		return nil, errors.New("starting a cluster: WithDetach needs WithDir, where Open finds it again")
	}
	if o.volumes < 0 {
		return nil, fmt.Errorf("starting a cluster: %d volumes; want 0 or more", o.volumes)
	}

	var host map[string]string
	names := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
	if o.realNode {
		if host, err = checkNodeHost(); err != nil {
			return nil, fmt.Errorf("starting a cluster: %w", err)
		}
		names = append(names[:4], "kubelet", "kube-proxy", "coredns", "nsrelay")
	}
	fmt.Fprintf(o.progress, "cluster: finding the binaries\n")
	bins := map[string]string{}
	for _, name := range names {
		if bins[name], err = o.binary(name); err != nil {
			return nil, fmt.Errorf("starting a cluster: %w", err)
		}
	}

	c := &Cluster{dir: o.dir}
	if c.dir == "" {
		sweepTemp()
		if c.dir, err = os.MkdirTemp("", tempPrefix); err != nil {
			return nil, fmt.Errorf("starting a cluster: %w", err)
		}
		c.removeDir = true
		if err := claimTemp(c.dir); err != nil {
			os.RemoveAll(c.dir)
			return nil, fmt.Errorf("starting a cluster: %w", err)
		}
	} else if err := resetDir(c.dir); err != nil {
		return nil, fmt.Errorf("starting a cluster: %w", err)
	}
	defer func() {
		if err != nil {
			// Keep the logs the error points at; sweepTemp removes a
			// temporary directory once this program has exited.
			c.removeDir = false
			err = errors.Join(fmt.Errorf("starting a cluster in %q: %w", c.dir, err), c.Stop())
		}
	}()
	for _, sub := range []string{"logs", "etcd", "volumes", "stages", "home"} {
		if err := os.MkdirAll(filepath.Join(c.dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	// The volumes' directories must be reachable by the pods' users.
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Join(c.dir, "volumes"), 0o755); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	state := state{Server: server}

	services, kubernetesIP := serviceCIDR, net.IPv4(10, 96, 0, 1)
	var slotLock *os.File
	if o.realNode {
		n, lock, err := claimSlot()
		if n == nil {
			return nil, err
		}
		slotLock = lock
		defer slotLock.Close() // the node's namespace holder keeps its own copy
		if err != nil {
			// Another slot's leftovers; this one is fine.
			fmt.Fprintf(o.progress, "cluster: %v\n", err)
		}
		if n.Sysctls, err = readSysctls(); err != nil {
			return nil, err
		}
		c.node = n
		state.Node = n
		// Recorded before anything of the node exists, so Stop finds it.
		if err := writeState(c.dir, state); err != nil {
			return nil, err
		}
		services, kubernetesIP = n.ServiceCIDR.String(), n.kubernetesIP().AsSlice()
	}

	p, err := newPKI(time.Now(), kubernetesIP, RealNodeName)
	if err != nil {
		return nil, err
	}
	if err := p.write(c.dir); err != nil {
		return nil, err
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := writeKubeconfig(c.kubeconfig, server, p.caCert, p.adminCert, p.adminKey, "driftless-admin"); err != nil {
		return nil, err
	}
	if c.config, err = clientcmd.BuildConfigFromFlags("", c.kubeconfig); err != nil {
		return nil, fmt.Errorf("reading %q: %w", c.kubeconfig, err)
	}
	// Tests create objects in bursts; client-go's default of 5 requests a
	// second would throttle them.
	c.config.QPS, c.config.Burst = 200, 400
	stageFiles, err := writeStages(filepath.Join(c.dir, "stages"))
	if err != nil {
		return nil, err
	}

	env := []string{"HOME=" + filepath.Join(c.dir, "home"), "PATH=/usr/local/bin:/usr/bin:/bin"}
	state.Kubeconfig = c.kubeconfig
	start := func(np nodeProcess, l launch) (*process, error) {
		fmt.Fprintf(o.progress, "cluster: starting %s\n", np.name)
		if np.env == nil {
			np.env = env
		}
		p, err := spawn(np.name, np.path, c.dir, np.args, np.env, o.detach, l)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.procs = append(c.procs, p)
		c.mu.Unlock()
		// Recorded at once, so scripts/cluster stop finds the processes
		// even if this program dies before the cluster is up.
		state.Processes = append(state.Processes, p.Process)
		return p, writeState(c.dir, state)
	}
	run := func(name string, args ...string) error {
		_, err := start(nodeProcess{name: name, path: bins[name], args: args}, launch{})
		return err
	}
	path := func(name string) string { return filepath.Join(c.dir, name) }
	etcd := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peer := "http://127.0.0.1:" + strconv.Itoa(peerPort)

	err = run("etcd",
		"--name=default",
		"--data-dir="+path("etcd"),
		"--listen-client-urls="+etcd,
		"--advertise-client-urls="+etcd,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=default="+peer,
		// Nothing here outlives the cluster; fsync only costs time.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "etcd to be healthy", func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, etcd+"/health")
	}); err != nil {
		return nil, err
	}

	err = run("kube-apiserver",
		"--etcd-servers="+etcd,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+path("pki"),
		"--tls-cert-file="+path(serverCertFile),
		"--tls-private-key-file="+path(serverKeyFile),
		"--client-ca-file="+path(caCertFile),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+path(saPubFile),
		"--service-account-signing-key-file="+path(saKeyFile),
		"--service-cluster-ip-range="+services,
		// The Node authorizer and NodeRestriction confine a kubelet to
		// its own node and pods, as on a real cluster.
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate="+path(kubeletClientCertFile),
		"--kubelet-client-key="+path(kubeletClientKeyFile),
		// The real node's kubelet listens on 127.0.0.1 only; its host
		// name (RealNodeName) resolves to that.
		"--kubelet-preferred-address-types=Hostname,InternalIP",
		// The kubernetes Service would point at 127.0.0.1, which
		// EndpointSlices refuse; nothing here needs it.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
	)
	if err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "kube-apiserver to be ready", c.Ready); err != nil {
		return nil, err
	}

	err = run("kube-controller-manager",
		"--kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+path("pki"),
		"--controllers=*",
		// Bind claims to the pool at once, not after the default 15s.
		"--pvclaimbinder-sync-period=1s",
		// Otherwise it creates /usr/libexec/kubernetes/kubelet-plugins.
		"--flex-volume-plugin-dir="+path("flexvolume"),
		"--service-account-private-key-file="+path(saKeyFile),
		"--root-ca-file="+path(caCertFile),
		"--cluster-signing-cert-file="+path(caCertFile),
		"--cluster-signing-key-file="+path(caKeyFile),
		// One instance; waiting for a lease only delays the start.
		"--leader-elect=false",
		"--profiling=false",
	)
	if err != nil {
		return nil, err
	}
	err = run("kube-scheduler",
		"--kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(schedPort),
		"--cert-dir="+path("pki"),
		"--leader-elect=false",
		"--profiling=false",
	)
	if err != nil {
		return nil, err
	}
	nodeName := NodeName
	if o.realNode {
		nodeName = RealNodeName
		c.registry = "127.0.0.1:" + strconv.Itoa(ports[5])
		state.Registry = c.registry
		cfg, err := c.registryConfig(ports[5])
		if err != nil {
			return nil, err
		}
		if _, err := start(nodeProcess{name: "registry", path: host["docker-registry"], args: []string{"serve", cfg}}, launch{}); err != nil {
			return nil, err
		}
		if err := c.waitFor(ctx, "the registry", func(ctx context.Context) error { return registryUp(ctx, c.registry) }); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.progress, "cluster: pushing the pause image to %s\n", c.registry)
		pause, err := pushPause(ctx, o.binary, c.registry)
		if err != nil {
			return nil, err
		}
		f := nodeFiles{c.dir}
		nodePorts := nodePorts{kubelet: ports[6], stream: ports[7]}
		if err := writeNodeFiles(f, c.node, host, pause, c.registry, server, p, nodePorts); err != nil {
			return nil, err
		}
		if err := c.createDNSRole(ctx); err != nil {
			return nil, err
		}
		progress := func(what string) { fmt.Fprintf(o.progress, "cluster: starting %s\n", what) }
		if err := c.startNode(ctx, c.node, slotLock, host, bins, server, start, progress); err != nil {
			return nil, err
		}
	} else {
		kwokArgs := []string{
			"--kubeconfig=" + c.kubeconfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + nodeAnnotation + "=fake",
			"--node-ip=127.0.0.1",
			// kwok's default of 40 only comes with a KwokConfiguration;
			// without a Lease the node lifecycle controller marks the node
			// Unknown and taints it every 50 seconds.
			"--node-lease-duration-seconds=40",
			"--cidr=" + podCIDR,
		}
		for _, f := range stageFiles {
			kwokArgs = append(kwokArgs, "--config="+f)
		}
		if err := run("kwok", kwokArgs...); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(o.progress, "cluster: creating the storage class and %d volumes\n", o.volumes)
	if err := c.createObjects(ctx, o.volumes, o.volumeSize, !o.realNode); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, schedPort, nodeName); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.progress, "cluster: ready at %s\n", server)
	return c, nil
}

// Open finds the cluster Start recorded in dir, running or not, so
// another program can ask about it or stop it. Its error wraps
// fs.ErrNotExist if no cluster was ever started there.
func Open(dir string) (*Cluster, error) {
	s, err := readState(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the cluster in %q: %w", dir, err)
	}
	c := &Cluster{dir: dir, kubeconfig: s.Kubeconfig, registry: s.Registry, node: s.Node}
	for _, p := range s.Processes {
		c.procs = append(c.procs, &process{Process: p})
	}
	if c.config, err = clientcmd.BuildConfigFromFlags("", c.kubeconfig); err != nil {
		return nil, fmt.Errorf("opening the cluster in %q: %w", dir, err)
	}
	c.config.QPS, c.config.Burst = 200, 400
	return c, nil
}

// Kubeconfig returns the path of a kubeconfig file for the cluster's
// admin (a member of system:masters), with its credentials inline.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RESTConfig returns a fresh copy of the admin's client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Dir returns the directory holding the cluster's files; the logs are in
// its logs/ subdirectory.
func (c *Cluster) Dir() string { return c.dir }

// Registry returns the host:port of the cluster's own registry on
// 127.0.0.1, which the real node pulls from, or "" without WithRealNode.
func (c *Cluster) Registry() string { return c.registry }

// NodeName returns the name of the cluster's node: RealNodeName
// WithRealNode, NodeName otherwise.
func (c *Cluster) NodeName() string {
	if c.node != nil {
		return RealNodeName
	}
	return NodeName
}

// NodeCgroup returns the cgroup (in every hierarchy, below its root) every
// process of the real node runs in, its containers too, or "" without
// WithRealNode.
func (c *Cluster) NodeCgroup() string {
	if c.node == nil {
		return ""
	}
	return c.node.Cgroup
}

// Processes returns the cluster's programs in the order they started.
func (c *Cluster) Processes() []Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []Process
	for _, p := range c.procs {
		ps = append(ps, p.Process)
	}
	return ps
}

// Running reports whether every program of the cluster is still running.
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.procs) > 0 && !slices.ContainsFunc(c.procs, func(p *process) bool { return p.exited() != nil })
}

// Ready asks the API server whether it is ready (/readyz).
func (c *Cluster) Ready(ctx context.Context) error {
	core, err := c.REST(corev1.SchemeGroupVersion)
	if err != nil {
		return err
	}
	if err := core.Get().AbsPath("/readyz").Do(ctx).Error(); err != nil {
		return fmt.Errorf("asking the API server at %s whether it is ready: %w", c.config.Host, err)
	}
	return nil
}

// REST returns a client of the admin for one API group version that
// decodes into the types of k8s.io/api, for example
//
//	apps, err := c.REST(appsv1.SchemeGroupVersion)
//	var d appsv1.Deployment
//	err = apps.Get().Namespace(ns).Resource("deployments").Name("web").Do(ctx).Into(&d)
//
// It needs less of client-go than kubernetes.NewForConfig, whose
// discovery client pulls in github.com/emicklei/go-restful/v3.
func (c *Cluster) REST(gv schema.GroupVersion) (*rest.RESTClient, error) {
	cfg := c.RESTConfig()
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("making a client for %s: %w", gv, err)
	}
	return rc, nil
}

// Stop kills every program of the cluster (their whole process groups),
// waits until they are gone, and removes the directory if Start made it.
// A real node goes first, with everything it made on the host: every
// process in its cgroup (the containers too), its namespaces and with
// them its mounts, links and iptables chains, then its cgroups; the
// kernel settings kubelet sets are checked and restored. Stopping a
// stopped cluster does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if c.node != nil {
		errs = append(errs, sweep(c.node), unmountUnder(c.dir))
	}
	for _, p := range slices.Backward(c.procs) {
		errs = append(errs, p.kill())
	}
	if c.removeDir {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing the cluster's directory: %w", err))
		}
		c.removeDir = false
	}
	return errors.Join(errs...)
}

// waitFor polls check until it succeeds, a process exits, or ctx ends.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		for _, p := range c.procs {
			if err := p.exited(); err != nil {
				c.mu.Unlock()
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		c.mu.Unlock()
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v); logs in %s", what, context.Cause(ctx), err, filepath.Join(c.dir, "logs"))
		case <-tick.C:
		}
	}
}

func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func writeKubeconfig(path, server string, caCert, cert, key []byte, user string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["driftless"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caCert}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts["driftless"] = &clientcmdapi.Context{Cluster: "driftless", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = "driftless"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing the kubeconfig %s: %w", path, err)
	}
	return nil
}

func writeStages(dir string) ([]string, error) {
	names, err := fs.Glob(stages, "stages/*.yaml")
	if err != nil {
		return nil, err
	}
	var files []string
	for _, name := range names {
		b, err := stages.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, fmt.Errorf("writing KWOK's stages: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}
