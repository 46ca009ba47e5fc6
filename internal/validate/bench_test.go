package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// BenchmarkManifestsRendered validates 1,000 rendered objects per iteration: the
// example's prod environment as kustomize-render renders it, repeated in
// 100 namespaces (bench/validate does the same with whole processes,
// beside kubeconform).
func BenchmarkManifestsRendered(b *testing.B) {
	p, err := spec.Load(filepath.Join(testtool.Root(b), "driftless.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "prod.yaml")
	n := writeRendered(b, p, file, 1000)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Manifests(p, []string{file})
		if err != nil {
			b.Fatal(err)
		}
		if r.Objects != n || len(r.Findings) > 0 {
			b.Fatalf("%d objects, findings %v; want %d objects and none", r.Objects, r.Findings, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/object")
}

// writeRendered writes n objects of the pipeline's prod environment, the
// render repeated in namespaces of their own, to file.
func writeRendered(tb testing.TB, p *spec.Pipeline, file string, n int) int {
	tb.Helper()
	env, err := p.Environment("prod")
	if err != nil {
		tb.Fatal(err)
	}
	res, err := render.Environment(p, env, render.Options{Image: p.Image.Repository + "@sha256:" + strings.Repeat("ab", 32), Version: "v1.0.0"})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range n {
		o := res.Objects[i%len(res.Objects)]
		data, err := sigsyaml.Marshal(o.Content)
		if err != nil {
			tb.Fatal(err)
		}
		var content map[string]any
		if err := sigsyaml.Unmarshal(data, &content); err != nil {
			tb.Fatal(err)
		}
		ns := fmt.Sprintf("%s-%04d", env.Namespace, i/len(res.Objects))
		meta := content["metadata"].(map[string]any)
		if o.Kind == "Namespace" {
			meta["name"] = ns
		} else if o.Namespace != "" {
			meta["namespace"] = ns
		}
		if data, err = sigsyaml.Marshal(content); err != nil {
			tb.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return n
}
