package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RealNodeName is the name the real node's kubelet registers as. The API
// server reaches a kubelet by the host name the node reports, and this
// one resolves to 127.0.0.1, the only address the kubelet listens on.
const RealNodeName = "localhost"

// The host programs a real node runs, from Debian's packages (scripts/deps
// installs them).
var nodeHostPrograms = []struct{ name, pkg string }{
	{"containerd", "containerd"},
	{"containerd-shim-runc-v2", "containerd"},
	{"runc", "runc"},
	{"iptables", "iptables"},
	{"iptables-save", "iptables"},
	{"iptables-restore", "iptables"},
	{"ip6tables", "iptables"},
	{"ip6tables-save", "iptables"},
	{"ip6tables-restore", "iptables"},
	{"ip", "iproute2"},
	{"nsenter", "util-linux"},
	{"unshare", "util-linux"},
	{"mount", "mount"},
	{"docker-registry", "docker-registry"},
}

// cniPlugins are the CNI plugins the node uses, from Debian's
// containernetworking-plugins.
var cniPlugins = []string{"bridge", "host-local", "loopback"}

const cniPluginDir = "/usr/lib/cni"

// nodeNetnsFile is where, inside the node's mount namespace, its network
// namespace is mounted for the programs that enter it (the bridge plugin
// and the iptables kubelet and kube-proxy run).
const nodeNetnsFile = "/run/driftless/net"

// publicRegistries are the registries whose images a pod may name; the
// node serves them from the cluster's own registry.
var publicRegistries = []string{"docker.io", "registry.k8s.io", "ghcr.io", "quay.io", "gcr.io", "mcr.microsoft.com", "public.ecr.aws"}

// dnsUser is the user CoreDNS authenticates as.
const dnsUser = "driftless:coredns"

// nodeProcess is a program of the real node.
type nodeProcess struct {
	name, path string
	args       []string
	env        []string
}

// checkNodeHost says what the host lacks to run a real node, all at once.
func checkNodeHost() (map[string]string, error) {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("a real node needs root (namespaces, cgroups, iptables)"))
	}
	paths := map[string]string{}
	var missing []string
	for _, p := range nodeHostPrograms {
		path, err := exec.LookPath(p.name)
		if err != nil {
			// Debian puts some in /usr/sbin, which a user's PATH may lack.
			for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
				if _, err := os.Stat(filepath.Join(dir, p.name)); err == nil {
					path = filepath.Join(dir, p.name)
					break
				}
			}
		}
		if path == "" {
			missing = append(missing, fmt.Sprintf("%s (package %s)", p.name, p.pkg))
			continue
		}
		paths[p.name] = path
	}
	for _, p := range cniPlugins {
		if _, err := os.Stat(filepath.Join(cniPluginDir, p)); err != nil {
			missing = append(missing, fmt.Sprintf("%s/%s (package containernetworking-plugins)", cniPluginDir, p))
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("a real node needs %s; scripts/deps installs them", strings.Join(missing, ", ")))
	}
	return paths, errors.Join(errs...)
}

// nodeFiles are the paths of the real node's files under the cluster's
// directory.
type nodeFiles struct{ dir string }

func (f nodeFiles) path(elem ...string) string {
	return filepath.Join(append([]string{f.dir, "node"}, elem...)...)
}
func (f nodeFiles) containerdSocket() string { return f.path("containerd.sock") }
func (f nodeFiles) hostsDir() string         { return f.path("containerd", "certs.d") }

// writeNodeFiles writes the configuration of containerd, the CNI network,
// the wrappers that run the bridge plugin and iptables inside the node's
// network namespace, kubelet, kube-proxy and their kubeconfigs.
func writeNodeFiles(f nodeFiles, n *nodeState, host map[string]string, sandboxImage, registry, server string, p *pki, ports nodePorts) error {
	if len(f.containerdSocket()) >= 108 {
		return fmt.Errorf("the cluster's directory %q is too long for containerd's socket path (%d bytes; a unix socket path has at most 107)", f.dir, len(f.containerdSocket()))
	}
	for _, d := range []string{"containerd", "cni/bin", "cni/net.d", "cni/ipam", "bin", "sysctl", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(f.path(d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{}

	files["containerd/config.toml"] = fmt.Sprintf(`# containerd of the local cluster's real node (package cluster). It runs
# in the node's mount namespace: /run there is its own tmpfs, so the
# runtime state and the shims' sockets (/run/containerd) go with the node.
version = 2
root = %[1]q
state = "/run/containerd"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = %[2]q

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[3]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  # Without CAP_SYS_RESOURCE (as in a sandbox) every pod sandbox fails
  # with "can't get final child's PID from pipe" otherwise.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = %[5]q
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = %[6]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[9]q
`, f.path("containerd", "root"), f.containerdSocket(), f.path("containerd", "opt"), sandboxImage,
		strconv.Itoa(ports.stream), host["runc"], f.path("cni", "bin"), f.path("cni", "net.d"), f.hostsDir())

	cni := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "driftless",
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      "driftless0",
			"isGateway":   true,
			"ipMasq":      false, // pods reach nothing outside the node
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": n.PodCIDR.String(), "gateway": n.gateway().String()}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": f.path("cni", "ipam"),
			},
		}},
	}
	b, err := json.MarshalIndent(cni, "", "  ")
	if err != nil {
		return err
	}
	files["cni/net.d/10-driftless.conflist"] = string(b) + "\n"

	// The bridge plugin makes the bridge and the pods' links in the
	// namespace it runs in: the node's, not the host's.
	files["cni/bin/bridge"] = fmt.Sprintf("#!/bin/sh\nexec %s --net=%s %s \"$@\"\n", host["nsenter"], nodeNetnsFile, filepath.Join(cniPluginDir, "bridge"))
	for _, p := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"} {
		// kubelet's and kube-proxy's chains go into the node's network
		// namespace, where the pods' traffic passes.
		files["bin/"+p] = fmt.Sprintf("#!/bin/sh\nexec %s --net=%s %s \"$@\"\n", host["nsenter"], nodeNetnsFile, host[p])
	}

	files["containerd/certs.d/"+registry+"/hosts.toml"] = fmt.Sprintf("# The cluster's own registry speaks plain HTTP.\nserver = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", registry, registry)
	for _, public := range publicRegistries {
		// There is no way out: an image of a public registry comes from
		// the cluster's registry (PushStandIn) or not at all, and no pull
		// ever leaves the machine.
		files["containerd/certs.d/"+public+"/hosts.toml"] = fmt.Sprintf("# %s's images come from the cluster's own registry: no pull leaves the machine.\nserver = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", public, registry, registry)
	}

	files["Corefile"] = fmt.Sprintf(`# The cluster DNS (CoreDNS, tools/cluster/coredns) in the node's network
# namespace, on all its addresses; kubelet gives pods %[1]s. It answers for
# cluster.local only: there is nothing to forward other names to.
.:53 {
    errors
    cache 5
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %[2]s driftless
        pods insecure
        ttl 5
        fallthrough in-addr.arpa ip6.arpa
    }
}
`, n.NodeIP, f.path("coredns.kubeconfig"))

	kubelet := map[string]any{
		"apiVersion":               "kubelet.config.k8s.io/v1beta1",
		"kind":                     "KubeletConfiguration",
		"address":                  "127.0.0.1",
		"port":                     ports.kubelet,
		"readOnlyPort":             0,
		"healthzPort":              0,
		"enableServer":             true,
		"authentication":           map[string]any{"anonymous": map[string]any{"enabled": false}, "webhook": map[string]any{"enabled": false}, "x509": map[string]any{"clientCAFile": filepath.Join(f.dir, caCertFile)}},
		"authorization":            map[string]any{"mode": "AlwaysAllow"},
		"cgroupDriver":             "cgroupfs",
		"cgroupRoot":               "/" + n.Cgroup,
		"failSwapOn":               false,
		"failCgroupV1":             false,
		"containerRuntimeEndpoint": "unix://" + f.containerdSocket(),
		"podLogsDir":               f.path("pod-logs"),
		"volumePluginDir":          f.path("kubelet", "volume-plugins"),
		"resolvConf":               "",
		"clusterDomain":            "cluster.local",
		"clusterDNS":               []string{n.NodeIP.String()},
		"serializeImagePulls":      false,
		// The host's disk is shared and may be nearly full; evicting the
		// tests' pods would only confuse them.
		"evictionHard":                map[string]string{"memory.available": "1Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%", "imagefs.available": "1%"},
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"shutdownGracePeriod":         "0s",
		"rotateCertificates":          false,
		"protectKernelDefaults":       false,
		"containerLogMaxSize":         "1Mi",
		"containerLogMaxFiles":        2,
		"nodeStatusUpdateFrequency":   "2s",
		"syncFrequency":               "10s",
	}
	if b, err = json.MarshalIndent(kubelet, "", "  "); err != nil {
		return err
	}
	files["kubelet.json"] = string(b) + "\n"

	proxy := map[string]any{
		"apiVersion":       "kubeproxy.config.k8s.io/v1alpha1",
		"kind":             "KubeProxyConfiguration",
		"mode":             "iptables",
		"clientConnection": map[string]any{"kubeconfig": f.path("kube-proxy.kubeconfig")},
		"hostnameOverride": RealNodeName,
		// In the node's network namespace, like all of kube-proxy.
		"healthzBindAddress": "127.0.0.1:10256",
		"metricsBindAddress": "127.0.0.1:10249",
		"oomScoreAdj":        0,
		"iptables":           map[string]any{"localhostNodePorts": false, "masqueradeAll": false, "minSyncPeriod": "0s", "syncPeriod": "30s"},
		// Zero leaves the host's conntrack settings alone.
		"conntrack":         map[string]any{"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
		"nodePortAddresses": []string{"primary"},
	}
	if b, err = json.MarshalIndent(proxy, "", "  "); err != nil {
		return err
	}
	files["kube-proxy.json"] = string(b) + "\n"

	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "bin/") || strings.HasPrefix(name, "cni/bin/") {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Dir(f.path(name)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.path(name), []byte(content), mode); err != nil {
			return fmt.Errorf("writing the node's configuration: %w", err)
		}
	}
	for _, p := range cniPlugins[1:] {
		if err := os.Symlink(filepath.Join(cniPluginDir, p), f.path("cni", "bin", p)); err != nil {
			return err
		}
	}
	for s, v := range n.Sysctls {
		if err := os.WriteFile(f.path("sysctl", strings.ReplaceAll(s, "/", ".")), []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	if err := writeKubeconfig(f.path("kubelet.kubeconfig"), server, p.caCert, p.nodeCert, p.nodeKey, "system:node:"+RealNodeName); err != nil {
		return err
	}
	if err := writeKubeconfig(f.path("coredns.kubeconfig"), "https://127.0.0.1:"+strconv.Itoa(relayPort), p.caCert, p.dnsCert, p.dnsKey, dnsUser); err != nil {
		return err
	}
	return writeKubeconfig(f.path("kube-proxy.kubeconfig"), "https://127.0.0.1:"+strconv.Itoa(relayPort), p.caCert, p.proxyCert, p.proxyKey, "system:kube-proxy")
}

// nodePorts are the ports on the host's 127.0.0.1 the node's programs
// listen on.
type nodePorts struct {
	kubelet, stream int
}

// relayPort is where, on 127.0.0.1 of the node's network namespace,
// nsrelay takes kube-proxy's connections to the API server.
const relayPort = 6443

// startNode starts the real node: a process holding the node's mount and
// network namespaces, the veth pair between them and the host, containerd,
// kubelet and kube-proxy, all in the node's cgroup.
func (c *Cluster) startNode(ctx context.Context, n *nodeState, lock *os.File, host, bins map[string]string, server string, run func(nodeProcess, launch) (*process, error), progress func(string)) error {
	f := nodeFiles{c.dir}
	procs, err := makeCgroup(n.Cgroup, "node")
	if err != nil {
		return err
	}
	var join strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&join, "echo $$ >%s || exit 1\n", shellQuote(p))
	}

	// The holder: a process that only keeps the namespaces (and the
	// slot's lock, descriptor 3) while the node runs.
	progress("the node's namespaces")
	holder, err := run(nodeProcess{name: "node-namespaces", path: host["unshare"], args: []string{"--mount", "--net", "--propagation", "slave", "--", "sleep", "infinity"}},
		launch{prefix: []string{"/bin/sh", "-c", join.String() + `exec "$@"`, "sh"}, files: []*os.File{lock}})
	if err != nil {
		return err
	}
	lock.Close() // the holder has it now
	self, _ := os.Readlink("/proc/self/ns/net")
	if err := c.waitFor(ctx, "the node's namespaces", func(context.Context) error {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", holder.PID))
		if err != nil || ns == self {
			return fmt.Errorf("pid %d is not in a network namespace of its own yet", holder.PID)
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", holder.PID))
		if filepath.Base(exe) != "sleep" {
			return fmt.Errorf("pid %d runs %s, not sleep yet", holder.PID, exe)
		}
		return nil
	}); err != nil {
		return err
	}
	pid := strconv.Itoa(holder.PID)

	sh := func(what, script string, ns ...string) error {
		args := append([]string{"--target", pid}, ns...)
		args = append(args, "--", "/bin/sh", "-euc", script)
		cmd := exec.CommandContext(ctx, host["nsenter"], args...)
		if len(ns) == 0 {
			cmd = exec.CommandContext(ctx, "/bin/sh", "-euc", script)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", what, err, out)
		}
		return nil
	}

	// The node's end of the link is eth0 of its namespace.
	err = sh("linking the host and the node's network namespace", fmt.Sprintf(`
ip link add %[1]s type veth peer name eth0 netns %[2]s
ip addr add %[3]s/30 dev %[1]s
`, n.HostLink, pid, n.HostIP))
	if err != nil {
		return err
	}

	if err := os.MkdirAll("/var/lib/cni", 0o755); err != nil {
		return fmt.Errorf("creating /var/lib/cni, where containerd's CNI library caches results: %w", err)
	}
	var mounts strings.Builder
	for _, s := range kubeletSysctls {
		fmt.Fprintf(&mounts, "mount --bind %s /proc/sys/%s\n", shellQuote(f.path("sysctl", strings.ReplaceAll(s, "/", "."))), s)
	}
	err = sh("setting up the node's namespaces", fmt.Sprintf(`
# /run, /var/log and /var/lib/cni of the node's programs are their own:
# containerd's state and shim sockets, the pods' network namespaces,
# kubelet's /var/log/containers, the CNI cache.
mount -t tmpfs -o mode=0755,size=256m driftless-node /run
mkdir -p /run/netns /run/driftless
: >%[1]s
mount --bind /proc/%[2]s/ns/net %[1]s
mount -t tmpfs -o mode=0755,size=256m driftless-node /var/log
mount -t tmpfs -o mode=0755,size=64m driftless-node /var/lib/cni
# kubelet's writes to these kernel settings land in files.
%[3]s
ip link set lo up
ip addr add %[4]s/30 dev eth0
ip link set eth0 up
echo 1 >/proc/sys/net/ipv4/ip_forward
if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables; fi
# Pods reach their bridge and, through kube-proxy's rules, the service
# range: nothing they start goes out towards the host.
iptables -w -t mangle -N DRIFTLESS-ISOLATE
iptables -w -t mangle -A DRIFTLESS-ISOLATE -o eth0 -m conntrack --ctstate NEW -m comment --comment "pods start no connection out of the node" -j DROP
iptables -w -t mangle -A FORWARD -j DRIFTLESS-ISOLATE
`, nodeNetnsFile, pid, mounts.String(), n.NodeIP), "--mount", "--net")
	if err != nil {
		return err
	}
	err = sh("routing the pod and service ranges into the node's network namespace", fmt.Sprintf(`
ip link set %[1]s up
ip route add %[2]s via %[3]s dev %[1]s
ip route add %[4]s via %[3]s dev %[1]s
`, n.HostLink, n.PodCIDR, n.NodeIP, n.ServiceCIDR))
	if err != nil {
		return err
	}

	// The node's programs run in its cgroup and mount namespace, and in
	// the host's network namespace: containerd pulls from registries on
	// the host's 127.0.0.1, and kubelet and kube-proxy reach the API
	// server there.
	nodeLaunch := launch{prefix: []string{"/bin/sh", "-c", join.String() + `exec ` + host["nsenter"] + ` --mount=/proc/` + pid + `/ns/mnt -- "$@"`, "sh"}}
	path := "PATH=" + f.path("bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	env := []string{"HOME=" + filepath.Join(c.dir, "home"), path}

	progress("containerd")
	if _, err := run(nodeProcess{name: "containerd", path: host["containerd"], args: []string{"--config", f.path("containerd", "config.toml")}, env: env}, nodeLaunch); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "containerd", func(ctx context.Context) error {
		conn, err := (&net.Dialer{}).DialContext(ctx, "unix", f.containerdSocket())
		if err != nil {
			return err
		}
		return conn.Close()
	}); err != nil {
		return err
	}

	progress("kubelet")
	_, err = run(nodeProcess{name: "kubelet", path: bins["kubelet"], env: env, args: []string{
		"--config=" + f.path("kubelet.json"),
		"--kubeconfig=" + f.path("kubelet.kubeconfig"),
		"--root-dir=" + f.path("kubelet"),
		"--cert-dir=" + f.path("kubelet", "pki"),
		"--node-ip=" + n.HostIP.String(),
		"--hostname-override=" + RealNodeName,
		// Lowering it needs CAP_SYS_RESOURCE.
		"--oom-score-adj=0",
	}}, nodeLaunch)
	if err != nil {
		return err
	}
	// kube-proxy runs in the node's network namespace: besides its
	// iptables rules it makes accounting objects (nfacct) the rules name,
	// and those must be in the same namespace. It reaches the API server
	// through nsrelay.
	progress("nsrelay")
	relay, err := run(nodeProcess{name: "nsrelay", path: bins["nsrelay"], env: env, args: []string{
		nodeNetnsFile, "127.0.0.1:" + strconv.Itoa(relayPort), strings.TrimPrefix(server, "https://"),
	}}, nodeLaunch)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "nsrelay", func(context.Context) error {
		if !strings.Contains(tail(relay.Log, 1), "relaying") {
			return errors.New("not listening yet")
		}
		return nil
	}); err != nil {
		return err
	}
	inNode := launch{prefix: []string{"/bin/sh", "-c", join.String() + `exec ` + host["nsenter"] + ` --mount=/proc/` + pid + `/ns/mnt --net=/proc/` + pid + `/ns/net -- "$@"`, "sh"}}
	progress("coredns")
	dns, err := run(nodeProcess{name: "coredns", path: bins["coredns"], env: env, args: []string{"-conf", f.path("Corefile")}}, inNode)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "CoreDNS", func(context.Context) error {
		if b, _ := os.ReadFile(dns.Log); !strings.Contains(string(b), "CoreDNS-") {
			return errors.New("not serving yet")
		}
		return nil
	}); err != nil {
		return err
	}
	progress("kube-proxy")
	if _, err = run(nodeProcess{name: "kube-proxy", path: bins["kube-proxy"], env: env, args: []string{
		"--config=" + f.path("kube-proxy.json"),
	}}, inNode); err != nil {
		return err
	}
	// Its first sync makes the chain the service range goes through.
	return c.waitFor(ctx, "kube-proxy's rules", func(ctx context.Context) error {
		return exec.CommandContext(ctx, host["nsenter"], "--net=/proc/"+pid+"/ns/net", "--", host["iptables"], "-w", "-t", "nat", "-S", "KUBE-SERVICES").Run()
	})
}

// pushPause builds the pause program and pushes it to the registry at
// host as driftless/pause, returning its reference by digest.
func pushPause(ctx context.Context, binary func(string) (string, error), host string) (string, error) {
	bin, err := binary("pause")
	if err != nil {
		return "", err
	}
	img, err := buildImage([]imageFile{{source: bin, target: "/pause"}}, v1.Config{Entrypoint: []string{"/pause"}, User: "65535:65535"})
	if err != nil {
		return "", fmt.Errorf("building the pause image: %w", err)
	}
	return push(ctx, img, host, "driftless/pause", "")
}

// buildOwn builds one of the node's own programs, internal/cluster/<name>
// of the repository at root (pause, nsrelay), into the cache (it takes a
// second once Go's build cache has it).
func buildOwn(root, name string) (string, error) {
	cache := os.Getenv("DRIFTLESS_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("building %s: %w", name, err)
		}
		cache = filepath.Join(dir, "driftless")
	}
	out := filepath.Join(cache, "bin", name+"-"+runtime.GOARCH)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./internal/cluster/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", name, err, out)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return out, nil
}

// registryConfig writes the configuration of the cluster's own registry
// (Debian's docker-registry) on 127.0.0.1:port, storing under the
// cluster's directory; the node's pause image and the tests' images go
// there.
func (c *Cluster) registryConfig(port int) (string, error) {
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog: {disabled: true}
storage:
  filesystem: {rootdirectory: %q}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:%d
`, filepath.Join(c.dir, "registry"), port)
	path := filepath.Join(c.dir, "registry.yml")
	return path, os.WriteFile(path, []byte(cfg), 0o644)
}

func registryUp(ctx context.Context, host string) error {
	return httpOK(ctx, &http.Client{Timeout: 2 * time.Second}, "http://"+host+"/v2/")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
