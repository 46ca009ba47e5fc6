package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one program of the control plane.
type Process struct {
	// Name is the program's name: etcd, kube-apiserver,
	// kube-controller-manager, kube-scheduler or kwok.
	Name string `json:"name"`
	// PID is its process ID; it leads a process group of its own.
	PID int `json:"pid"`
	// Path is the binary it runs.
	Path string `json:"path"`
	// Log is the file its output goes to.
	Log string `json:"log"`
	// Start is its start time in clock ticks after boot (/proc/PID/stat),
	// so a PID the kernel has given to another program since is never
	// mistaken for it.
	Start uint64 `json:"start"`
}

// process is a Process this program started (done is closed when it has
// exited and been reaped) or one Open found (done is nil).
type process struct {
	Process
	done chan struct{}
	err  error // why it exited, once done is closed
}

// launch says how spawn starts a program: through a launcher that execs
// it in the end (so the PID stays the program's), and with extra open
// files.
type launch struct {
	// prefix runs first, with the program's path and arguments after it.
	prefix []string
	// files are the child's descriptors 3, 4, ...
	files []*os.File
}

// spawn starts the program with its output appended to its log. Attached,
// it dies with this program's thread that started it (Pdeathsig; Go only
// ends threads whose goroutine locked them and exited, which nothing here
// does); detached, it gets a session of its own, away from this program's
// terminal. Either way it leads its own process group, which kill ends.
func spawn(name, path, dir string, args, env []string, detach bool, l launch) (*process, error) {
	log := filepath.Join(dir, "logs", name+".log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	defer f.Close() // the child has its own copy
	cmd := exec.Command(path, args...)
	if len(l.prefix) > 0 {
		cmd = exec.Command(l.prefix[0], append(append(l.prefix[1:len(l.prefix):len(l.prefix)], path), args...)...)
	}
	cmd.ExtraFiles = l.files
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{
		Process: Process{Name: name, PID: cmd.Process.Pid, Path: path, Log: log},
		done:    make(chan struct{}),
	}
	p.Start, _ = startTime(p.PID) // zero if it has already exited; alive then says no
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited says why the process is no longer running, or nil while it is.
func (p *process) exited() error {
	if p.done == nil {
		if alive(p.PID, p.Start) {
			return nil
		}
		return fmt.Errorf("%s (pid %d) is not running", p.Name, p.PID)
	}
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v; the end of %s:\n%s", p.Name, p.err, p.Log, tail(p.Log, 15))
	default:
		return nil
	}
}

// kill ends the process's group and waits until the process is gone.
func (p *process) kill() error {
	if p.done != nil {
		select {
		case <-p.done:
			return nil // reaped: its PID may belong to someone else now
		default:
		}
		if err := syscall.Kill(-p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stopping %s (pid %d): %w", p.Name, p.PID, err)
		}
		select {
		case <-p.done:
			return nil
		case <-time.After(10 * time.Second):
			return fmt.Errorf("stopping %s (pid %d): still running 10s after SIGKILL", p.Name, p.PID)
		}
	}
	if !alive(p.PID, p.Start) {
		return nil
	}
	if err := syscall.Kill(-p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping %s (pid %d): %w", p.Name, p.PID, err)
	}
	// Its parent (init, or whoever started it) reaps it.
	for deadline := time.Now().Add(10 * time.Second); alive(p.PID, p.Start); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("stopping %s (pid %d): still running 10s after SIGKILL", p.Name, p.PID)
		}
	}
	return nil
}

// alive says whether pid is still the process that started at start (and
// not a zombie waiting to be reaped).
func alive(pid int, start uint64) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	state, got, ok := parseStat(b)
	return ok && got == start && state != "Z" && state != "X"
}

func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, start, ok := parseStat(b)
	if !ok {
		return 0, fmt.Errorf("reading /proc/%d/stat: unexpected format", pid)
	}
	return start, nil
}

// parseStat returns the state (field 3) and start time (field 22) of a
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ")".
func parseStat(b []byte) (state string, start uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return f[0], start, err == nil
}

// Running reports whether the process is still running.
func (p Process) Running() bool { return alive(p.PID, p.Start) }

// RSS returns the resident set size of the process in bytes, or 0 if it
// is not running.
func (p Process) RSS() int64 {
	if !alive(p.PID, p.Start) {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// tail returns the last n lines of the file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\t" + strings.Join(lines, "\n\t")
}

// Ports are chosen below the kernel's ephemeral range (32768 and up by
// default), where an outgoing connection could take a port between its
// choice and the program binding it.
const (
	minPort = 10000
	maxPort = 32767
)

// freePorts returns n distinct free TCP ports on 127.0.0.1 below the
// ephemeral range, holding each until all are chosen so none is returned
// twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			return nil, fmt.Errorf("finding %d free ports between %d and %d: tried 1000", n, minPort, maxPort)
		}
		port := minPort + rand.IntN(maxPort-minPort+1)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken
		}
		defer l.Close()
		ports = append(ports, port)
	}
	return ports, nil
}

// stateFile records a cluster in its directory for Open.
const stateFile = "cluster.json"

type state struct {
	Server     string    `json:"server"`
	Kubeconfig string    `json:"kubeconfig"`
	Processes  []Process `json:"processes"`
	// Registry is the cluster's own registry, WithRealNode.
	Registry string `json:"registry,omitempty"`
	// Node is the real node's, if the cluster has one.
	Node *nodeState `json:"node,omitempty"`
}

func writeState(dir string, s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("recording the cluster: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("recording the cluster: %w", err)
	}
	return nil
}

func readState(dir string) (state, error) {
	var s state
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("reading %q: %w", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}
