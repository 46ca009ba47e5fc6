package main

import (
	"os"
	"path/filepath"
	"testing"
)

func writeSpec(t *testing.T, dir, ns string) {
	t.Helper()
	files := map[string]string{
		"driftless.yaml":       "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: {repository: r.example.com/x, base: scratch}\nenvironments: [{name: test, overlay: k, namespace: " + ns + "}]\n",
		"k/kustomization.yaml": "resources: []\n",
		"m.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: " + ns + "}\ndata: {a: b}\n",
	}
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
