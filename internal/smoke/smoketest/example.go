package smoketest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/testtool"
)

// Options say which release the example reports.
type Options struct {
	// Version and GitSHA are what GET /version reports.
	Version, GitSHA string
	// Static is the static configuration directory; the example's own
	// (example/static) when empty.
	Static string
}

// Example is a running pssp-api.
type Example struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// Addr is 127.0.0.1:PORT.
	Addr string
}

// Start runs pssp-api on 127.0.0.1 until the test ends.
func Start(t testing.TB, o Options) *Example {
	t.Helper()
	bin := Binary(t)
	static := o.Static
	if static == "" {
		static = ExampleStatic(t)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PSSP_ADDR=127.0.0.1:0",
		"PSSP_STATIC_DIR=" + static,
		"PSSP_VERSION=" + o.Version,
		"PSSP_GIT_SHA=" + o.GitSHA,
		// Info: the "listening" line names the port. The log is shown
		// only when the test fails.
		"LOG_LEVEL=info",
		"HOME=" + t.TempDir(),
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	var (
		mu  sync.Mutex
		log bytes.Buffer
	)
	addr := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-drained
		cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("pssp-api log:\n%s", log.String())
			mu.Unlock()
		}
	})
	select {
	case a := <-addr:
		return &Example{URL: "http://" + a, Addr: a}
	case <-drained:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("pssp-api exited before it listened:\n%s", log.String())
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("pssp-api did not listen within 30s:\n%s", log.String())
	}
	return nil
}

var listening = regexp.MustCompile(`msg=listening .*addr=(127\.0\.0\.1:\d+)`)

// ExampleStatic is the example's static configuration directory.
func ExampleStatic(t testing.TB) string {
	t.Helper()
	return filepath.Join(testtool.Root(t), "example", "static")
}

// CopyStatic copies the example's static configuration to a temporary
// directory and appends a comment to plans.yaml, which keeps it valid and
// gives it another revision.
func CopyStatic(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "static")
	if err := os.CopyFS(dir, os.DirFS(ExampleStatic(t))); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "plans.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, "# changed by "+t.Name()+"\n"); err != nil {
		t.Fatal(err)
	}
	return dir
}

var built struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of pssp-api built from this repository: once
// per test process, into the user's cache directory (written under a
// temporary name and renamed, as test processes of several packages build
// it at the same time).
func Binary(t testing.TB) string {
	t.Helper()
	root := testtool.Root(t)
	built.once.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			built.err = err
			return
		}
		dir := filepath.Join(cache, "driftless", "smoketest")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			built.err = err
			return
		}
		tmp, err := os.CreateTemp(dir, "pssp-api-*")
		if err != nil {
			built.err = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		cmd := exec.Command("go", "build", "-o", tmp.Name(), "./example/cmd/pssp-api")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./example/cmd/pssp-api: %v\n%s", err, strings.TrimSpace(string(out)))
			return
		}
		built.path = filepath.Join(dir, "pssp-api")
		built.err = os.Rename(tmp.Name(), built.path)
	})
	if built.err != nil {
		t.Fatalf("smoketest: %v", built.err)
	}
	return built.path
}
