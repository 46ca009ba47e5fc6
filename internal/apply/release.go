package apply

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/meta"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftless-dev/driftless/internal/imageref"
)

// Release records, labels and annotations.
const (
	ReleaseSecretType        corev1.SecretType = "driftless.dev/release.v1"
	LabelRelease                               = "driftless.dev/release"
	LabelPipeline                              = "driftless.dev/pipeline"
	LabelEnvironment                           = "driftless.dev/environment"
	LabelRevision                              = "driftless.dev/revision"
	annotationStatus                           = "driftless.dev/status"
	annotationDigest                           = "driftless.dev/digest"
	annotationTime                             = "driftless.dev/deployed-at"
	annotationOverride                         = "driftless.dev/override-reason"
	annotationRollbackOf                       = "driftless.dev/rollback-of"
	annotationDriftCorrected                   = "driftless.dev/drift-corrected"
	annotationNote                             = "driftless.dev/note"
	manifestsKey                               = "manifests.yaml.gz"
)

// Release statuses.
const (
	StatusDeployed = "deployed"
	StatusFailed   = "failed"
	// StatusCancelled is a rollout cut short (a cancelled CI job).
	StatusCancelled = "cancelled"
)

// HistoryLimit bounds the releases kept per environment.
const HistoryLimit = 10

// ReleaseRecord is one recorded deployment of an environment: the release
// (meta.Release says which) with its revision, status and manifests.
type ReleaseRecord struct {
	// Name is the Secret the release is recorded in.
	Name     string
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
	// DriftCorrected says when a re-apply of this very release last put
	// back objects changed in the cluster, and which.
	DriftCorrected string
	// Note says what happened when it is not plain (a cancelled rollout).
	Note      string
	Manifests []byte

	// legacy is set on a release recorded under the old names, not yet
	// adopted.
	legacy bool
}

// Objects parses the release's manifests.
func (r *ReleaseRecord) Objects() ([]*unstructured.Unstructured, error) { return Parse(r.Manifests) }

// History reads the owner's releases, newest first. Releases recorded
// before names carried the pipeline (labelled with the environment only)
// are the owner's history too when none of its own exist yet and their
// manifests run one of imageRepos, the pipeline's image: Adopt then
// labels them as the owner's.
func History(ctx context.Context, c *kube.Clients, o Owner, imageRepos []string) ([]*ReleaseRecord, error) {
	own, err := listReleases(ctx, c, o.Namespace, LabelRelease+"=true,"+LabelPipeline+"="+o.Pipeline+","+LabelEnvironment+"="+o.Env)
	if err != nil || len(own) > 0 || len(imageRepos) == 0 {
		return own, err
	}
	legacy, err := listReleases(ctx, c, o.Namespace, LabelRelease+"=true,!"+LabelPipeline+","+LabelEnvironment+"="+o.Env)
	if err != nil {
		return nil, err
	}
	var out []*ReleaseRecord
	for _, r := range legacy {
		objs, err := r.Objects()
		if err != nil {
			continue
		}
		contents := make([]map[string]any, len(objs))
		for i, u := range objs {
			contents[i] = u.Object
		}
		if imageref.AnyRuns(contents, imageRepos) {
			r.legacy = true
			out = append(out, r)
		}
	}
	return out, nil
}

// Adopt labels the legacy releases of a history as the owner's.
func Adopt(ctx context.Context, c *kube.Clients, o Owner, history []*ReleaseRecord) error {
	for _, r := range history {
		if !r.legacy {
			continue
		}
		// Releases recorded before kept Secret values: leave them out now.
		stored, err := redact(r.Manifests)
		if err != nil {
			return fmt.Errorf("adopting release %d of %s (Secret/%s/%s): %w", r.Revision, o, o.Namespace, r.Name, err)
		}
		r.Manifests = stored
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"labels": map[string]string{LabelPipeline: o.Pipeline}},
			"data":     map[string][]byte{manifestsKey: gzipped(stored)},
		})
		if _, err := c.Kube.CoreV1().Secrets(o.Namespace).Patch(ctx, r.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
			return fmt.Errorf("adopting release %d of %s (Secret/%s/%s): %w", r.Revision, o, o.Namespace, r.Name, err)
		}
		r.legacy = false
	}
	return nil
}

func listReleases(ctx context.Context, c *kube.Clients, namespace, selector string) ([]*ReleaseRecord, error) {
	list, err := c.Kube.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("reading the release history in namespace %q: %w", namespace, err)
	}
	var out []*ReleaseRecord
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
func LastDeployed(h []*ReleaseRecord) *ReleaseRecord {
	for _, r := range h {
		if r.Status == StatusDeployed {
			return r
		}
	}
	return nil
}

func fromSecret(s *corev1.Secret) (*ReleaseRecord, error) {
	rev, err := strconv.Atoi(s.Labels[LabelRevision])
	if err != nil {
		return nil, fmt.Errorf("label %s %q is not a number", LabelRevision, s.Labels[LabelRevision])
	}
	r := &ReleaseRecord{Name: s.Name, Revision: rev, DriftCorrected: s.Annotations[annotationDriftCorrected], Note: s.Annotations[annotationNote], Status: s.Annotations[annotationStatus], Digest: s.Annotations[annotationDigest],
		GitSHA: s.Annotations[meta.AnnotationGitSHA], Version: s.Annotations[meta.AnnotationVersion], Override: s.Annotations[annotationOverride]}
	// Written with fractions of a second since waves count bake times
	// from it; RFC 3339 reads both.
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

// Record stores a release as the next revision and trims the history to
// HistoryLimit releases, never evicting the newest deployed one: it is what
// automatic rollback and --rollback restore.
func Record(ctx context.Context, c *kube.Clients, o Owner, r *ReleaseRecord, history []*ReleaseRecord) (int, error) {
	r.Revision = 1
	if len(history) > 0 {
		r.Revision = history[0].Revision + 1
	}
	// Never a Secret's values: a hash of them instead.
	stored, err := redact(r.Manifests)
	if err != nil {
		return 0, fmt.Errorf("recording release %d of %s: %w", r.Revision, o, err)
	}
	r.Manifests = stored
	gz := gzipped(stored)
	ann := map[string]string{
		annotationStatus: r.Status, annotationDigest: r.Digest, meta.AnnotationGitSHA: r.GitSHA,
		meta.AnnotationVersion: r.Version, annotationTime: r.Time.UTC().Format(time.RFC3339Nano),
	}
	if r.Override != "" {
		ann[annotationOverride] = r.Override
	}
	if r.RollbackOf != 0 {
		ann[annotationRollbackOf] = strconv.Itoa(r.RollbackOf)
	}
	if r.Note != "" {
		ann[annotationNote] = r.Note
	}
	r.Name = o.releaseName(r.Revision)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Name, Namespace: o.Namespace,
			Labels:      map[string]string{LabelRelease: "true", LabelPipeline: o.Pipeline, LabelEnvironment: o.Env, LabelRevision: strconv.Itoa(r.Revision)},
			Annotations: ann,
		},
		Type: ReleaseSecretType,
		Data: map[string][]byte{manifestsKey: gz},
	}
	if _, err := c.Kube.CoreV1().Secrets(o.Namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
		return 0, fmt.Errorf("recording release %d of %s in Secret/%s/%s: %w", r.Revision, o, o.Namespace, s.Name, err)
	}
	all := append([]*ReleaseRecord{r}, history...)
	keep := LastDeployed(all)
	for i, old := range all {
		if i >= HistoryLimit && old != keep {
			_ = c.Kube.CoreV1().Secrets(o.Namespace).Delete(ctx, old.Name, metav1.DeleteOptions{})
		}
	}
	return r.Revision, nil
}

func gzipped(b []byte) []byte {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(b)
	zw.Close()
	return gz.Bytes()
}

// markDriftCorrected records on release r that a re-apply of it put back
// the objects named, changed in the cluster since.
func markDriftCorrected(ctx context.Context, c *kube.Clients, o Owner, r *ReleaseRecord, when time.Time, objects []string) error {
	r.DriftCorrected = when.UTC().Format(time.RFC3339) + ": " + strings.Join(objects, ", ")
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotationDriftCorrected: r.DriftCorrected}}})
	if err != nil {
		return err
	}
	if _, err := c.Kube.CoreV1().Secrets(o.Namespace).Patch(ctx, r.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("recording the drift correction on release %d of %s (Secret/%s/%s): %w", r.Revision, o, o.Namespace, r.Name, err)
	}
	return nil
}

// Holds reports whether release r is d's release: the same digest and the
// same manifests (as recorded, Secret values left out). A re-apply of d
// where r is live records no new release.
func (r *ReleaseRecord) Holds(d Deployment) (bool, error) {
	if r == nil || r.Digest != d.Digest {
		return false, nil
	}
	stored, err := redact(d.Manifests)
	if err != nil {
		return false, err
	}
	return bytes.Equal(r.Manifests, stored), nil
}
