package apply

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Release records, labels and annotations.
const (
	ReleaseSecretType    corev1.SecretType = "driftless.dev/release.v1"
	LabelRelease                           = "driftless.dev/release"
	LabelEnvironment                       = "driftless.dev/environment"
	LabelRevision                          = "driftless.dev/revision"
	annotationStatus                       = "driftless.dev/status"
	annotationDigest                       = "driftless.dev/digest"
	annotationGitSHA                       = "driftless.dev/git-sha"
	annotationVersion                      = "driftless.dev/version"
	annotationTime                         = "driftless.dev/deployed-at"
	annotationOverride                     = "driftless.dev/override-reason"
	annotationRollbackOf                   = "driftless.dev/rollback-of"
	manifestsKey                           = "manifests.yaml.gz"
)

// Release statuses.
const (
	StatusDeployed = "deployed"
	StatusFailed   = "failed"
)

// HistoryLimit bounds the releases kept per environment.
const HistoryLimit = 10

// Release is one recorded deployment of an environment.
type Release struct {
	Revision int
	Status   string
	Digest   string
	GitSHA   string
	Version  string
	Time     time.Time
	Override string
	// RollbackOf is the revision this release re-applied, if it was a
	// rollback.
	RollbackOf int
	Manifests  []byte
}

// Objects parses the release's manifests.
func (r *Release) Objects() ([]*unstructured.Unstructured, error) { return Parse(r.Manifests) }

// History reads an environment's releases, newest first.
func History(ctx context.Context, c *Clients, namespace, env string) ([]*Release, error) {
	list, err := c.Kube.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelRelease + "=true," + LabelEnvironment + "=" + env})
	if err != nil {
		return nil, fmt.Errorf("reading the release history in namespace %q: %w", namespace, err)
	}
	var out []*Release
	for _, s := range list.Items {
		if s.Type != ReleaseSecretType {
			continue
		}
		r, err := fromSecret(&s)
		if err != nil {
			return nil, fmt.Errorf("Secret/%s/%s: %w", s.Namespace, s.Name, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision > out[j].Revision })
	return out, nil
}

// LastDeployed returns the newest successful release, or nil.
func LastDeployed(h []*Release) *Release {
	for _, r := range h {
		if r.Status == StatusDeployed {
			return r
		}
	}
	return nil
}

func fromSecret(s *corev1.Secret) (*Release, error) {
	rev, err := strconv.Atoi(s.Labels[LabelRevision])
	if err != nil {
		return nil, fmt.Errorf("label %s %q is not a number", LabelRevision, s.Labels[LabelRevision])
	}
	r := &Release{Revision: rev, Status: s.Annotations[annotationStatus], Digest: s.Annotations[annotationDigest],
		GitSHA: s.Annotations[annotationGitSHA], Version: s.Annotations[annotationVersion], Override: s.Annotations[annotationOverride]}
	r.Time, _ = time.Parse(time.RFC3339, s.Annotations[annotationTime])
	r.RollbackOf, _ = strconv.Atoi(s.Annotations[annotationRollbackOf])
	zr, err := gzip.NewReader(bytes.NewReader(s.Data[manifestsKey]))
	if err != nil {
		return nil, fmt.Errorf("reading the recorded manifests: %w", err)
	}
	if r.Manifests, err = io.ReadAll(zr); err != nil {
		return nil, fmt.Errorf("reading the recorded manifests: %w", err)
	}
	return r, nil
}

func releaseName(env string, rev int) string {
	return fmt.Sprintf("driftless.release.%s.v%d", env, rev)
}

// Record stores a release as the next revision and trims the history.
func Record(ctx context.Context, c *Clients, namespace, env string, r *Release, history []*Release) (int, error) {
	r.Revision = 1
	if len(history) > 0 {
		r.Revision = history[0].Revision + 1
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(r.Manifests)
	zw.Close()
	ann := map[string]string{
		annotationStatus: r.Status, annotationDigest: r.Digest, annotationGitSHA: r.GitSHA,
		annotationVersion: r.Version, annotationTime: r.Time.UTC().Format(time.RFC3339),
	}
	if r.Override != "" {
		ann[annotationOverride] = r.Override
	}
	if r.RollbackOf != 0 {
		ann[annotationRollbackOf] = strconv.Itoa(r.RollbackOf)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: releaseName(env, r.Revision), Namespace: namespace,
			Labels:      map[string]string{LabelRelease: "true", LabelEnvironment: env, LabelRevision: strconv.Itoa(r.Revision)},
			Annotations: ann,
		},
		Type: ReleaseSecretType,
		Data: map[string][]byte{manifestsKey: gz.Bytes()},
	}
	if _, err := c.Kube.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
		return 0, fmt.Errorf("recording release %d of %q in Secret/%s/%s: %w", r.Revision, env, namespace, s.Name, err)
	}
	for i, old := range history {
		if i+1 >= HistoryLimit {
			_ = c.Kube.CoreV1().Secrets(namespace).Delete(ctx, releaseName(env, old.Revision), metav1.DeleteOptions{})
		}
	}
	return r.Revision, nil
}
