package render

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/meta"

	"github.com/google/go-cmp/cmp"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/imageref"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// overlays are rendered by both driftless and the kustomize v5 binary.
func overlays(t *testing.T) []string {
	dirs := []string{"testdata/kz/overlays/plain", "testdata/kz/overlays/feature"}
	root := testtool.Root(t)
	for _, env := range []string{"test", "prod"} {
		dirs = append(dirs, filepath.Join(root, "kustomize", "overlays", env))
	}
	return dirs
}

func kustomizeBuild(t *testing.T, dir string) []byte {
	t.Helper()
	cmd := exec.Command(testtool.Path(t, "kustomize"), "build", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.String())
	}
	return out
}

// TestKustomizeMatchesKustomizeBinary: the in-process render through the
// wrapper is byte-for-byte what `kustomize build` prints.
func TestKustomizeMatchesKustomizeBinary(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays(t) {
		t.Run(filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			m, err := Kustomize(dir, Wrapper{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.AsYaml()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(kustomizeBuild(t, dir)), string(got)); diff != "" {
				t.Errorf("driftless vs kustomize build (-kustomize +driftless):\n%s", diff)
			}
		})
	}
}

// TestEnvironmentOnlyPinsAndAnnotates: a full render differs from
// `kustomize build` only by the pinned image and driftless's metadata.
func TestEnvironmentOnlyPinsAndAnnotates(t *testing.T) {
	t.Parallel()
	p, err := spec.Load("testdata/kz/driftless.yaml")
	if err != nil {
		t.Fatal(err)
	}
	image := "registry.example.com/shop/api@" + testDigest
	for _, env := range p.Environments {
		t.Run(env.Name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Image: image, Version: "v1.4.2+build.7", GitSHA: "abc123", ConfigRevision: "sha256:feed"}
			res, err := Environment(p, &env, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(string(kustomizeBuild(t, p.Path(env.Overlay))), "image: pssp-api\n", "image: "+image+"\n")
			if diff := cmp.Diff(docs(t, []byte(want)), stripDriftless(t, docs(t, res.YAML))); diff != "" {
				t.Errorf("beyond pinning and metadata (-kustomize +driftless):\n%s", diff)
			}
			for _, o := range res.Objects {
				md := o.Content["metadata"].(map[string]any)
				ann, _ := md["annotations"].(map[string]any)
				labels, _ := md["labels"].(map[string]any)
				if ann[meta.AnnotationGitSHA] != "abc123" || ann[meta.AnnotationConfigRevision] != "sha256:feed" || ann[meta.AnnotationImage] != image || ann[meta.AnnotationVersion] != "v1.4.2+build.7" {
					t.Errorf("%s: traceability annotations missing: %v", o.ID(), ann)
				}
				if labels[meta.LabelVersion] != "v1.4.2_build.7" {
					t.Errorf("%s: version label %v", o.ID(), labels[meta.LabelVersion])
				}
			}
			again, err := Environment(p, &env, opts)
			if err != nil {
				t.Fatal(err)
			}
			if again.SHA256 != res.SHA256 || !bytes.Equal(again.YAML, res.YAML) {
				t.Error("rendering twice gave different bytes")
			}
		})
	}
}

func docs(t *testing.T, y []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range strings.Split(string(y), "\n---\n") {
		var m map[string]any
		if err := sigsyaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// stripDriftless removes exactly what addTraceability adds.
func stripDriftless(t *testing.T, objs []map[string]any) []map[string]any {
	t.Helper()
	for _, o := range objs {
		metas := []map[string]any{o["metadata"].(map[string]any)}
		// Only the pod templates of workloads that run the pipeline's
		// image carry the release: others must not restart on a release.
		if imageref.AnyRuns([]map[string]any{o}, []string{"registry.example.com/shop/api"}) {
			if tmpl, ok := lookup(o, "spec", "template", "metadata").(map[string]any); ok {
				metas = append(metas, tmpl)
			}
			if tmpl, ok := lookup(o, "spec", "jobTemplate", "spec", "template", "metadata").(map[string]any); ok {
				metas = append(metas, tmpl)
			}
		}
		for _, m := range metas {
			for field, keys := range map[string][]string{
				"labels":      {meta.LabelVersion},
				"annotations": {meta.AnnotationVersion, meta.AnnotationGitSHA, meta.AnnotationConfigRevision, meta.AnnotationImage},
			} {
				sub, _ := m[field].(map[string]any)
				for _, k := range keys {
					if _, ok := sub[k]; !ok {
						t.Errorf("%v: %s.%s was not added", o["kind"], field, k)
					}
					delete(sub, k)
				}
				if sub != nil && len(sub) == 0 {
					delete(m, field)
				}
			}
		}
	}
	return objs
}

func lookup(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func TestFloatingImagesRefused(t *testing.T) {
	t.Parallel()
	p, err := spec.Load("testdata/kz/driftless.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := p.Environments[1]
	_, err = Environment(p, &env, Options{})
	var fe *FloatingImagesError
	if !errors.As(err, &fe) {
		t.Fatalf("want FloatingImagesError, got %v", err)
	}
	var got []string
	for _, pr := range fe.Problems {
		got = append(got, pr.Object+" "+pr.Container+" "+pr.Image)
	}
	want := []string{
		"Deployment/shop-feature/feat-api-v2 api pssp-api",
		"Deployment/shop-feature/feat-api-v2 migrate pssp-api",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if _, err := Environment(p, &env, Options{Image: "registry.example.com/shop/api:v1"}); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Errorf("a tag for --image: %v", err)
	}
}

func TestFloating(t *testing.T) {
	t.Parallel()
	repos := []string{"pssp-api", "registry.example.com/shop/api"}
	cases := map[string]string{
		"redis:7.2.5":            "",
		"redis":                  "has no tag",
		"redis:latest":           "uses the tag latest",
		"localhost:5000/redis":   "has no tag",
		"localhost:5000/redis:7": "",
		"redis@" + testDigest:    "",
		"redis@sha256:abc":       "malformed digest",
		"pssp-api:v1.2.3":        "pipeline's image without a digest",
		"registry.example.com/shop/api@" + testDigest: "",
		"registry.example.com/shop/api:v1":            "pipeline's image without a digest",
	}
	for img, want := range cases {
		got := Floating(img, repos)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("Floating(%q) = %q, want %q", img, got, want)
		}
	}
}

func TestCompareMasksSecrets(t *testing.T) {
	t.Parallel()
	p, err := spec.Load("testdata/kz/driftless.yaml")
	if err != nil {
		t.Fatal(err)
	}
	image := "registry.example.com/shop/api@" + testDigest
	a, err := Environment(p, &p.Environments[0], Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Environment(p, &p.Environments[1], Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	// Objects are matched by kind and name; the feature overlay renames
	// everything, so give b's objects a's names to compare contents.
	for i := range b.Objects {
		b.Objects[i].Name = strings.Replace(strings.TrimPrefix(b.Objects[i].Name, "feat-"), "-v2", "", 1)
	}
	diffs := Compare(a, b)
	text := ""
	for _, d := range diffs {
		text += d.Object + " " + d.OnlyIn + " " + strings.Join(d.Fields, "; ") + "\n"
	}
	for _, want := range []string{"Deployment/api  ", "spec.replicas: 2 → 3", "Namespace/(environment namespace) feature", "ConfigMap/scrape-config feature", "ConfigMap/runtime-(hash)  data.LOG_LEVEL: info → debug"} {
		if !strings.Contains(text, want) {
			t.Errorf("compare lacks %q:\n%s", want, text)
		}
	}
	// A secret's value differs: shown as differing, never printed.
	b.Objects = append(b.Objects, Object{Kind: "Secret", Name: "s", Content: map[string]any{"data": map[string]any{"k": "c2VjcmV0LWI="}}})
	a.Objects = append(a.Objects, Object{Kind: "Secret", Name: "s", Content: map[string]any{"data": map[string]any{"k": "c2VjcmV0LWE="}}})
	for _, d := range Compare(a, b) {
		if d.Object == "Secret/s" {
			if diff := cmp.Diff([]string{"data.k: (secret value differs)"}, d.Fields); diff != "" {
				t.Errorf("secret diff (-want +got):\n%s", diff)
			}
		}
	}
}

func TestKustomizeErrorsNameTheOverlay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"a/kustomization.yaml": "resources: [../b]\n",
		"b/kustomization.yaml": "resources: [../a]\n",
		"c/kustomization.yaml": "resources: [missing.yaml]\n",
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for sub, want := range map[string]string{"a": "cycle", "c": "missing.yaml"} {
		_, err := Kustomize(filepath.Join(dir, sub), Wrapper{})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "driftless-render-") {
			t.Errorf("overlay %s: got %v, want an error mentioning %q without temp paths", sub, err, want)
		}
	}
}

func TestOriginsPointAtSourceFiles(t *testing.T) {
	t.Parallel()
	m, err := Kustomize("testdata/kz/overlays/feature", Wrapper{Origins: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range m.Resources() {
		o, ok := ParseOrigin(r.GetAnnotations())
		if !ok {
			t.Errorf("%s has no origin", r.GetName())
		}
		got[r.GetKind()+"/"+r.GetName()] = o.File()
	}
	want := map[string]string{
		"Namespace/shop-feature":               "testdata/kz/overlays/feature/namespace.yaml",
		"ConfigMap/feat-runtime-v2-447c4kmhfd": "testdata/kz/base/kustomization.yaml",
		"ConfigMap/feat-scrape-config-v2":      "testdata/kz/components/monitoring/servicemonitor.yaml",
		"Secret/feat-signing-v2-4ttff852k8":    "testdata/kz/overlays/feature/kustomization.yaml",
		"Service/feat-api-v2":                  "testdata/kz/base/service.yaml",
		"Deployment/feat-api-v2":               "testdata/kz/base/deployment.yaml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}
}

// TestReleaseRestartsOnlyThePipelinesPods: a new release changes the pod
// template of the workloads that run the pipeline's image and no other:
// the example's Redis (a Recreate singleton holding user data) keeps its
// pods, with no downtime, across releases and rollbacks.
func TestReleaseRestartsOnlyThePipelinesPods(t *testing.T) {
	t.Parallel()
	root := testtool.Root(t)
	p, err := spec.Load(filepath.Join(root, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := p.Environment("prod")
	templates := func(version, digest string) map[string]any {
		res, err := Environment(p, env, Options{Image: p.Image.Repository + "@sha256:" + strings.Repeat(digest, 64), Version: version, GitSHA: version, ConfigRevision: "sha256:" + version})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for _, o := range res.Objects {
			if o.Kind == "Deployment" {
				out[o.Name] = lookup(o.Content, "spec", "template")
			}
		}
		return out
	}
	a, b := templates("v1.0.0", "a"), templates("v1.1.0", "b")
	if diff := cmp.Diff(a["redis"], b["redis"]); diff != "" || a["redis"] == nil {
		t.Errorf("a release changes Redis's pod template, restarting it (-v1.0.0 +v1.1.0):\n%s", diff)
	}
	for _, name := range []string{"pssp-api", "pssp-worker"} {
		if cmp.Equal(a[name], b[name]) {
			t.Errorf("%s's pod template does not change with the release", name)
		}
	}
}
