package applyenv

import (
	"os"
	"path/filepath"
	"testing"
)

// testImage is the image writeSpec's manifests run and record.
const testImage = "r.example.com/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func writeSpec(t *testing.T, dir, ns string) {
	t.Helper()
	files := map[string]string{
		"driftless.yaml":       "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: {repository: r.example.com/x, base: scratch}\nenvironments: [{name: test, overlay: k, namespace: " + ns + "}]\n",
		"k/kustomization.yaml": "resources: []\n",
		"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: " + ns + "}\ndata: {a: b}\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: " + ns + ", annotations: {driftless.dev/image: \"" + testImage + "\"}}\n" +
			"spec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: x, image: \"" + testImage + "\"}]}\n",
	}
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
