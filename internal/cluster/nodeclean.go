package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The kernel settings kubelet sets on start (container_manager_linux.go's
// setupKernelTunables), as paths under /proc/sys. The node's mount
// namespace puts files over them, so kubelet's writes never reach the
// host's kernel; Stop checks they did not, and restores them if they did.
var kubeletSysctls = []string{
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
}

func readSysctls() (map[string]string, error) {
	m := map[string]string{}
	for _, s := range kubeletSysctls {
		b, err := os.ReadFile("/proc/sys/" + s)
		if err != nil {
			return nil, fmt.Errorf("reading the kernel setting %s: %w", s, err)
		}
		m[s] = strings.TrimSpace(string(b))
	}
	return m, nil
}

// leftovers says whether a killed node left anything in slot n.
func leftovers(n *nodeState) bool {
	if _, err := net.InterfaceByName(n.HostLink); err == nil {
		return true
	}
	roots, _ := cgroupRoots()
	for _, r := range roots {
		if _, err := os.Stat(filepath.Join(r, n.Cgroup)); err == nil {
			return true
		}
	}
	return false
}

// sweep removes what a node made on the host: it kills every process in
// the node's cgroup (its programs, the container shims, the containers);
// with the last of them the node's mount and network namespaces go, and
// with those every mount, the bridge, the pods' links, the iptables chains
// kubelet and kube-proxy made and the host's end of the veth pair (and so
// its routes). Then it removes the cgroups. The host's kernel settings are
// checked against sysctls (nil: not known) and restored.
func sweep(n *nodeState) error {
	var errs []error
	if err := killCgroup(n.Cgroup, 20*time.Second); err != nil {
		errs = append(errs, err)
	}
	// The kernel tears a network namespace down in the background.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := net.InterfaceByName(n.HostLink); err != nil {
			break
		}
		if time.Now().After(deadline) {
			if out, err := exec.Command("ip", "link", "delete", n.HostLink).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("deleting the link %s: %v: %s", n.HostLink, err, out))
			}
			break
		}
	}
	if err := removeCgroup(n.Cgroup); err != nil {
		errs = append(errs, err)
	}
	for s, want := range n.Sysctls {
		b, err := os.ReadFile("/proc/sys/" + s)
		if err != nil || strings.TrimSpace(string(b)) == want {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+s, []byte(want+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring the kernel setting %s to %s: %w", s, want, err))
		}
	}
	return errors.Join(errs...)
}

// cgroupRoots returns the mount points of the host's cgroup hierarchies:
// one per controller (or set of them, or name=) with cgroup v1, one with
// v2.
func cgroupRoots() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var roots []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint options... - fstype source super-options
		fields := strings.Fields(sc.Text())
		i := slices.Index(fields, "-")
		if i < 0 || i+1 >= len(fields) || len(fields) < 5 {
			continue
		}
		if fstype := fields[i+1]; fstype == "cgroup" || fstype == "cgroup2" {
			roots = append(roots, unescapeMount(fields[4]))
		}
	}
	return roots, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// makeCgroup creates the cgroup name/sub in every hierarchy and returns
// the cgroup.procs files a process writes its PID to to join it. A cpuset
// cgroup of v1 takes no process until it has CPUs and memory nodes, so
// they are copied from the hierarchy's root.
func makeCgroup(name, sub string) ([]string, error) {
	roots, err := cgroupRoots()
	if err != nil || len(roots) == 0 {
		return nil, fmt.Errorf("finding the cgroup hierarchies in /proc/self/mountinfo: %v", err)
	}
	var procs []string
	for _, r := range roots {
		top, leaf := filepath.Join(r, name), filepath.Join(r, name, sub)
		if err := os.MkdirAll(leaf, 0o755); err != nil {
			return nil, fmt.Errorf("creating the cgroup %s: %w", leaf, err)
		}
		if _, err := os.Stat(filepath.Join(r, "cpuset.cpus")); err == nil {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(r, f))
				if err != nil {
					return nil, err
				}
				for _, d := range []string{top, leaf} {
					if err := os.WriteFile(filepath.Join(d, f), v, 0o644); err != nil {
						return nil, fmt.Errorf("setting %s of %s: %w", f, d, err)
					}
				}
			}
		}
		if b, err := os.ReadFile(filepath.Join(r, "cgroup.controllers")); err == nil {
			// cgroup v2: kubelet needs the controllers below the node's
			// cgroup, which only its parent can hand down.
			var enable []string
			for _, c := range strings.Fields(string(b)) {
				enable = append(enable, "+"+c)
			}
			for _, d := range []string{r, top} {
				if len(enable) == 0 {
					break
				}
				if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0o644); err != nil {
					return nil, fmt.Errorf("enabling the controllers of %s: %w", d, err)
				}
			}
		}
		procs = append(procs, filepath.Join(leaf, "cgroup.procs"))
	}
	return procs, nil
}

// cgroupPIDs lists the processes in the cgroup name and below, in every
// hierarchy.
func cgroupPIDs(name string) ([]int, error) {
	roots, err := cgroupRoots()
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var pids []int
	for _, r := range roots {
		top := filepath.Join(r, name)
		err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			if err != nil {
				return nil // gone meanwhile
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return pids, nil
}

// killCgroup kills every process in the cgroup name until none is left
// (one may fork while the others die).
func killCgroup(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids, err := cgroupPIDs(name)
		if err != nil {
			return fmt.Errorf("listing the processes of the cgroup %s: %w", name, err)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var names []string
			for _, pid := range pids {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				names = append(names, fmt.Sprintf("%d (%s)", pid, strings.TrimSpace(string(comm))))
			}
			return fmt.Errorf("killing the processes of the cgroup %s: still there %s later: %s", name, timeout, strings.Join(names, ", "))
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeCgroup removes the cgroup name and every cgroup below it, in every
// hierarchy. Its processes must be gone.
func removeCgroup(name string) error {
	roots, err := cgroupRoots()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range roots {
		var dirs []string
		filepath.WalkDir(filepath.Join(r, name), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		// Deepest first.
		for _, d := range slices.Backward(dirs) {
			var err error
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				// A dead process stays a member until the kernel has
				// finished with it: EBUSY for a moment.
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) || !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
					break
				}
			}
			if err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("removing the cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// unmountUnder lazily unmounts whatever the host has mounted at dir or
// below it, deepest first: nothing, unless a node process escaped its
// mount namespace.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if p := unescapeMount(fields[4]); p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	f.Close()
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
