package actions_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/testtool"
)

// releaseStep returns the script of the named step of
// .github/workflows/release.yml.
func releaseStep(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testtool.Root(t), ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct{ Name, Run string }
		}
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	for _, s := range wf.Jobs["release"].Steps {
		if s.Name == name {
			return s.Run
		}
	}
	t.Fatalf("release.yml has no step %q", name)
	return ""
}

// runStep runs a workflow step's script in dir as the runner runs a step
// without a shell: (bash -e).
func runStep(t *testing.T, script, dir string, env ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "step.sh")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-e", file)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, script, out)
	}
	return string(out)
}

// TestReleaseArchivesInstall runs release.yml's Binaries step — with a go
// that writes, for each binary, a script answering --version as the
// stamped binary would — and installs what it publishes on each platform:
// the names, the layout and checksums.txt are the ones install.sh expects.
func TestReleaseArchivesInstall(t *testing.T) {
	t.Parallel()
	fakeGo := t.TempDir()
	goScript := `#!/bin/sh
# go build … -ldflags "… version=TAG" -o DIR/ ./cmd/...
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift ;;
    *version=*) version=${1##*version=} ;;
  esac
  shift
done
mkdir -p "$out" # go build -o DIR/ makes DIR
for s in ` + strings.Join(steps, " ") + `; do
  printf '#!/bin/sh\n# %s/%s\necho "%s %s"\n' "$GOOS" "$GOARCH" "$s" "$version" >"$out/$s"
  chmod +x "$out/$s"
done
`
	if err := os.WriteFile(filepath.Join(fakeGo, "go"), []byte(goScript), 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	runStep(t, releaseStep(t, "Binaries"), work, "TAG=v1.4.0", "PATH="+fakeGo+":"+os.Getenv("PATH"))

	dist := filepath.Join(work, "dist")
	assets := map[string]string{}
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			assets["v1.4.0/"+e.Name()] = filepath.Join(dist, e.Name())
		}
	}
	sums, _ := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if n := strings.Count(string(sums), "\n"); n != len(platforms) || len(assets) != len(platforms)+1 {
		t.Fatalf("release.yml publishes %d files, checksums.txt has %d lines; want %d archives and checksums.txt:\n%s", len(assets), n, len(platforms), sums)
	}

	srv := newReleaseServer(t, "ghs_TOKEN", tagsOf(), assets)
	for _, p := range []struct{ uname, machine, platform, cache string }{
		{"Linux", "x86_64", "linux/amd64", "x64"},
		{"Linux", "aarch64", "linux/arm64", "arm64"},
		{"Darwin", "x86_64", "darwin/amd64", "x64"},
		{"Darwin", "arm64", "darwin/arm64", "arm64"},
	} {
		t.Run(strings.ReplaceAll(p.platform, "/", "-"), func(t *testing.T) {
			t.Parallel()
			owner := strings.ReplaceAll(p.platform, "/", "-")
			cache := t.TempDir()
			r := srv.install(t, actionAt(t, owner, "v1.4.0"), cache, "PATH="+fakeUname(t, p.uname, p.machine)+":"+os.Getenv("PATH"))
			if r.code != 0 || r.bin != filepath.Join(cache, "driftless", "1.4.0", p.cache) {
				t.Fatalf("exit %d, bin=%s\n%s", r.code, r.bin, r.stderr)
			}
			if got := versionOf(t, r); got != "v1.4.0" {
				t.Errorf("installed %q", got)
			}
			b, _ := os.ReadFile(filepath.Join(r.bin, "tag-sync"))
			if !strings.Contains(string(b), "# "+p.platform+"\n") {
				t.Errorf("installed the binaries of another platform:\n%s", b)
			}
		})
	}
}

// TestReleaseMovesFloatingTags runs release.yml's last step, as after each
// release in turn, against a repository with a bare origin: v1 and v1.2
// follow the newest stable release of their line, a backport moves only its
// minor tag, a pre-release moves nothing.
func TestReleaseMovesFloatingTags(t *testing.T) {
	t.Parallel()
	dir, origin := t.TempDir(), t.TempDir()
	git := func(d string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = d
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(origin, "init", "-q", "--bare")
	git(dir, "init", "-q", "-b", "main")
	git(dir, "remote", "add", "origin", origin)
	step := releaseStep(t, "Move the floating tags")
	commits := map[string]string{}
	release := func(tag string) {
		t.Helper()
		git(dir, "commit", "-q", "--allow-empty", "-m", tag)
		git(dir, "tag", "-a", "-m", tag, tag) // annotated, as release tags usually are
		commits[tag] = git(dir, "rev-parse", "HEAD")
		git(dir, "push", "-q", "origin", "main", "refs/tags/"+tag)
		runStep(t, step, dir, "TAG="+tag)
	}
	floating := func() map[string]string {
		got := map[string]string{}
		for _, line := range strings.Split(git(origin, "show-ref", "--tags", "-d"), "\n") {
			sha, ref, _ := strings.Cut(line, " ")
			name := strings.TrimPrefix(ref, "refs/tags/")
			if strings.Count(name, ".") < 2 {
				got[name] = sha
			}
		}
		return got
	}
	for _, tc := range []struct {
		release string
		want    map[string]string // floating tag → the release at its commit
	}{
		{"v1.2.0", map[string]string{"v1": "v1.2.0", "v1.2": "v1.2.0"}},
		{"v1.2.10", map[string]string{"v1": "v1.2.10", "v1.2": "v1.2.10"}},
		{"v1.3.0", map[string]string{"v1": "v1.3.0", "v1.2": "v1.2.10", "v1.3": "v1.3.0"}},
		{"v1.2.11", map[string]string{"v1": "v1.3.0", "v1.2": "v1.2.11", "v1.3": "v1.3.0"}}, // a backport
		{"v1.4.0-rc.1", map[string]string{"v1": "v1.3.0", "v1.2": "v1.2.11", "v1.3": "v1.3.0"}},
		{"v2.0.0", map[string]string{"v1": "v1.3.0", "v1.2": "v1.2.11", "v1.3": "v1.3.0", "v2": "v2.0.0", "v2.0": "v2.0.0"}},
	} {
		release(tc.release)
		want := map[string]string{}
		for float, rel := range tc.want {
			want[float] = commits[rel]
		}
		got := floating()
		for float, sha := range want {
			if got[float] != sha {
				t.Errorf("after %s: %s is at %.12s, want %.12s (%s)", tc.release, float, got[float], sha, tc.want[float])
			}
		}
		if len(got) != len(want) {
			t.Errorf("after %s: floating tags %v, want %v", tc.release, got, tc.want)
		}
	}
}
