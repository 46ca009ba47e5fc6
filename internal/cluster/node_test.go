package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/driftless-dev/driftless/internal/cluster"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestRealNode starts a cluster with a real node, runs a real pod from an
// image pushed by digest to the cluster's registry behind a readiness
// probe, reads its log, reaches it through a Service (kube-proxy's rules)
// and through the API server's service proxy, checks what the pods can
// reach, and stops: nothing the node made may be left on the host
// (processes, mounts, links, iptables chains, cgroups, kernel settings).
// TestRealNodeInterrupted starts more on the same machine.
func TestRealNode(t *testing.T) {
	hello := buildProgram(t, "./internal/cluster/testdata/hello")
	before := snapshotHost(t)
	begin := time.Now()
	c, err := cluster.Start(t.Context(), cluster.WithRealNode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	t.Logf("cluster with a Ready real node in %.1fs", time.Since(begin).Seconds())
	logRSS(t, "after start", c)

	hostIP := runHello(t, c, hello)
	logRSS(t, "with two pods", c)

	procs := c.Processes()
	dir := c.Dir()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, p := range procs {
		if p.Running() {
			t.Errorf("%s (pid %d) still runs after Stop", p.Name, p.PID)
		}
	}
	if diff := before.diff(snapshotHost(t), slotOf(t, hostIP)); diff != "" {
		t.Errorf("the host changed from before Start to after Stop:\n%s", diff)
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes still mention %s after Stop: %s", dir, strings.Join(left, "; "))
	}
}

// runHello runs two pods of the hello program behind a Service, checks
// what they do and can reach, and returns the node's InternalIP.
func runHello(t *testing.T, c *cluster.Cluster, binary string) string {
	ctx := t.Context()
	image, err := c.PushProgram(ctx, "test/hello", binary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(image, "@sha256:") {
		t.Fatalf("image %s is not by digest", image)
	}
	core := client(t, c, corev1.SchemeGroupVersion)
	apps := client(t, c, appsv1.SchemeGroupVersion)
	ns := "hello"
	if err := core.Post().Resource("namespaces").Body(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}).Do(ctx).Error(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ServiceAccount/"+ns+"/default", func(ctx context.Context) error {
		return core.Get().Namespace(ns).Resource("serviceaccounts").Name("default").Do(ctx).Error()
	})

	labels := map[string]string{"app": "hello"}
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "hello",
					Image: image,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if err := core.Post().Namespace(ns).Resource("services").Body(svc).Do(ctx).Into(svc); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := apps.Post().Namespace(ns).Resource("deployments").Body(d).Do(ctx).Error(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "Deployment/"+ns+"/hello to be available", func(ctx context.Context) error {
		d = &appsv1.Deployment{}
		if err := apps.Get().Namespace(ns).Resource("deployments").Name("hello").Do(ctx).Into(d); err != nil {
			return err
		}
		if d.Status.AvailableReplicas != replicas || d.Status.UpdatedReplicas != replicas {
			return fmt.Errorf("%d of %d available", d.Status.AvailableReplicas, replicas)
		}
		return nil
	})
	t.Logf("2-replica Deployment available %.1fs after it was created", time.Since(begin).Seconds())

	var pods corev1.PodList
	err = core.Get().Namespace(ns).Resource("pods").
		VersionedParams(&metav1.ListOptions{LabelSelector: "app=hello"}, scheme.ParameterCodec).
		Do(ctx).Into(&pods)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.Spec.NodeName != cluster.RealNodeName || !podReady(p) || p.Status.PodIP == "" {
			t.Errorf("Pod/%s/%s on %q, ready %t, IP %q", ns, p.Name, p.Spec.NodeName, podReady(p), p.Status.PodIP)
		}
		names = append(names, p.Name)
		// The image that runs is the one pushed, by digest.
		if got := p.Status.ContainerStatuses[0].ImageID; !strings.HasSuffix(image, got[strings.LastIndex(got, "@"):]) {
			t.Errorf("Pod/%s/%s runs %s, want %s", ns, p.Name, got, image)
		}
	}

	logs := func(pod string) string {
		b, err := core.Get().Namespace(ns).Resource("pods").Name(pod).SubResource("log").Do(ctx).Raw()
		if err != nil {
			t.Fatalf("reading the log of Pod/%s/%s: %v", ns, pod, err)
		}
		return string(b)
	}
	for _, name := range names {
		if l := logs(name); !strings.Contains(l, "hello: serving on :8080 as "+name) {
			t.Errorf("the log of Pod/%s/%s is %q, want the line the program prints first", ns, name, l)
		}
	}

	// From the host to the Service's address: the host routes the service
	// range into the node's network namespace, where kube-proxy's rules
	// send it to a pod.
	httpc := &http.Client{Timeout: 5 * time.Second}
	eventually(t, 30*time.Second, "Service/"+ns+"/hello at "+svc.Spec.ClusterIP, func(ctx context.Context) error {
		body, err := get(ctx, httpc, "http://"+net.JoinHostPort(svc.Spec.ClusterIP, "80")+"/")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(body, "hello from hello-") {
			return fmt.Errorf("answered %q", body)
		}
		return nil
	})
	// Through the API server's service proxy, to a pod's address.
	body, err := core.Get().AbsPath("/api/v1/namespaces", ns, "services", "hello:http", "proxy/").Do(ctx).Raw()
	if err != nil || !strings.HasPrefix(string(body), "hello from hello-") {
		t.Errorf("through the API server's service proxy: %q, %v", body, err)
	}
	// No masquerading: the pods see the host's own address on the link.
	var node corev1.Node
	if err := core.Get().Resource("nodes").Name(cluster.RealNodeName).Do(ctx).Into(&node); err != nil {
		t.Fatal(err)
	}
	var hostIP string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			hostIP = a.Address
		}
	}
	var served int
	for _, name := range names {
		served += strings.Count(logs(name), "hello: GET / from "+hostIP+":")
	}
	if served < 2 {
		t.Errorf("the pods logged %d requests from %s, want at least 2", served, hostIP)
	}

	// What a pod can reach: the service range, by address or by name, not
	// the host. A listener on the host's end of the link stands for
	// anything on the host.
	l := listenLow(t, hostIP)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct {
		addr, want string
	}{
		{net.JoinHostPort(svc.Spec.ClusterIP, "80"), "connected"},
		// The cluster DNS, with the pod's search path.
		{"hello:80", "connected"},
		{"hello." + ns + ".svc.cluster.local:80", "connected"},
		{l.Addr().String(), "i/o timeout"},
		{net.JoinHostPort(hostIP, "22"), "i/o timeout"},
	} {
		body, err := core.Get().AbsPath("/api/v1/namespaces", ns, "services", "hello:http", "proxy/dial").Param("addr", tc.addr).Do(ctx).Raw()
		if err != nil || !strings.Contains(string(body), tc.want) {
			t.Errorf("a pod dialling %s: %q, %v; want %q", tc.addr, body, err, tc.want)
		}
	}
	return hostIP
}

// TestRealNodeInterrupted runs a real node with a pod in a test binary of
// its own (TestRealNodeHelper) and ends that binary. Interrupted, it stops
// the node first and leaves nothing behind; killed, it cannot, and the
// pod's processes live on, until the next real node's start sweeps them
// up with the rest.
func TestRealNodeInterrupted(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			before := snapshotHost(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestRealNodeHelper$", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			var hostIP string
			var lines []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if ip, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "helper: ready on "); ok {
					hostIP = ip
					break
				}
			}
			if hostIP == "" {
				cmd.Wait()
				t.Fatalf("the helper ended before its pod ran:\n%s\n%s", strings.Join(lines, "\n"), stderr.String())
			}
			go io.Copy(io.Discard, out)
			slot := slotOf(t, hostIP)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			pids := slotPIDs(slot)
			if sig == syscall.SIGKILL {
				// The shims and the containers are no children of the
				// test binary: they outlive it.
				if len(pids) == 0 {
					t.Fatalf("no process left in slot %d's cgroup after SIGKILL; the test proves nothing", slot)
				}
				t.Logf("after SIGKILL, %d processes live on in slot %d's cgroup", len(pids), slot)
				c, err := cluster.Start(t.Context(), cluster.WithRealNode())
				if err != nil {
					t.Fatal(err)
				}
				for _, pid := range pids {
					if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
						comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
						t.Errorf("pid %d (%s) of the killed node still runs after the next node started", pid, strings.TrimSpace(string(comm)))
					}
				}
				if err := c.Stop(); err != nil {
					t.Fatal(err)
				}
			} else if len(pids) > 0 {
				t.Errorf("%d processes left in slot %d's cgroup after %v", len(pids), slot, sig)
			}
			if diff := before.diff(snapshotHost(t), slot); diff != "" {
				t.Errorf("the host changed:\n%s", diff)
			}
		})
	}
}

const helperEnv = "DRIFTLESS_REAL_NODE_HELPER"

// TestRealNodeHelper is the test binary TestRealNodeInterrupted ends: it
// runs a pod on a real node, says so, and waits.
func TestRealNodeHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("TestRealNodeInterrupted runs it")
	}
	c := clustertest.SharedNode(t)
	image := clustertest.GoImage(t, c, "./internal/cluster/testdata/hello")
	core := client(t, c, corev1.SchemeGroupVersion)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: image}}},
	}
	if err := core.Post().Namespace("default").Resource("pods").Body(pod).Do(t.Context()).Error(); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "Pod/default/hello to run", func(ctx context.Context) error {
		pod = &corev1.Pod{}
		if err := core.Get().Namespace("default").Resource("pods").Name("hello").Do(ctx).Into(pod); err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", pod.Status.Phase)
		}
		return nil
	})
	fmt.Printf("helper: ready on %s\n", pod.Status.HostIP)
	time.Sleep(time.Hour)
}

// slotOf returns the node slot whose host address is hostIP (10.245.N.1).
func slotOf(t *testing.T, hostIP string) int {
	var a, b, n, d int
	if _, err := fmt.Sscanf(hostIP, "%d.%d.%d.%d", &a, &b, &n, &d); err != nil {
		t.Fatalf("node address %q: %v", hostIP, err)
	}
	return n
}

// slotPIDs lists the processes in the cgroup of the node in slot n.
func slotPIDs(n int) []int {
	return cgroupPIDs(fmt.Sprintf("driftless-node%d", n))
}

// listenLow listens on a port of host below the ephemeral range.
func listenLow(t *testing.T, host string) net.Listener {
	t.Helper()
	for port := 20000 + rand.IntN(10000); ; port++ {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			t.Cleanup(func() { l.Close() })
			return l
		}
		if port > 32000 {
			t.Fatal(err)
		}
	}
}

// buildProgram builds the Go program pkg of the repository, static, and
// returns its path.
func buildProgram(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = testtool.Root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	return out
}

func get(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), err
}

// logRSS logs the resident memory of the control plane's programs and of
// everything in the node's cgroup (its programs, the shims, the pods).
func logRSS(t *testing.T, when string, c *cluster.Cluster) {
	var control, node int64
	for _, p := range c.Processes() {
		switch p.Name {
		case "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler":
			control += p.RSS()
		}
	}
	for _, pid := range cgroupPIDs(c.NodeCgroup()) {
		node += rss(pid)
	}
	t.Logf("%s: control plane %d MiB resident, the node (registry, containerd, kubelet, kube-proxy, shims, pods) %d MiB",
		when, control>>20, (node+registryRSS(c))>>20)
}

func registryRSS(c *cluster.Cluster) int64 {
	for _, p := range c.Processes() {
		if p.Name == "registry" {
			return p.RSS()
		}
	}
	return 0
}

// cgroupPIDs lists the processes in a cgroup and below (of the pids
// hierarchy with cgroup v1).
func cgroupPIDs(name string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/sys/fs/cgroup/pids/" + name)
	if len(dirs) == 0 {
		dirs, _ = filepath.Glob("/sys/fs/cgroup/" + name)
	}
	for _, d := range dirs {
		filepath.WalkDir(d, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(b)) {
				var pid int
				fmt.Sscan(f, &pid)
				pids = append(pids, pid)
			}
			return nil
		})
	}
	return pids
}

func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(v), &kb)
			return kb << 10
		}
	}
	return 0
}

// host is what a node could leave behind on the host.
type host struct {
	links, chains, cgroups, mounts, sysctls []string
}

func snapshotHost(t *testing.T) host {
	t.Helper()
	var h host
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		h.links = append(h.links, i.Name)
	}
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(save).Output()
		if err != nil {
			t.Fatalf("%s: %v", save, err)
		}
		table := ""
		for line := range strings.Lines(string(out)) {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "*"):
				table = line[1:]
			case strings.HasPrefix(line, ":"):
				h.chains = append(h.chains, save+" "+table+" "+strings.Fields(line)[0])
			case strings.HasPrefix(line, "-A"):
				h.chains = append(h.chains, save+" "+table+" "+line)
			}
		}
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/driftless-node*")
	cg2, _ := filepath.Glob("/sys/fs/cgroup/driftless-node*")
	h.cgroups = append(cg, cg2...)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mi)) {
		f := strings.Fields(line)
		h.mounts = append(h.mounts, f[4]+" "+f[len(f)-2])
	}
	for _, s := range []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
		"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet",
		"net/bridge/bridge-nf-call-iptables", "net/netfilter/nf_conntrack_max"} {
		b, _ := os.ReadFile("/proc/sys/" + s)
		h.sysctls = append(h.sysctls, s+"="+strings.TrimSpace(string(b)))
	}
	return h
}

// diff says what after has that h has not, and what changed, leaving out
// the links and cgroups of the nodes in other slots than slot, which other
// test binaries may be starting and stopping meanwhile.
func (h host) diff(after host, slot int) string {
	other := func(x string) bool {
		for _, prefix := range []string{"dlnode", "driftless-node"} {
			if i := strings.Index(x, prefix); i >= 0 {
				rest := x[i+len(prefix):]
				if j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
					rest = rest[:j]
				}
				return rest != strconv.Itoa(slot)
			}
		}
		return false
	}
	var b strings.Builder
	for _, d := range []struct {
		what          string
		before, after []string
	}{
		{"links", h.links, after.links},
		{"iptables chains and rules", h.chains, after.chains},
		{"cgroups", h.cgroups, after.cgroups},
		{"mounts", h.mounts, after.mounts},
		{"kernel settings", h.sysctls, after.sysctls},
	} {
		for _, x := range d.after {
			if !slices.Contains(d.before, x) && !other(x) {
				fmt.Fprintf(&b, "\t%s: +%s\n", d.what, x)
			}
		}
		for _, x := range d.before {
			if !slices.Contains(d.after, x) && !other(x) {
				fmt.Fprintf(&b, "\t%s: -%s\n", d.what, x)
			}
		}
	}
	return b.String()
}

// processesMentioning lists the processes whose command line names dir.
func processesMentioning(t *testing.T, dir string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
	}
	return found
}
