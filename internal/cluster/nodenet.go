package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// nodeSlots is how many real nodes may run on one machine at once, each in
// a slot of its own: its own link, cgroup and address ranges.
const nodeSlots = 64

// nodeState is what Stop, here or in another program (Open), needs to
// find everything a real node made on the host, recorded in cluster.json
// before the node makes any of it.
type nodeState struct {
	// Slot numbers the node's names and address ranges on this machine.
	Slot int `json:"slot"`
	// HostLink is the host's end of the veth pair into the node's network
	// namespace.
	HostLink string `json:"hostLink"`
	// Cgroup is the cgroup, in every hierarchy, every process of the node
	// runs in (its programs, the container shims and the containers).
	Cgroup string `json:"cgroup"`
	// HostIP is HostLink's address, the node's InternalIP; NodeIP the
	// address of the namespace's end.
	HostIP netip.Addr `json:"hostIP"`
	NodeIP netip.Addr `json:"nodeIP"`
	// PodCIDR is the pods' range on the namespace's bridge, ServiceCIDR
	// the API server's service range; the host routes both into the
	// namespace.
	PodCIDR     netip.Prefix `json:"podCIDR"`
	ServiceCIDR netip.Prefix `json:"serviceCIDR"`
	// Sysctls are the host's values of the kernel settings kubelet sets,
	// as they were before the node started.
	Sysctls map[string]string `json:"sysctls"`
}

// slotState returns the names and address ranges of slot n: the host link
// dlnode<n> with 10.245.<n>.1/30 (and 10.245.<n>.2 in the namespace), pods
// in 10.244.<n>.0/24, services in 10.96.<n>.0/24.
func slotState(n int) *nodeState {
	b := byte(n)
	return &nodeState{
		Slot:        n,
		HostLink:    "dlnode" + strconv.Itoa(n),
		Cgroup:      "driftless-node" + strconv.Itoa(n),
		HostIP:      netip.AddrFrom4([4]byte{10, 245, b, 1}),
		NodeIP:      netip.AddrFrom4([4]byte{10, 245, b, 2}),
		PodCIDR:     netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, b, 0}), 24),
		ServiceCIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 96, b, 0}), 24),
	}
}

// linkPrefix is HostLink's subnet.
func (n *nodeState) linkPrefix() netip.Prefix {
	return netip.PrefixFrom(n.HostIP, 30).Masked()
}

// gateway is the pods' default gateway, the bridge's address.
func (n *nodeState) gateway() netip.Addr { return n.PodCIDR.Addr().Next() }

// kubernetesIP is the kubernetes Service's address, the first of the
// service range.
func (n *nodeState) kubernetesIP() netip.Addr { return n.ServiceCIDR.Addr().Next() }

// slotDir holds one lock file per slot. Whoever holds slot-<n>.lock (the
// node's namespace holder, which inherits the lock) owns slot n; a slot
// whose lock is free but which still has a link or cgroup was left by a
// node whose program was killed, and is swept before it is used again.
func slotDir() string {
	if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
		return "/run/driftless/nodes"
	}
	return filepath.Join(os.TempDir(), "driftless-nodes")
}

// claimSlot takes the first free slot whose address ranges no route of the
// host overlaps, sweeping every free slot that holds what a killed node
// left behind. The returned file holds the slot's lock; the node's
// namespace holder inherits it.
func claimSlot() (*nodeState, *os.File, error) {
	dir := slotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("claiming a node slot: %w", err)
	}
	routes, err := hostRoutes()
	if err != nil {
		return nil, nil, err
	}
	var (
		claimed *nodeState
		lock    *os.File
		errs    []error
		overlap []string
	)
	for i := range nodeSlots {
		n := slotState(i)
		if claimed != nil && !leftovers(n) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("slot-%d.lock", i)), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("claiming a node slot: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue // a running node's
			}
			return nil, nil, fmt.Errorf("claiming node slot %d: %w", i, err)
		}
		if leftovers(n) {
			if err := sweep(n); err != nil {
				errs = append(errs, fmt.Errorf("removing what a killed node left in slot %d: %w", i, err))
				f.Close()
				continue
			}
		}
		if claimed == nil {
			if r := overlapping(n, routes); r != "" {
				overlap = append(overlap, r)
			} else {
				claimed, lock = n, f
				continue
			}
		}
		f.Close()
	}
	if claimed == nil {
		errs = append(errs, fmt.Errorf("no free node slot of %d (locks in %s); host routes in the way: %v", nodeSlots, dir, overlap))
		return nil, nil, errors.Join(errs...)
	}
	return claimed, lock, errors.Join(errs...)
}

// hostRoutes lists the destinations of the host's IPv4 routes, in every
// table.
func hostRoutes() ([]netip.Prefix, error) {
	out, err := exec.Command("ip", "-json", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return nil, fmt.Errorf("listing the host's routes (ip route): %w%s", err, stderrOf(err))
	}
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return nil, fmt.Errorf("reading the host's routes: %w", err)
	}
	var ps []netip.Prefix
	for _, r := range routes {
		if r.Dst == "default" || r.Dst == "" {
			continue
		}
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, err := netip.ParseAddr(r.Dst)
			if err != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// overlapping names the first route that overlaps one of the node's ranges.
func overlapping(n *nodeState, routes []netip.Prefix) string {
	for _, r := range routes {
		for _, p := range []netip.Prefix{n.linkPrefix(), n.PodCIDR, n.ServiceCIDR} {
			if r.Overlaps(p) {
				return fmt.Sprintf("%s overlaps slot %d's %s", r, n.Slot, p)
			}
		}
	}
	return ""
}

func stderrOf(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(exit.Stderr) > 0 {
		return ": " + string(exit.Stderr)
	}
	return ""
}
