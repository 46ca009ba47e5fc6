package corpus

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestRenderEqualsKustomize: for every application of the corpus,
// driftless's in-process render is byte for byte what the pinned kustomize
// binary's `kustomize build` prints.
func TestRenderEqualsKustomize(t *testing.T) {
	t.Parallel()
	kustomize := testtool.Path(t, "kustomize")
	for _, app := range Apps(t) {
		t.Run(app.Name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(kustomize, "build", app.Overlay)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("kustomize build %s: %v\n%s", app.Overlay, err, stderr.String())
			}
			cli := time.Since(start)
			start = time.Now()
			m, err := render.Kustomize(app.Overlay, render.Wrapper{})
			if err != nil {
				t.Fatalf("render.Kustomize(%q): %v", app.Overlay, err)
			}
			got, err := m.AsYaml()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d objects, %d bytes; kustomize build %v, in-process %v", m.Size(), len(got), cli.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			if !bytes.Equal(want, got) {
				t.Errorf("in-process render differs from kustomize build at line %d:\n%s", firstDiff(string(want), string(got)), lineDiff(string(want), string(got)))
			}
		})
	}
}

// firstDiff is the first line (1-based) where a and b differ.
func firstDiff(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

// lineDiff shows a few lines around the first difference.
func lineDiff(want, got string) string {
	i := firstDiff(want, got) - 1
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, side := range []struct {
		name  string
		lines []string
	}{{"kustomize build", wl}, {"in-process", gl}} {
		b.WriteString(side.name + ":\n")
		for j := max(0, i-2); j < min(len(side.lines), i+3); j++ {
			b.WriteString("  " + side.lines[j] + "\n")
		}
	}
	return b.String()
}
