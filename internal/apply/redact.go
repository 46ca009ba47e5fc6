package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// annotationValuesHash marks a Secret of a recorded release whose values
// were left out: it holds the sha256 of the values instead. The release
// history never keeps a Secret's values, so nobody with `get secrets`
// reads past (rotated) ones from it.
const annotationValuesHash = "driftless.dev/values-sha256"

// secretData is a Secret's values, decoded: data's base64 values and
// stringData's, which the API server merges into data.
func secretData(u *unstructured.Unstructured) (map[string][]byte, error) {
	out := map[string][]byte{}
	data, _, _ := unstructured.NestedFieldNoCopy(u.Object, "data")
	if m, ok := data.(map[string]any); ok {
		for k, v := range m {
			s, _ := v.(string)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("%s: data.%s is not base64", ID(u), k)
			}
			out[k] = b
		}
	}
	sd, _, _ := unstructured.NestedFieldNoCopy(u.Object, "stringData")
	if m, ok := sd.(map[string]any); ok {
		for k, v := range m {
			out[k] = []byte(scalarText(v))
		}
	}
	return out, nil
}

func scalarText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// valuesHash is the sha256 of a Secret's values, keys sorted.
func valuesHash(values map[string][]byte) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(values)) {
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(values[k]))
		h.Write(values[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func isSecret(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Secret" && u.GroupVersionKind().Group == ""
}

// redact returns the manifests with every Secret's values left out: the
// keys stay (with empty values) and the annotation holds their hash.
// Manifests without Secrets are returned as they are.
func redact(manifests []byte) ([]byte, error) {
	objs, err := Parse(manifests)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(objs, isSecret) {
		return manifests, nil
	}
	var b bytes.Buffer
	for i, u := range objs {
		if isSecret(u) && u.GetAnnotations()[annotationValuesHash] == "" {
			values, err := secretData(u)
			if err != nil {
				return nil, err
			}
			u = u.DeepCopy()
			keys := map[string]any{}
			for k := range values {
				keys[k] = ""
			}
			unstructured.RemoveNestedField(u.Object, "stringData")
			_ = unstructured.SetNestedMap(u.Object, keys, "data")
			ann := u.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[annotationValuesHash] = valuesHash(values)
			u.SetAnnotations(ann)
		}
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ID(u), err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// secretSnapshot reads the live values of the Secrets among objs, by ID.
// It is kept in memory only, so a rollback in the same run restores the
// values the last release ran with.
func (a *Applier) secretSnapshot(ctx context.Context, objs []*unstructured.Unstructured) (map[string]map[string][]byte, error) {
	out := map[string]map[string][]byte{}
	for _, u := range objs {
		if !isSecret(u) {
			continue
		}
		live, err := a.C.Kube.CoreV1().Secrets(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading its values to restore them on rollback: %w", ID(u), err)
		}
		out[ID(u)] = live.Data
	}
	return out, nil
}

// restoreSecrets fills the redacted Secrets of a recorded release with
// values: those of snapshot (read before this run changed anything) when
// their hash is the recorded one, else the live ones. A release's own
// values are never kept, so a rollback past a rotation keeps the current
// values, and says so.
func (a *Applier) restoreSecrets(ctx context.Context, objs []*unstructured.Unstructured, snapshot map[string]map[string][]byte) error {
	for _, u := range objs {
		want := u.GetAnnotations()[annotationValuesHash]
		if !isSecret(u) || want == "" {
			continue
		}
		values, ok := snapshot[ID(u)]
		if !ok || valuesHash(values) != want {
			live, err := a.C.Kube.CoreV1().Secrets(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%s: the release's values are not kept (driftless never stores Secret values) and the Secret is gone: deploy a release that brings it", ID(u))
			}
			if err != nil {
				return fmt.Errorf("%s: reading its live values: %w", ID(u), err)
			}
			values = live.Data
			if valuesHash(values) != want {
				a.logf("apply-env: warning: %s keeps its current values: the release's are not kept (driftless never stores Secret values)", ID(u))
			}
		}
		data := map[string]any{}
		for k, v := range values {
			data[k] = base64.StdEncoding.EncodeToString(v)
		}
		_ = unstructured.SetNestedMap(u.Object, data, "data")
		ann := u.GetAnnotations()
		delete(ann, annotationValuesHash)
		if len(ann) == 0 {
			ann = nil
		}
		u.SetAnnotations(ann)
	}
	return nil
}
