package actions_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/testtool"
)

var steps = []string{"validate-config", "bake-image", "tag-sync", "kustomize-render", "apply-env", "smoke-test"}

// platforms are the archives release.yml publishes.
var platforms = []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64"}

// commit names a fake commit by a word, as a SHA.
func commit(word string) string {
	s := sha1.Sum([]byte(word))
	return hex.EncodeToString(s[:])
}

// tag is one entry of GET /repos/{owner}/{repo}/tags, with the fields in
// the order GitHub's documentation shows them.
type tag struct {
	Name   string `json:"name"`
	Commit struct {
		SHA string `json:"sha"`
		URL string `json:"url"`
	} `json:"commit"`
	ZipballURL string `json:"zipball_url"`
	TarballURL string `json:"tarball_url"`
	NodeID     string `json:"node_id"`
}

// Owners the release server treats differently; every other owner is a
// plain copy of driftless. Each subtest installs from an owner of its own,
// so the requests it counts are its own.
const (
	ownerTampered = "tampered" // every archive has one byte changed
	ownerLimited  = "limited"  // the API answers 403: rate limit exceeded
	ownerNoTags   = "notags"   // the repository has no tags
)

// releaseServer is what install.sh reaches on GitHub: the tags API under
// GitHub Enterprise's /api/v3 prefix (so GITHUB_API_URL is honoured, not
// assumed), 100 tags a page with a Link header, the first page compact JSON
// and the next indented; release downloads at
// /{owner}/{repo}/releases/download/{tag}/{asset}, redirected to an object
// store as github.com does; and a mirror of them at /mirror/{owner}/download/….
type releaseServer struct {
	*httptest.Server
	token  string
	tags   []tag
	assets map[string]string // "<tag>/<asset>" → file

	mu       sync.Mutex
	requests map[string][]string // owner → "api <path>" or "download <tag>/<asset>"
	problems []string            // requests that carried what they must not
}

func newReleaseServer(t *testing.T, token string, tags []tag, assets map[string]string) *releaseServer {
	s := &releaseServer{token: token, tags: tags, assets: assets, requests: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/tags", s.listTags)
	mux.HandleFunc("GET /{owner}/{repo}/releases/download/{tag}/{asset}", func(w http.ResponseWriter, r *http.Request) {
		s.noToken(r)
		http.Redirect(w, r, "/objects/"+r.PathValue("owner")+"/"+r.PathValue("tag")+"/"+r.PathValue("asset"), http.StatusFound)
	})
	mux.HandleFunc("GET /objects/{owner}/{tag}/{asset}", s.asset)
	mux.HandleFunc("GET /mirror/{owner}/download/{tag}/{asset}", s.asset)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.problems = append(s.problems, "unexpected request "+r.Method+" "+r.URL.String())
		s.mu.Unlock()
		http.NotFound(w, r)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *releaseServer) record(owner, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[owner] = append(s.requests[owner], what)
}

// noToken: the token is for the API, never for downloads.
func (s *releaseServer) noToken(r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		s.mu.Lock()
		s.problems = append(s.problems, "Authorization sent to "+r.URL.Path)
		s.mu.Unlock()
	}
}

func (s *releaseServer) listTags(w http.ResponseWriter, r *http.Request) {
	owner := r.PathValue("owner")
	s.record(owner, "api "+r.URL.RequestURI())
	if got, want := r.Header.Get("Authorization"), "Bearer "+s.token; got != want {
		s.mu.Lock()
		s.problems = append(s.problems, fmt.Sprintf("API request with Authorization %q", got))
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if owner == ownerLimited {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"message":"API rate limit exceeded for installation ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`)
		return
	}
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage <= 0 || perPage > 100 {
		perPage = 30
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	tags := s.tags
	if owner == ownerNoTags {
		tags = nil
	}
	from := min((page-1)*perPage, len(tags))
	to := min(from+perPage, len(tags))
	if to < len(tags) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/api/v3/repos/%s/%s/tags?per_page=%d&page=%d>; rel="next"`, s.URL, owner, r.PathValue("repo"), perPage, page+1))
	}
	list := make([]tag, 0, to-from)
	for _, tg := range tags[from:to] {
		tg.Commit.URL = s.URL + "/api/v3/repos/" + owner + "/" + r.PathValue("repo") + "/commits/" + tg.Commit.SHA
		tg.ZipballURL = s.URL + "/api/v3/repos/" + owner + "/" + r.PathValue("repo") + "/zipball/refs/tags/" + tg.Name
		tg.TarballURL = s.URL + "/api/v3/repos/" + owner + "/" + r.PathValue("repo") + "/tarball/refs/tags/" + tg.Name
		list = append(list, tg)
	}
	var b []byte
	if page == 1 {
		b, _ = json.Marshal(list)
	} else {
		b, _ = json.MarshalIndent(list, "", "  ")
	}
	w.Write(b)
}

func (s *releaseServer) asset(w http.ResponseWriter, r *http.Request) {
	s.noToken(r)
	owner, key := r.PathValue("owner"), r.PathValue("tag")+"/"+r.PathValue("asset")
	s.record(owner, "download "+key)
	file, ok := s.assets[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if owner == ownerTampered && strings.HasSuffix(key, ".tar.gz") {
		b[len(b)/2] ^= 0xff
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

// requestsOf returns the requests made for owner, and fails the test on any
// request that carried what it must not.
func (s *releaseServer) requestsOf(t *testing.T, owner string) []string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.problems {
		t.Error(p)
	}
	return slices.Clone(s.requests[owner])
}

// buildRelease builds a release archive for tag, shaped as release.yml
// publishes it (./<step> for each of the six steps, each answering
// --version with its name and tag). To keep three releases affordable it
// links the multi-call driftless once and stores the six steps as hard
// links to it (it dispatches on the name it is run by); release.yml ships
// six separate binaries, which install.sh handles the same way.
func buildRelease(t *testing.T, dir, tag string) string {
	t.Helper()
	bin := filepath.Join(dir, tag)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/driftless-dev/driftless/internal/step.version="+tag, "-o", bin+"/", "./cmd/driftless")
	cmd.Dir = testtool.Root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", tag, err, out)
	}
	archive := filepath.Join(dir, "driftless_"+tag+".tar.gz")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	b, err := os.ReadFile(filepath.Join(bin, "driftless"))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		// tar -C dist/<platform> -czf … . names them ./<step>.
		h := &tar.Header{Name: "./" + s, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}
		if i > 0 {
			h.Typeflag, h.Size, h.Linkname = tar.TypeLink, 0, "./"+steps[0]
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := tw.Write(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return archive
}

// publish adds the release of tag to assets: the archive under every
// platform's name (the test host runs them all) and checksums.txt in
// sha256sum's format.
func publish(t *testing.T, dir, tag string, assets map[string]string) {
	t.Helper()
	archive := buildRelease(t, dir, tag)
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	var sums strings.Builder
	for _, p := range platforms {
		name := "driftless_" + tag + "_" + p + ".tar.gz"
		assets[tag+"/"+name] = archive
		fmt.Fprintf(&sums, "%x  %s\n", sum, name)
	}
	checksums := filepath.Join(dir, tag+"-checksums.txt")
	if err := os.WriteFile(checksums, []byte(sums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	assets[tag+"/checksums.txt"] = checksums
}

// tagsOf lists the repository's tags: a page and more of build tags first,
// so a floating tag and its release are found on different pages; the
// floating tags v1 and v1.2 at the commits of v1.3.0 and v1.2.10; a commit
// with a stable release and a pre-release; v3 at a commit no release is at;
// and a tag whose name holds a quote.
func tagsOf() []tag {
	var tags []tag
	add := func(name, word string) {
		tg := tag{Name: name, NodeID: "MDM6UmVmMTpyZWZzL3RhZ3Mv" + name}
		tg.Commit.SHA = commit(word)
		tags = append(tags, tg)
	}
	for i := range 70 {
		add(fmt.Sprintf("build-%03d", i), fmt.Sprint("build ", i))
	}
	add("v1", "c3")
	add("v1.2", "c2")
	for i := 70; i < 140; i++ {
		add(fmt.Sprintf("build-%03d", i), fmt.Sprint("build ", i))
	}
	add("v3", "c6")
	add("v2", "c4")
	add("v2.0.0", "c4")
	add("v1.3.0-rc.1", "c3")
	add("v1.3.0", "c3")
	add("v1.2.10", "c2")
	add("v1.2.9", "c5")
	add(`x"v9.9.9`, "c1")
	add("v1.2.3", "c1")
	add("v1.2.3-rc.2", "c1")
	return tags
}

// run is one run of install.sh.
type run struct {
	code           int
	stdout, stderr string
	bin            string // the bin= it wrote to $GITHUB_OUTPUT
	took           time.Duration
}

// actionAt copies install.sh to where the runner unpacks an action,
// <work>/_actions/<owner>/<repo>/<ref>, and returns that directory.
func actionAt(t *testing.T, owner, ref string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "_work", "_actions", owner, "driftless", ref)
	copyInstall(t, dir)
	return dir
}

func copyInstall(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testtool.Root(t), "actions", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "actions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "actions", "install.sh"), b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// install runs <action>/actions/install.sh as the generated action.yml
// does, with the tool cache cache, against the release server.
func (s *releaseServer) install(t *testing.T, action, cache string, env ...string) run {
	t.Helper()
	output := filepath.Join(t.TempDir(), "github_output")
	if err := os.WriteFile(output, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(action, "actions", "install.sh"))
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"GITHUB_OUTPUT=" + output,
		"RUNNER_TOOL_CACHE=" + cache,
		"GITHUB_SERVER_URL=" + s.URL,
		"GITHUB_API_URL=" + s.URL + "/api/v3",
		"DRIFTLESS_INSTALL_TOKEN=" + s.token,
		"GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-mod=readonly",
		"GOCACHE=" + goEnv(t, "GOCACHE"), "GOMODCACHE=" + goEnv(t, "GOMODCACHE"),
	}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := run{took: time.Since(start), stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(output)
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "bin="); ok {
			r.bin = v
		}
	}
	for _, where := range []string{r.stdout, r.stderr, string(out)} {
		if strings.Contains(where, s.token) {
			t.Errorf("install.sh printed the token:\n%s", where)
		}
	}
	return r
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// versionOf is what the installed binaries say they are (each of the six
// must be there); "" when r installed nothing.
func versionOf(t *testing.T, r run) string {
	t.Helper()
	if r.bin == "" {
		return ""
	}
	for _, s := range steps {
		if _, err := os.Stat(filepath.Join(r.bin, s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	out, err := exec.Command(filepath.Join(r.bin, "tag-sync"), "--version").Output()
	if err != nil {
		t.Fatalf("tag-sync --version: %v", err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "tag-sync ")
}

func downloads(requests []string) []string {
	var d []string
	for _, r := range requests {
		if what, ok := strings.CutPrefix(r, "download "); ok {
			d = append(d, what)
		}
	}
	return d
}

// TestInstall: each pin installs the release it names, verified, once.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three releases of the six binaries")
	}
	t.Parallel()
	dist := t.TempDir()
	assets := map[string]string{}
	for _, v := range []string{"v1.2.3", "v1.2.10", "v1.3.0"} {
		publish(t, dist, v, assets)
	}
	srv := newReleaseServer(t, "ghs_0123456789abcdefTOKEN", tagsOf(), assets)

	for _, tc := range []struct {
		name, ref string
		want      string
		api       int // requests to the tags API (100 tags a page)
	}{
		{"exact", "v1.2.3", "v1.2.3", 0},
		{"minor", "v1.2", "v1.2.10", 2},
		{"major", "v1", "v1.3.0", 2},
		{"commit", commit("c1"), "v1.2.3", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cache := t.TempDir()
			action := actionAt(t, tc.name, tc.ref)
			cold := srv.install(t, action, cache)
			if cold.code != 0 {
				t.Fatalf("exit %d\n%s", cold.code, cold.stderr)
			}
			if got := versionOf(t, cold); got != tc.want {
				t.Errorf("installed %q, want %q\n%s", got, tc.want, cold.stderr)
			}
			if want := filepath.Join(cache, "driftless", strings.TrimPrefix(tc.want, "v"), "x64"); cold.bin != want {
				t.Errorf("bin=%s, want the tool cache's %s", cold.bin, want)
			}
			reqs := srv.requestsOf(t, tc.name)
			wantDownloads := []string{tc.want + "/checksums.txt", tc.want + "/driftless_" + tc.want + "_linux_amd64.tar.gz"}
			if got := downloads(reqs); !slices.Equal(got, wantDownloads) {
				t.Errorf("downloads %q, want %q", got, wantDownloads)
			}
			if api := len(reqs) - len(downloads(reqs)); api != tc.api {
				t.Errorf("%d API requests, want %d: %q", api, tc.api, reqs)
			}

			// A second job on the same machine: from the tool cache. A
			// floating tag is asked about again (it moves); an exact tag
			// and a commit are not.
			warm := srv.install(t, action, cache)
			if warm.code != 0 || warm.bin != cold.bin {
				t.Fatalf("second install: exit %d, bin=%s (first %s)\n%s", warm.code, warm.bin, cold.bin, warm.stderr)
			}
			again := srv.requestsOf(t, tc.name)[len(reqs):]
			wantAPI := tc.api
			if tc.name == "exact" || tc.name == "commit" {
				wantAPI = 0
			}
			if len(downloads(again)) != 0 || len(again) != wantAPI {
				t.Errorf("second install made requests %q; want %d to the API and no download", again, wantAPI)
			}
			t.Logf("@%s: %v cold (download, verify, unpack), %v from the tool cache", tc.ref, cold.took.Round(time.Millisecond), warm.took.Round(time.Millisecond))
		})
	}

	t.Run("tampered", func(t *testing.T) {
		t.Parallel()
		cache := t.TempDir()
		r := srv.install(t, actionAt(t, ownerTampered, "v1.2.3"), cache)
		if r.code != 1 || r.bin != "" {
			t.Fatalf("exit %d, bin=%q; want 1 and nothing installed\n%s", r.code, r.bin, r.stderr)
		}
		if !strings.Contains(r.stderr, "driftless install: driftless_v1.2.3_linux_amd64.tar.gz from "+srv.URL+"/tampered/driftless/releases/download/v1.2.3 has sha256 ") ||
			!strings.Contains(r.stderr, "but the release's checksums.txt says ") || !strings.Contains(r.stderr, "nothing was installed") {
			t.Errorf("stderr:\n%s", r.stderr)
		}
		if entries, err := os.ReadDir(cache); err != nil || len(entries) != 0 {
			t.Errorf("the tool cache holds %v (%v); want nothing unpacked", entries, err)
		}
	})

	t.Run("macos-arm64", func(t *testing.T) {
		t.Parallel()
		cache := t.TempDir()
		r := srv.install(t, actionAt(t, "macos", "v1.2.3"), cache, "PATH="+fakeUname(t, "Darwin", "arm64")+":"+os.Getenv("PATH"))
		if r.code != 0 || r.bin != filepath.Join(cache, "driftless", "1.2.3", "arm64") {
			t.Fatalf("exit %d, bin=%s\n%s", r.code, r.bin, r.stderr)
		}
		want := []string{"v1.2.3/checksums.txt", "v1.2.3/driftless_v1.2.3_darwin_arm64.tar.gz"}
		if got := downloads(srv.requestsOf(t, "macos")); !slices.Equal(got, want) {
			t.Errorf("downloads %q, want %q", got, want)
		}
	})

	t.Run("unsupported-platform", func(t *testing.T) {
		t.Parallel()
		r := srv.install(t, actionAt(t, "windows", "v1.2.3"), t.TempDir(), "PATH="+fakeUname(t, "MINGW64_NT-10.0", "x86_64")+":"+os.Getenv("PATH"))
		if r.code != 2 || !strings.Contains(r.stderr, "driftless releases are built for Linux and macOS on x86_64 and arm64, not MINGW64_NT-10.0 x86_64: set DRIFTLESS_BIN_DIR") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})

	// github.action_ref and github.action_repository, when the action is
	// not under _actions (act), and a mirror of the release downloads.
	t.Run("env-ref-and-mirror", func(t *testing.T) {
		t.Parallel()
		action := filepath.Join(t.TempDir(), "checkout")
		copyInstall(t, action)
		r := srv.install(t, action, t.TempDir(), "DRIFTLESS_ACTION_REF=v1.2.10", "DRIFTLESS_ACTION_REPOSITORY=envref/driftless",
			"DRIFTLESS_RELEASES_URL="+srv.URL+"/mirror/envref")
		if r.code != 0 || versionOf(t, r) != "v1.2.10" {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		want := []string{"download v1.2.10/checksums.txt", "download v1.2.10/driftless_v1.2.10_linux_amd64.tar.gz"}
		if got := srv.requestsOf(t, "envref"); !slices.Equal(got, want) {
			t.Errorf("requests %q, want %q", got, want)
		}
	})

	for _, tc := range []struct {
		name, owner, ref string
		env              []string
		want             string
	}{
		{"floating-without-release", "norelease", "v3", nil,
			"driftless install: no release of norelease/driftless is tagged at the commit v3 points to: pin a release (vX.Y.Z)"},
		{"unknown-tag", "unknown", "v4", nil, "driftless install: unknown/driftless has no tag v4"},
		{"no-tags", ownerNoTags, "v1", nil, "driftless install: notags/driftless has no tag v1"},
		{"rate-limited", ownerLimited, "v1", nil, "driftless install: listing the tags of limited/driftless at " + srv.URL + "/api/v3: HTTP 403; the API refused or rate-limited the request"},
		{"release-without-assets", "noassets", "v2", nil, "driftless install: downloading " + srv.URL + "/noassets/driftless/releases/download/v2.0.0/checksums.txt: HTTP 404 (is v2.0.0 a published release of noassets/driftless?)"},
		{"bin-dir-incomplete", "bindir", "v1.2.3", []string{"DRIFTLESS_BIN_DIR=/nonexistent"}, "driftless install: DRIFTLESS_BIN_DIR=/nonexistent has no executable validate-config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := srv.install(t, actionAt(t, tc.owner, tc.ref), t.TempDir(), tc.env...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 2 and %q\n%s", r.code, tc.want, r.stderr)
			}
		})
	}

	// On GitHub the errors are annotations.
	t.Run("annotation", func(t *testing.T) {
		t.Parallel()
		r := srv.install(t, actionAt(t, "annotated", "v3"), t.TempDir(), "GITHUB_ACTIONS=true")
		if want := "::error title=driftless install::no release of annotated/driftless is tagged at the commit v3 points to"; r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Fatalf("exit %d, want 2 and %q\n%s", r.code, want, r.stderr)
		}
	})
}

// TestInstallCommitWithoutRelease: a commit no release is tagged at is
// built from the action's own source once, then taken from the tool cache
// under its SHA without asking the API or building again.
func TestInstallCommitWithoutRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the six binaries from source")
	}
	t.Parallel()
	srv := newReleaseServer(t, "ghs_0123456789abcdefTOKEN", tagsOf(), nil)
	sha := commit("a commit on main")
	action := filepath.Join(t.TempDir(), "_work", "_actions", "source", "driftless", sha)
	// What the runner unpacks: the repository's files at that commit.
	if err := os.MkdirAll(action, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("sh", "-c", `git -C "$1" archive --format=tar HEAD | tar -xf - -C "$2"`, "sh", testtool.Root(t), action)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	copyInstall(t, action) // this install.sh, whether committed or not

	cache := t.TempDir()
	cold := srv.install(t, action, cache)
	if cold.code != 0 {
		t.Fatalf("exit %d\n%s", cold.code, cold.stderr)
	}
	if got := versionOf(t, cold); got != sha {
		t.Errorf("installed %q, want a build stamped %s", got, sha)
	}
	if want := filepath.Join(cache, "driftless", "0.0.0-"+sha, "x64"); cold.bin != want {
		t.Errorf("bin=%s, want %s", cold.bin, want)
	}
	reqs := srv.requestsOf(t, "source")
	warm := srv.install(t, action, cache)
	if warm.code != 0 || warm.bin != cold.bin || strings.Contains(warm.stderr, "building") {
		t.Fatalf("second install: exit %d, bin=%s\n%s", warm.code, warm.bin, warm.stderr)
	}
	if again := srv.requestsOf(t, "source")[len(reqs):]; len(again) != 0 {
		t.Errorf("second install asked %q; want nothing", again)
	}
	t.Logf("commit %s: built from source in %v, then %v from the tool cache", sha[:12], cold.took.Round(time.Millisecond), warm.took.Round(time.Millisecond))
}

// fakeUname returns a directory whose uname answers -s and -m as a
// runner of another platform would.
func fakeUname(t *testing.T, system, machine string) string {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in -s) echo %s ;; -m) echo %s ;; *) echo %s ;; esac\n", system, machine, system)
	if err := os.WriteFile(filepath.Join(dir, "uname"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
