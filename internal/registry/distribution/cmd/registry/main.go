// Command registry starts and stops the local registry the demo pushes to:
// Debian's docker-registry on 127.0.0.1:5000 (or DRIFTLESS_REGISTRY_ADDR),
// storage and pid file under the directory given.
//
//	registry start|stop|status DIR
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/driftless-dev/driftless/internal/registry/distribution"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: registry start|stop|status DIR")
	}
	dir := args[1]
	addr := os.Getenv("DRIFTLESS_REGISTRY_ADDR")
	if addr == "" {
		addr = "127.0.0.1:5000"
	}
	pidFile := filepath.Join(dir, "registry.pid")
	pid := 0
	if b, err := os.ReadFile(pidFile); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	alive := pid > 0 && syscall.Kill(pid, 0) == nil && answers(addr)
	switch args[0] {
	case "start":
		if alive {
			fmt.Fprintf(os.Stderr, "registry: already running on %s (pid %d)\n", addr, pid)
			return nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		s, err := distribution.Start(context.Background(), dir, distribution.WithAddr(addr), distribution.WithDetach())
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "registry: running on %s (pid %d, data in %s)\n", s.Host, s.PID(), dir)
		return os.WriteFile(pidFile, []byte(strconv.Itoa(s.PID())), 0o644)
	case "stop":
		if alive {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		return os.Remove(pidFile)
	case "status":
		if !alive {
			return fmt.Errorf("not running on %s", addr)
		}
		fmt.Printf("registry on %s (pid %d)\n", addr, pid)
		return nil
	}
	return fmt.Errorf("unknown command %q: start, stop or status", args[0])
}

func answers(addr string) bool {
	resp, err := http.Get("http://" + addr + "/v2/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
