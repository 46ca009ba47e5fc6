// Package distribution starts Debian's docker-registry (CNCF Distribution)
// on 127.0.0.1 for integration tests, benchmarks and the demo.
package distribution

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Binary is the registry program Debian's docker-registry package installs.
const Binary = "docker-registry"

// Server is a running registry.
type Server struct {
	// Host is 127.0.0.1:<port>.
	Host string
	// Dir holds the configuration, the storage and the log.
	Dir string
	cmd *exec.Cmd
}

// Option changes how a registry is started.
type Option func(*options)

type options struct {
	addr   string
	detach bool
}

// WithAddr listens on addr (a loopback host:port) instead of a free port.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithDetach lets the registry outlive the process that started it (for
// scripts/registry); otherwise it dies with its parent.
func WithDetach() Option { return func(o *options) { o.detach = true } }

// Start runs a registry with its storage under dir on a free loopback port
// and waits until it answers.
func Start(ctx context.Context, dir string, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("starting a registry: %s is not installed (scripts/deps installs Debian's docker-registry): %w", Binary, err)
	}
	host := o.addr
	if host == "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		host = "127.0.0.1:" + strconv.Itoa(port)
	}
	if h, _, err := net.SplitHostPort(host); err != nil || (h != "127.0.0.1" && h != "localhost") {
		return nil, fmt.Errorf("registry address %q: only 127.0.0.1 or localhost with a port", host)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog: {disabled: true}
storage:
  filesystem: {rootdirectory: %q}
  delete: {enabled: true}
http:
  addr: %s
`, filepath.Join(dir, "data"), host)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if o.detach {
		cmd.SysProcAttr.Pdeathsig = 0
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{Host: host, Dir: dir, cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited }()
				return s, nil
			}
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			return nil, fmt.Errorf("registry exited: %v\n%s", err, log)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("registry did not answer on " + host + " within 15s")
		}
	}
}

// PID is the registry's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop kills the registry.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
