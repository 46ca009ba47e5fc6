package smoketest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/meta"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/evidence"
	"github.com/driftless-dev/driftless/internal/githubdeploy"
	"github.com/driftless-dev/driftless/internal/githubtest"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/smoke/smoketest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

const (
	version = "v1.4.2"
	gitSHA  = "0123456789abcdef0123456789abcdef01234567"
)

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, Definition)
}

// project writes a spec with one environment, test, whose smoke section is
// the YAML given (indented under smoke:), and returns the spec's path.
func project(t *testing.T, envFields, smokeYAML string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"driftless.yaml": `apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: pssp-api
image: {repository: 127.0.0.1:5000/pssp/api, base: scratch}
static: {dir: ` + smoketest.ExampleStatic(t) + `, path: /var/portal-api/static}
environments:
  - name: test
    overlay: k
    namespace: pssp-test
` + envFields + `
    smoke:
` + smokeYAML + "\n",
		"k/kustomization.yaml": "resources: []\n",
	}
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "driftless.yaml")
}

// image pushes a random image to an in-process registry and returns it
// pinned by digest.
func image(t *testing.T) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	return registrytest.Push(t, registrytest.New(t)+"/pssp/api", img)
}

func outputs(t *testing.T, stdout string) map[string]string {
	t.Helper()
	return steptest.Outputs(t, stdout)
}

func findEvidence(t *testing.T, img string, v *evidence.Verifier) evidence.Result {
	t.Helper()
	d, err := name.NewDigest(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := evidence.Find(context.Background(), d, "test", v, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type junitReport struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r junitReport
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatalf("JUnit report does not parse: %v\n%s", err, b)
	}
	return r
}

// TestVerified: the live example reports the release; the checks pass,
// evidence is recorded on the image and found again, the JUnit report
// says so.
func TestVerified(t *testing.T) {
	t.Parallel()
	live := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	spec := project(t, "    url: "+live.URL, `      checks:
        - {name: health, path: /healthz, contains: ok}
        - {name: catalog, path: /apis/catalog, json: {name: catalog}, maxLatency: 5s}`)
	img := image(t)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	r := steptest.Run(t, Definition, Run, nil, "--spec", spec, "--env", "test", "--release", version, "--git-sha", gitSHA,
		"--image", img, "--junit", junit, "--check", "/apis/billing", "--check-json", "name=billing", "--output", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	o := outputs(t, r.Stdout)
	if o["passed"] != "4" || o["failed"] != "0" {
		t.Errorf("outputs %v", o)
	}
	// The configuration revision came from the spec's static directory.
	rev, _ := configrev.Dir(smoketest.ExampleStatic(t))
	if !strings.Contains(r.Stderr, "config revision: "+rev+" (from the spec's static directory") {
		t.Errorf("stderr does not say where the revision came from:\n%s", r.Stderr)
	}
	found := findEvidence(t, img, nil)
	rec, ok := found.Newest()
	if !ok {
		t.Fatalf("no evidence found: %+v", found)
	}
	if rec.Digest.String() != o["evidence"] {
		t.Errorf("output evidence %q, found %q", o["evidence"], rec.Digest)
	}
	p := rec.Statement.Predicate
	if p.Environment != "test" || p.Version != version || p.GitSHA != gitSHA || p.ConfigRevision != rev || len(p.Checks) != 4 || p.Checks[0].Name != "version" {
		t.Errorf("predicate %+v", p)
	}
	j := readJUnit(t, junit)
	if j.Tests != 4 || j.Failures != 0 || len(j.Suites) != 1 || j.Suites[0].Name != "smoke-test test" {
		t.Errorf("junit %+v", j)
	}
}

// TestWrongRelease: the live service runs another version or another
// configuration: exit 1, no evidence, the failure in the JUnit report.
func TestWrongRelease(t *testing.T) {
	t.Parallel()
	live := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	stale := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA, Static: smoketest.CopyStatic(t)})
	for _, tc := range []struct {
		name, url, release, want string
	}{
		{"another version", live.URL, "v1.5.0", `json version: want "v1.5.0", got "v1.4.2"`},
		{"another configuration", stale.URL, version, `json configRevision: want "sha256:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := project(t, "    url: "+tc.url, "      timeout: 1s")
			img := image(t)
			junit := filepath.Join(t.TempDir(), "junit.xml")
			r := steptest.Run(t, Definition, Run, nil, "--spec", spec, "--env", "test", "--release", tc.release, "--image", img, "--junit", junit, "--output", "json")
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1\n%s", r.Code, r.Stderr)
			}
			if o := outputs(t, r.Stdout); o["passed"] != "0" || o["failed"] != "1" || o["evidence"] != "" {
				t.Errorf("outputs %v", o)
			}
			if !strings.Contains(r.Stderr, tc.want) || !strings.Contains(r.Stderr, "1 of 1 check(s) failed in test") {
				t.Errorf("stderr lacks %q:\n%s", tc.want, r.Stderr)
			}
			if res := findEvidence(t, img, nil); len(res.Records)+len(res.Rejected) > 0 {
				t.Errorf("evidence recorded for a failed check: %+v", res)
			}
			j := readJUnit(t, junit)
			if j.Tests != 1 || j.Failures != 1 || !strings.Contains(j.Suites[0].Cases[0].Failure.Message, tc.want) {
				t.Errorf("junit %+v", j)
			}
		})
	}
}

// TestSecretsMasked: a token from the environment goes into a request
// header; the service echoes it in a failing answer; it appears nowhere.
func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	const secret = "tok&en<s3cr3t>"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			fmt.Fprintf(w, `{"version":%q}`, version)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "refused Authorization: %s", r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	spec := project(t, "    url: "+srv.URL, `      timeout: 1s
      checks:
        - {name: private, path: /private, headers: {Authorization: "Bearer ${SMOKE_TOKEN}"}, json: {token: "${version}"}}`)
	dir := t.TempDir()
	summary, ghOut, junit := filepath.Join(dir, "summary.md"), filepath.Join(dir, "out"), filepath.Join(dir, "junit.xml")
	for _, f := range []string{summary, ghOut} {
		os.WriteFile(f, nil, 0o644)
	}
	env := map[string]string{"SMOKE_TOKEN": secret, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary, "GITHUB_OUTPUT": ghOut}
	r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--release", version, "--junit", junit, "--record-evidence=false")
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "::add-mask::"+secret+"\n") {
		t.Errorf("GitHub was not asked to mask the token:\n%s", r.Stdout)
	}
	sum, _ := os.ReadFile(summary)
	xmlb, _ := os.ReadFile(junit)
	for what, text := range map[string]string{
		"stdout": strings.ReplaceAll(r.Stdout, "::add-mask::"+secret, ""), "stderr": r.Stderr, "summary": string(sum), "junit": string(xmlb),
	} {
		for _, leak := range []string{secret, "s3cr3t", "tok&amp;en"} {
			if strings.Contains(text, leak) {
				t.Errorf("%s leaks the token (%q):\n%s", what, leak, text)
			}
		}
		if what != "stdout" && !strings.Contains(text, "refused Authorization: Bearer ***") {
			t.Errorf("%s does not show the masked answer:\n%s", what, text)
		}
	}
}

// TestCannotRun: what stops the step before any check runs exits 2.
func TestCannotRun(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	withURL := project(t, "    url: "+srv.URL, "      timeout: 1s")
	noURL := project(t, "", "      timeout: 1s")
	badCheck := project(t, "    url: "+srv.URL, `      checks: [{name: d, path: "/images/${digest}"}]`)
	envCheck := project(t, "    url: "+srv.URL, `      checks: [{name: h, path: /x, headers: {Authorization: "${NOT_SET}"}}]`)
	cases := []struct {
		name string
		spec string
		args []string
		want string
	}{
		{"no env", withURL, nil, `input "env": no environment given; valid environments in`},
		{"unknown env", withURL, []string{"--env", "staging"}, `environment "staging" is not in`},
		{"bad timeout", withURL, []string{"--env", "test", "--timeout", "soon"}, `input "timeout": "soon" is not a duration greater than zero (e.g. 90s, 5m, 1h30m)`},
		{"no target", noURL, []string{"--env", "test"}, `environment "test" has no URL to check`},
		{"bad service", noURL, []string{"--env", "test", "--service", "api"}, `service "api" is not name:port`},
		{"unreachable cluster", noURL, []string{"--env", "test", "--service", "api:80", "--kubeconfig", "/nonexistent/kubeconfig"}, "loading cluster access"},
		{"unknown release variable", badCheck, []string{"--env", "test", "--release", version}, `check "d": path refers to ${digest}, which is not known for the release being verified (give it with the input "image")`},
		{"unset environment variable", envCheck, []string{"--env", "test", "--release", version}, `check "h": header Authorization refers to the environment variable NOT_SET, which is not set`},
		{"image not pinned", withURL, []string{"--env", "test", "--image", "127.0.0.1:5000/pssp/api:v1"}, `input "image": "127.0.0.1:5000/pssp/api:v1" is not an image pinned by digest`},
		{"bad signing key", withURL, []string{"--env", "test", "--release", version, "--signing-key", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}, "evidence signing key"},
		{"check fields without a check", withURL, []string{"--env", "test", "--check-json", "a=b"}, `input "check-json" describes the extra check, but input "check", its path, is empty`},
		{"bad check json", withURL, []string{"--env", "test", "--check", "/x", "--check-json", "just-a-key"}, `input "check-json": line 1 is not`},
		{"bad method", withURL, []string{"--env", "test", "--check", "/x", "--check-method", "FETCH"}, `valid values: GET, HEAD`},
		{"duplicate name", withURL, []string{"--env", "test", "--release", version, "--check", "/x", "--check-name", "version"}, `check "version" is declared twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := steptest.Run(t, Definition, Run, nil, append([]string{"--spec", tc.spec}, tc.args...)...)
			if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.Code, r.Stderr, tc.want)
			}
		})
	}
}

// TestNothingToVerify: without a version or a configuration revision there
// is nothing the live service could be checked against.
func TestNothingToVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "driftless.yaml")
	os.MkdirAll(filepath.Join(dir, "k"), 0o755)
	os.WriteFile(filepath.Join(dir, "k", "kustomization.yaml"), []byte("resources: []\n"), 0o644)
	os.WriteFile(spec, []byte("apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: {repository: r.example.com/x, base: scratch}\nenvironments: [{name: test, overlay: k, namespace: t, url: \"http://127.0.0.1:1\"}]\n"), 0o644)
	r := steptest.Run(t, Definition, Run, nil, "--spec", spec, "--env", "test")
	if r.Code != 2 || !strings.Contains(r.Stderr, "nothing to verify the live service against") {
		t.Errorf("exit %d\n%s", r.Code, r.Stderr)
	}
}

// TestSignedEvidenceAndGitHub: on GitHub the evidence is signed with the
// key given, and the deployment apply-env created is marked successful;
// when apply-env created none, smoke-test creates one.
func TestSignedEvidenceAndGitHub(t *testing.T) {
	t.Parallel()
	live := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	spec := project(t, "    url: "+live.URL, "      timeout: 2s")
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	verifier, err := evidence.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	fake := githubtest.New(t, "o", "r", "gh-token-123")
	img := image(t)
	digest := img[strings.Index(img, "@")+1:]
	applied := fake.AddDeployment(githubtest.Deployment{SHA: gitSHA, Ref: "v1.4.2", Task: githubdeploy.Task, Environment: "test",
		Payload: json.RawMessage(fmt.Sprintf(`{"digest":%q,"version":"v1.4.2"}`, digest))})
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": gitSHA, "GITHUB_REF": "refs/tags/v1.4.2",
		"GITHUB_API_URL": fake.URL, "GITHUB_TOKEN": "gh-token-123", "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.com",
		"INPUT_SIGNING-KEY": key,
	}
	r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--image", img, "--output", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	keyBody := strings.Split(key, "\n")[1]
	for _, line := range strings.Split(r.Stdout+r.Stderr, "\n") {
		if !strings.HasPrefix(line, "::add-mask::") && (strings.Contains(line, keyBody) || strings.Contains(line, "PRIVATE KEY")) {
			t.Errorf("the signing key was printed: %q", line)
		}
	}
	rec, ok := findEvidence(t, img, verifier).Newest()
	if !ok || !rec.Signed {
		t.Fatalf("no signed evidence: %+v", rec)
	}
	if p := rec.Statement.Predicate; p.Version != version || p.RunURL != "https://github.com/o/r/actions/runs/42" || p.CI != "github" {
		t.Errorf("predicate %+v", p)
	}
	ds := fake.Deployments()
	if len(ds) != 1 || ds[0].ID != applied {
		t.Fatalf("deployments %+v; want apply-env's only", ds)
	}
	st := ds[0].Statuses
	if len(st) != 1 || st[0].State != githubdeploy.StateSuccess || st[0].EnvironmentURL != live.URL || st[0].LogURL != "https://github.com/o/r/actions/runs/42" {
		t.Errorf("statuses %+v", st)
	}

	// Another image at the same commit: no deployment of it yet.
	other := image(t)
	r = steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--image", other, "--release", "v9.9.9", "--output", "json")
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.Code, r.Stderr)
	}
	ds = fake.Deployments()
	if len(ds) != 2 || ds[1].Task != githubdeploy.Task || len(ds[1].Statuses) != 1 || ds[1].Statuses[0].State != githubdeploy.StateFailure {
		t.Errorf("deployments %+v; want a new one marked failed", ds)
	}

	// A job that declares the environment: the status goes on the
	// Deployment GitHub Actions made for it, and none is created.
	actions := githubtest.New(t, "o", "r", "gh-token-123")
	job := actions.StartJob(githubtest.ActionsJob{Environment: "test", SHA: gitSHA, Ref: "v1.4.2", RunID: 42, JobID: 7})
	env["GITHUB_API_URL"] = actions.URL
	if r = steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--image", img, "--output", "json"); r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	ds = actions.Deployments()
	if st := ds[0].Statuses; len(ds) != 1 || ds[0].ID != job || len(st) != 3 || st[2].State != githubdeploy.StateSuccess || st[2].EnvironmentURL != live.URL {
		t.Errorf("deployments %+v; want GitHub's for the job only, its last status smoke-test's success", ds)
	}
}

// TestExpectationsFromTheCluster: what to expect comes from the
// annotations kustomize-render recorded on the live Deployment. (The
// service-proxy route itself is covered by internal/smoke's
// TestServiceProxyNoEndpoints: kube-apiserver refuses loopback endpoints,
// and tests reach nothing but loopback.)
func TestExpectationsFromTheCluster(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	live := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	img := image(t)
	rev, _ := configrev.Dir(smoketest.ExampleStatic(t))
	kube := kubernetes.NewForConfigOrDie(c.RESTConfig())
	labels := map[string]string{"app": "pssp-api"}
	_, err := kube.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pssp-api", Annotations: map[string]string{
			meta.AnnotationVersion: version, meta.AnnotationGitSHA: gitSHA, meta.AnnotationImage: img, meta.AnnotationConfigRevision: rev,
		}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: img}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := project(t, "", "      url: "+live.URL+"\n      timeout: 20s\n      checks: [{name: catalog, path: /apis/catalog, json: {name: catalog}}]")
	b, _ := os.ReadFile(spec)
	os.WriteFile(spec, []byte(strings.Replace(string(b), "namespace: pssp-test", "namespace: "+ns, 1)), 0o644)
	r := steptest.Run(t, Definition, Run, map[string]string{"KUBECONFIG": c.Kubeconfig()}, "--spec", spec, "--env", "test", "--output", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	o := outputs(t, r.Stdout)
	if diff := cmp.Diff(map[string]string{"passed": "2", "failed": "0", "evidence": o["evidence"]}, o); diff != "" || o["evidence"] == "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"version: v1.4.2 (from Deployment/" + ns + "/pssp-api)",
		"config revision: " + rev + " (from Deployment/" + ns + "/pssp-api)",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if _, ok := findEvidence(t, img, nil).Newest(); !ok {
		t.Error("no evidence on the image the Deployment names")
	}

	// Without a URL the step goes through the API server's service proxy;
	// a Service that does not exist means it could not run.
	noURL := project(t, "", "      service: nope:80\n      timeout: 5s")
	b, _ = os.ReadFile(noURL)
	os.WriteFile(noURL, []byte(strings.Replace(string(b), "namespace: pssp-test", "namespace: "+ns, 1)), 0o644)
	missing := steptest.Run(t, Definition, Run, map[string]string{"KUBECONFIG": c.Kubeconfig()}, "--spec", noURL, "--env", "test")
	if missing.Code != 2 || !strings.Contains(missing.Stderr, "Service/"+ns+"/nope not found") {
		t.Errorf("missing Service: exit %d\n%s", missing.Code, missing.Stderr)
	}
}
