package applyenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/step/steptest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

const image = "127.0.0.1:5000/pssp/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, Definition)
}

func outputs(t *testing.T, stdout string) map[string]string {
	t.Helper()
	return steptest.Outputs(t, stdout)
}

// TestExampleDeploys: the example service reaches both environments of a
// real control plane, and applying again changes nothing.
func TestExampleDeploys(t *testing.T) {
	c := clustertest.Shared(t)
	spec := ungated(t)
	env := map[string]string{"KUBECONFIG": c.Kubeconfig()}
	for _, e := range []string{"test", "prod"} {
		r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", e, "--image", image, "--release", "v1.0.0", "--output", "json", "--timeout", "2m")
		if r.Code != 0 {
			t.Fatalf("%s: exit %d\n%s", e, r.Code, r.Stderr)
		}
		o := outputs(t, r.Stdout)
		if o["revision"] != "1" || o["changed"] != "true" || o["previous_revision"] != "0" || o["rolled_back"] != "false" {
			t.Errorf("%s: outputs %v", e, o)
		}
		again := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", e, "--image", image, "--release", "v1.0.0", "--output", "json")
		if again.Code != 0 {
			t.Fatalf("%s again: exit %d\n%s", e, again.Code, again.Stderr)
		}
		if o := outputs(t, again.Stdout); o["changed"] != "false" || o["revision"] != "1" {
			t.Errorf("%s re-apply: %v\n%s", e, o, again.Stderr)
		}
		dry := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", e, "--image", image, "--release", "v1.0.0", "--dry-run", "--output", "json")
		if dry.Code != 0 || outputs(t, dry.Stdout)["changed"] != "false" {
			t.Errorf("%s dry run of the same: exit %d %s\n%s", e, dry.Code, dry.Stdout, dry.Stderr)
		}
	}
	// A new image: the dry run says what would change and exits 1.
	next := strings.Replace(image, "0123", "4567", 1)
	dry := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "prod", "--image", next, "--release", "v1.1.0", "--dry-run", "--output", "json")
	if dry.Code != 1 || outputs(t, dry.Stdout)["changed"] != "true" || !strings.Contains(dry.Stderr, "Deployment/pssp-prod/pssp-api would be configured") {
		t.Errorf("dry run of a change: exit %d\n%s", dry.Code, dry.Stderr)
	}
	if strings.Contains(dry.Stderr, "dummy-for-example") {
		t.Error("the dry run printed a Secret's value")
	}
}

// ungated is the example's spec with the paths made absolute and prod's
// promotion gates removed: TestPromotionGates tests those; here the
// rollout itself is under test.
func ungated(t *testing.T) string {
	t.Helper()
	root := testtool.Root(t)
	b, err := os.ReadFile(filepath.Join(root, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "    promotion:")
	j := strings.Index(s, "    keep:")
	if i < 0 || j < i {
		t.Fatal("the example spec no longer has prod's promotion block before keep")
	}
	s = s[:i] + s[j:]
	for _, rel := range []string{"kustomize/", "example/"} {
		s = strings.ReplaceAll(s, " "+rel, " "+filepath.Join(root, rel)+"/")
		s = strings.ReplaceAll(s, "dir: "+rel, "dir: "+filepath.Join(root, rel)+"/")
	}
	out := filepath.Join(t.TempDir(), "driftless.yaml")
	if err := os.WriteFile(out, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLockedExitsOne(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := apply.Acquire(context.Background(), clients, apply.Owner{Pipeline: "x", Env: "test", Namespace: ns}, apply.LockOptions{Holder: "https://github.com/o/r/actions/runs/7", Timeout: time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	dir := t.TempDir()
	writeSpec(t, dir, ns)
	r := steptest.Run(t, Definition, Run, map[string]string{"KUBECONFIG": c.Kubeconfig()}, "--spec", filepath.Join(dir, "driftless.yaml"), "--env", "test", "--manifests", filepath.Join(dir, "m.yaml"), "--lock-timeout", "1s")
	if r.Code != 1 || !strings.Contains(r.Stderr, "https://github.com/o/r/actions/runs/7") {
		t.Errorf("exit %d, want 1 naming the holder\n%s", r.Code, r.Stderr)
	}
}

func TestCannotRun(t *testing.T) {
	t.Parallel()
	spec := filepath.Join(testtool.Root(t), "driftless.yaml")
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--env", "staging"}, nil, `environment "staging" is not in`},
		{nil, nil, `input "env": no environment given; valid environments in`},
		{[]string{"--env", "test", "--image", image, "--kubeconfig", "/nonexistent/kubeconfig"}, nil, "loading cluster access"},
		{[]string{"--env", "test", "--image", image, "--timeout", "soon"}, nil, `"soon" is not a duration`},
	}
	for _, tc := range cases {
		r := steptest.Run(t, Definition, Run, tc.env, append([]string{"--spec", spec}, tc.args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
	r := steptest.Run(t, Definition, Run, nil, "--spec", spec, "--env", "test")
	if r.Code != 1 || !strings.Contains(r.Stderr, "pipeline's image without a digest") {
		t.Errorf("unpinned image: exit %d %s", r.Code, r.Stderr)
	}
}

// TestRefusesWhatIsNotPinned: manifests rendered elsewhere are held to
// kustomize-render's rule: the digest recorded is the one that runs, and
// some container runs the pipeline's image. Refusals exit 2 and write
// nothing.
func TestRefusesWhatIsNotPinned(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	dir := t.TempDir()
	writeSpec(t, dir, ns)
	m, err := os.ReadFile(filepath.Join(dir, "m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(testImage, "0123", "4567", 1)
	// The container's image, not the recorded annotation.
	runs := func(image string) string {
		return strings.Replace(string(m), `{name: x, image: "`+testImage, `{name: x, image: "`+image, 1)
	}
	cases := map[string]struct {
		manifests string
		want      []string
	}{
		"another digest runs": {runs(other),
			[]string{`do not run the recorded image digest sha256:0123`, `Deployment/` + ns + `/x container "x" runs "` + other}},
		"the image under another name": {runs(strings.Replace(testImage, "/x@", "/y@", 1)),
			[]string{`no container runs the pipeline's image ("r.example.com/x")`, `its containers run "r.example.com/y@`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "m.yaml")
			if err := os.WriteFile(f, []byte(tc.manifests), 0o644); err != nil {
				t.Fatal(err)
			}
			r := steptest.Run(t, Definition, Run, map[string]string{"KUBECONFIG": c.Kubeconfig()}, "--spec", filepath.Join(dir, "driftless.yaml"), "--env", "test", "--manifests", f)
			if r.Code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.Code, r.Stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
				}
			}
		})
	}
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "c", metav1.GetOptions{}); err == nil {
		t.Error("a refused deployment applied the ConfigMap")
	}
}

// TestSecretValuesNeverPrinted: the API server quotes a wrongly typed
// Secret value in its error; the value reaches neither the log, the JSON
// error nor the summary.
func TestSecretValuesNeverPrinted(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	dir := t.TempDir()
	writeSpec(t, dir, ns)
	m, err := os.ReadFile(filepath.Join(dir, "m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "m.yaml")
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: pin, namespace: " + ns + "}\nstringData: {PIN: 7351904273}\n---\n"
	if err := os.WriteFile(f, append([]byte(secret), m...), 0o644); err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(t.TempDir(), "summary.md")
	os.WriteFile(summary, nil, 0o644)
	env := map[string]string{"KUBECONFIG": c.Kubeconfig(), "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary}
	r := steptest.Run(t, Definition, Run, env, "--spec", filepath.Join(dir, "driftless.yaml"), "--env", "test", "--manifests", f, "--output", "json")
	sum, _ := os.ReadFile(summary)
	if r.Code != 2 || !strings.Contains(r.Stderr, "Secret/"+ns+"/pin") {
		t.Fatalf("exit %d, want 2 naming the Secret\n%s", r.Code, r.Stderr)
	}
	// ::add-mask:: is how GitHub learns the value; nothing else may say it.
	var stdout []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		if !strings.HasPrefix(line, "::add-mask::") {
			stdout = append(stdout, line)
		}
	}
	for where, text := range map[string]string{"stderr": r.Stderr, "stdout": strings.Join(stdout, "\n"), "summary": string(sum)} {
		if strings.Contains(text, "7351904273") {
			t.Errorf("the Secret's value is in %s:\n%s", where, text)
		}
	}
}
