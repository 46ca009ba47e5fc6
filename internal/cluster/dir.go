package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tempPrefix names the temporary directories of clusters started without
// WithDir.
const tempPrefix = "driftless-cluster-"

// ownerFile in a temporary cluster directory names the program that owns
// it: "PID START".
const ownerFile = "owner"

func claimTemp(dir string) error {
	pid := os.Getpid()
	start, err := startTime(pid)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%d %d\n", pid, start), 0o644)
}

// sweepTemp removes the temporary directories of clusters whose programs
// died without Stop (killed, or timed out): the processes died with them,
// but etcd's preallocated write-ahead log alone is 64 MB.
func sweepTemp() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not claimed yet, or not ours
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		start, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 != nil || err2 != nil || alive(pid, start) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// resetDir makes dir ready for a new cluster: it must be missing, empty,
// or hold a stopped cluster, whose files go.
func resetDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	s, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("refusing to use %q for a cluster: it is not empty and holds no %s", dir, stateFile)
	}
	if err != nil {
		return err
	}
	for _, p := range s.Processes {
		if alive(p.PID, p.Start) {
			return fmt.Errorf("a cluster is still running in %q (%s, pid %d); stop it first", dir, p.Name, p.PID)
		}
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing the stopped cluster in %q: %w", dir, err)
		}
	}
	return nil
}
