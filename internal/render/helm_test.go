package render

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// exampleHelm is the example service's spec whose environments name the
// project's own chart, example/chart.
func exampleHelm(t *testing.T) *spec.Pipeline {
	t.Helper()
	p, err := spec.Load(filepath.Join(testtool.Root(t), "example", "helm", "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelmEnvironment: an environment rendered from a chart is pinned,
// annotated and namespaced like an overlay's, its test hook left out and
// said so.
func TestHelmEnvironment(t *testing.T) {
	t.Parallel()
	p := exampleHelm(t)
	image := "127.0.0.1:5000/pssp/api@" + testDigest
	for _, env := range p.Environments {
		t.Run(env.Name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Image: image, Version: "v1.4.2", GitSHA: "abc123", ConfigRevision: "sha256:feed"}
			res, err := Environment(p, &env, opts)
			if err != nil {
				t.Fatal(err)
			}
			var ids, runs []string
			for _, o := range res.Objects {
				ids = append(ids, o.ID())
				if o.Kind != "Namespace" && o.Namespace != env.Namespace {
					t.Errorf("%s: namespace %q, want the environment's %q", o.ID(), o.Namespace, env.Namespace)
				}
				ann, _ := lookup(o.Content, "metadata", "annotations").(map[string]any)
				if ann[meta.AnnotationImage] != image || ann[meta.AnnotationVersion] != "v1.4.2" {
					t.Errorf("%s: traceability annotations missing: %v", o.ID(), ann)
				}
				for _, c := range Containers(o.Content) {
					runs = append(runs, o.Name+"/"+c.Name+"="+c.Image)
				}
			}
			want := []string{"Namespace/" + env.Namespace, "ConfigMap/" + env.Namespace + "/pssp-runtime", "Service/" + env.Namespace + "/pssp-api", "Service/" + env.Namespace + "/redis", "PersistentVolumeClaim/" + env.Namespace + "/redis-data", "Deployment/" + env.Namespace + "/pssp-api", "Deployment/" + env.Namespace + "/pssp-worker", "Deployment/" + env.Namespace + "/redis"}
			if env.Name == "prod" {
				want = slices.Insert(want, 2, "Secret/"+env.Namespace+"/pssp-signing-key")
				want = append(want, "PodDisruptionBudget/"+env.Namespace+"/pssp-api")
			}
			if diff := cmp.Diff(want, ids); diff != "" {
				t.Errorf("objects, in kustomize's order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"pssp-api/api=" + image, "pssp-worker/worker=" + image, "redis/redis=redis:7.2.5"}, runs); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]Hook{{Object: "Pod/pssp-api-test-connection", Template: "pssp/templates/tests/test-connection.yaml", Events: "test"}}, res.Dropped); diff != "" {
				t.Errorf("dropped hooks (-want +got):\n%s", diff)
			}
			again, err := Environment(p, &env, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.YAML, res.YAML) {
				t.Error("rendering twice gave different bytes")
			}
		})
	}
}

// copyChart copies the example chart into a temporary directory with a
// spec of one environment around it, and returns the spec's path.
func copyChart(t *testing.T, chartYAML string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(testtool.Root(t), "example", "chart")
	if err := os.CopyFS(filepath.Join(dir, "chart"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	files["driftless.yaml"] = `apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: pssp-api
image: {repository: 127.0.0.1:5000/pssp/api, name: pssp-api, base: scratch}
environments:
  - name: test
    namespace: pssp-test
    chart:
` + chartYAML
	for name, content := range files {
		f := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "driftless.yaml")
}

func loadSpec(t *testing.T, path string) *spec.Pipeline {
	t.Helper()
	p, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelmHooksRefused: hooks are refused by default, each named with its
// template and annotation; test hooks can be dropped, no other.
func TestHelmHooksRefused(t *testing.T) {
	t.Parallel()
	migrate := `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "{{ .Values.image.repository }}", args: [migrate]}]
`
	image := "127.0.0.1:5000/pssp/api@" + testDigest
	for _, tc := range []struct {
		name, chart string
		files       map[string]string
		want        string
	}{
		{"test hook by default", "      path: chart\n      kubeVersion: v1.34.3\n", map[string]string{},
			"chart \"chart\": 1 object(s) are Helm hooks, which driftless does not run (it applies the chart's objects itself, with no hook phases):\n  Pod/pssp-api-test-connection (pssp/templates/tests/test-connection.yaml): helm.sh/hook: test\nthey are test hooks: set chart.testHooks: drop to leave them out (smoke-test checks a deployment)"},
		{"pre-install job, tests dropped", "      path: chart\n      kubeVersion: v1.34.3\n      testHooks: drop\n", map[string]string{"chart/templates/migrate.yaml": migrate},
			"chart \"chart\": 1 object(s) are Helm hooks, which driftless does not run (it applies the chart's objects itself, with no hook phases):\n  Job/migrate (pssp/templates/migrate.yaml): helm.sh/hook: pre-install,pre-upgrade\nmake each a regular object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := loadSpec(t, copyChart(t, tc.chart, tc.files))
			_, err := Environment(p, &p.Environments[0], Options{Image: image})
			var he *HookError
			if !errors.As(err, &he) {
				t.Fatalf("want a HookError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

// TestHelmErrors: a template that fails is reported at the file and line
// Helm gives, values the chart's schema refuses at their path, and a
// chart whose image the pipeline's is not is refused as an overlay is.
func TestHelmErrors(t *testing.T) {
	t.Parallel()
	image := "127.0.0.1:5000/pssp/api@" + testDigest
	chart := "      path: chart\n      kubeVersion: v1.34.3\n      testHooks: drop\n"
	t.Run("template", func(t *testing.T) {
		t.Parallel()
		path := copyChart(t, chart, map[string]string{"chart/templates/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  x: {{ .Values.nope.deeper }}\n"})
		p := loadSpec(t, path)
		_, err := Environment(p, &p.Environments[0], Options{Image: image})
		var te *TemplateError
		if !errors.As(err, &te) {
			t.Fatalf("want a TemplateError, got %v", err)
		}
		want := &TemplateError{Template: "pssp/templates/broken.yaml", File: filepath.Join(filepath.Dir(path), "chart", "templates", "broken.yaml"), Line: 6, Col: 15, Msg: te.Msg}
		if diff := cmp.Diff(want, te); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !strings.Contains(te.Msg, "nil pointer evaluating interface {}.deeper") {
			t.Errorf("message %q", te.Msg)
		}
	})
	t.Run("values schema", func(t *testing.T) {
		t.Parallel()
		p := loadSpec(t, copyChart(t, chart+"      values: [bad.yaml]\n", map[string]string{"bad.yaml": "api:\n  replicas: 0\nruntime:\n  logLevel: loud\n"}))
		_, err := Environment(p, &p.Environments[0], Options{Image: image})
		var ve *ValuesError
		if !errors.As(err, &ve) {
			t.Fatalf("want a ValuesError, got %v", err)
		}
		var got []string
		for _, pr := range ve.Problems {
			got = append(got, pr.Pointer)
		}
		if diff := cmp.Diff([]string{"/api/replicas", "/runtime/logLevel"}, got); diff != "" {
			t.Errorf("pointers (-want +got):\n%s\n%v", diff, err)
		}
	})
	t.Run("image not the pipeline's", func(t *testing.T) {
		t.Parallel()
		p := loadSpec(t, copyChart(t, chart+"      set: {image: {repository: docker.io/library/nginx, tag: \"1.27\"}}\n", map[string]string{}))
		_, err := Environment(p, &p.Environments[0], Options{Image: image})
		var ie *ImageUseError
		if !errors.As(err, &ie) {
			t.Fatalf("want an ImageUseError, got %v", err)
		}
	})
	t.Run("kubeVersion", func(t *testing.T) {
		t.Parallel()
		p := loadSpec(t, copyChart(t, "      path: chart\n      kubeVersion: v1.25.0\n      testHooks: drop\n", map[string]string{}))
		_, err := Environment(p, &p.Environments[0], Options{Image: image})
		if err == nil || !strings.Contains(err.Error(), `requires kubeVersion >=1.27.0-0, which Kubernetes v1.25.0 (chart.kubeVersion) is not`) {
			t.Errorf("got %v", err)
		}
	})
}

// TestHelmImageValues: without imageValues the rendered containers are
// pinned by kustomize's images transformer, as an overlay's are; with
// them the chart itself renders the pinned image. Either way the result
// runs the same image.
func TestHelmImageValues(t *testing.T) {
	t.Parallel()
	image := "127.0.0.1:5000/pssp/api@" + testDigest
	for _, values := range []string{
		"",
		"      imageValues: {repository: image.repository, digest: image.digest}\n",
		// A chart that takes no digest: the repository and the release's
		// tag reach it, the transformer pins what it renders.
		"      imageValues: {repository: image.repository, tag: image.tag}\n",
	} {
		p := loadSpec(t, copyChart(t, "      path: chart\n      kubeVersion: v1.34.3\n      testHooks: drop\n"+values, map[string]string{}))
		res, err := Environment(p, &p.Environments[0], Options{Image: image, Version: "v1.4.2"})
		if err != nil {
			t.Fatalf("%q: %v", values, err)
		}
		for _, o := range res.Objects {
			for _, c := range Containers(o.Content) {
				if c.Name != "redis" && c.Image != image {
					t.Errorf("%q: %s %s runs %s", values, o.ID(), c.Name, c.Image)
				}
			}
		}
	}
}

// pushChart packages the example chart and pushes it as helm push does
// (an OCI artifact with Helm's media types) to a registry on 127.0.0.1,
// returning the oci:// reference pinned by digest.
func pushChart(t *testing.T) string {
	t.Helper()
	ch, err := loader.LoadDir(filepath.Join(testtool.Root(t), "example", "chart"))
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(b, ChartLayerMediaType), MediaType: ChartLayerMediaType})
	if err != nil {
		t.Fatal(err)
	}
	return "oci://" + registrytest.Push(t, registrytest.New(t)+"/charts/pssp", img)
}

// TestHelmOCIChart: a chart pulled from a registry by digest renders as
// the same chart from its directory does; a digest the registry does not
// have is an error that names the chart.
func TestHelmOCIChart(t *testing.T) {
	t.Parallel()
	ref := pushChart(t)
	image := "127.0.0.1:5000/pssp/api@" + testDigest
	fromDir := loadSpec(t, copyChart(t, "      path: chart\n      kubeVersion: v1.34.3\n      testHooks: drop\n      values: [chart/values-prod.yaml]\n", map[string]string{}))
	fromOCI := loadSpec(t, copyChart(t, "      oci: "+ref+"\n      kubeVersion: v1.34.3\n      testHooks: drop\n      values: [chart/values-prod.yaml]\n", map[string]string{}))
	want, err := Environment(fromDir, &fromDir.Environments[0], Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	got, err := EnvironmentContext(context.Background(), fromOCI, &fromOCI.Environments[0], Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want.YAML), string(got.YAML)); diff != "" {
		t.Errorf("OCI chart vs directory (-dir +oci):\n%s", diff)
	}
	missing := regexp.MustCompile(`sha256:[0-9a-f]{64}`).ReplaceAllString(ref, testDigest)
	bad := loadSpec(t, copyChart(t, "      oci: "+missing+"\n      kubeVersion: v1.34.3\n", map[string]string{}))
	if _, err := Environment(bad, &bad.Environments[0], Options{Image: image}); err == nil || !strings.Contains(err.Error(), `loading chart "`+missing+`"`) {
		t.Errorf("a digest the registry lacks: %v", err)
	}
}

// TestHelmPushedChart: a chart packaged and pushed by the helm binary
// itself (helm package, helm push) to a registry on 127.0.0.1 renders
// from its digest as from its directory.
func TestHelmPushedChart(t *testing.T) {
	t.Parallel()
	helm := testtool.Path(t, "helm")
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(helm, args...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home, "HELM_REGISTRY_CONFIG="+filepath.Join(home, "config.json"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	pkg := t.TempDir()
	run("package", filepath.Join(testtool.Root(t), "example", "chart"), "--destination", pkg)
	host := registrytest.New(t)
	out := run("push", filepath.Join(pkg, "pssp-0.1.0.tgz"), "oci://"+host+"/charts", "--plain-http")
	digest := regexp.MustCompile(`Digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if digest == nil {
		t.Fatalf("helm push printed no digest:\n%s", out)
	}
	image := "127.0.0.1:5000/pssp/api@" + testDigest
	fromDir := loadSpec(t, copyChart(t, "      path: chart\n      kubeVersion: v1.34.3\n      testHooks: drop\n", map[string]string{}))
	fromOCI := loadSpec(t, copyChart(t, "      oci: oci://"+host+"/charts/pssp@"+digest[1]+"\n      kubeVersion: v1.34.3\n      testHooks: drop\n", map[string]string{}))
	want, err := Environment(fromDir, &fromDir.Environments[0], Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Environment(fromOCI, &fromOCI.Environments[0], Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want.YAML), string(got.YAML)); diff != "" {
		t.Errorf("pushed chart vs directory (-dir +oci):\n%s", diff)
	}
}

// runHelmTemplate runs the helm binary (tools/helm, the SDK's version) on
// the same inputs as env's chart.
func runHelmTemplate(t *testing.T, p *spec.Pipeline, env *spec.Environment, chartRef string, extra ...string) []byte {
	t.Helper()
	c := env.Chart
	args := []string{"template", ReleaseName(p, c), chartRef, "--namespace", env.Namespace, "--kube-version", c.KubeVersion}
	for _, v := range c.Values {
		args = append(args, "-f", p.Path(v))
	}
	for _, a := range c.APIVersions {
		args = append(args, "--api-versions", a)
	}
	if c.IncludeCRDs {
		args = append(args, "--include-crds")
	}
	if c.TestHooks == "drop" {
		args = append(args, "--skip-tests")
	}
	cmd := exec.Command(testtool.Path(t, "helm"), append(args, extra...)...)
	// helm keeps its caches and configuration out of the home directory.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestHelmMatchesHelmTemplate: the in-process render prints byte for byte
// what `helm template` prints for the same inputs, for the project's own
// chart and for the chart `helm create` writes (Helm's own starter, the
// shape most charts start from), and the objects driftless applies are
// those, but for the namespace and driftless's metadata.
func TestHelmMatchesHelmTemplate(t *testing.T) {
	t.Parallel()
	p := exampleHelm(t)
	type tc struct {
		name  string
		p     *spec.Pipeline
		env   *spec.Environment
		chart string
	}
	var cases []tc
	for i := range p.Environments {
		env := &p.Environments[i]
		cases = append(cases, tc{"example/" + env.Name, p, env, p.Path(env.Chart.Path)})
	}
	// helm create's chart, written by the helm binary itself.
	dir := t.TempDir()
	cmd := exec.Command(testtool.Path(t, "helm"), "create", filepath.Join(dir, "starter"))
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm create: %v\n%s", err, out)
	}
	values := filepath.Join(dir, "values-prod.yaml")
	if err := os.WriteFile(values, []byte("replicaCount: 3\ningress: {enabled: true, hosts: [{host: shop.example.com, paths: [{path: /, pathType: Prefix}]}]}\nautoscaling: {enabled: true}\nserviceAccount: {create: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, "driftless.yaml")
	if err := os.WriteFile(sp, []byte(`apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: shop
image: {repository: docker.io/library/nginx, base: scratch}
environments:
  - name: prod
    namespace: shop-prod
    chart:
      path: starter
      release: shop-web
      values: [values-prod.yaml]
      set: {podAnnotations: {team: web}, service: {port: 8080}}
      kubeVersion: v1.33.0
      apiVersions: [monitoring.coreos.com/v1]
      testHooks: drop
`), 0o644); err != nil {
		t.Fatal(err)
	}
	starter := loadSpec(t, sp)
	cases = append(cases, tc{"helm-create", starter, &starter.Environments[0], starter.Path("starter")})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var extra []string
			if len(c.env.Chart.Set) > 0 {
				// set is one more values file.
				b, err := sigsyaml.Marshal(c.env.Chart.Set)
				if err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(t.TempDir(), "set.yaml")
				if err := os.WriteFile(f, b, 0o644); err != nil {
					t.Fatal(err)
				}
				extra = append(extra, "-f", f)
			}
			want := runHelmTemplate(t, c.p, c.env, c.chart, extra...)
			if n := bytes.Count(want, []byte("\nkind: ")); n < 4 {
				t.Fatalf("helm template printed %d objects:\n%s", n, want)
			}
			out, err := RenderChart(context.Background(), c.p, c.env, ChartInputs{})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(string(out.Manifests)) + "\n"
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("helm template vs driftless (-helm +driftless):\n%s", diff)
			}
			stream, err := chartStream(c.p, c.env, out, false)
			if err != nil {
				t.Fatal(err)
			}
			helmObjs := docs(t, bytes.TrimPrefix(want, []byte("---\n")))
			for _, o := range helmObjs {
				if md := o["metadata"].(map[string]any); md["namespace"] == nil && o["kind"] != "Namespace" {
					md["namespace"] = c.env.Namespace // where helm install puts it
				}
			}
			if diff := cmp.Diff(helmObjs, docs(t, bytes.TrimPrefix(stream, []byte("---\n")))); diff != "" {
				t.Errorf("objects applied vs helm template's (-helm +driftless):\n%s", diff)
			}
		})
	}
}
