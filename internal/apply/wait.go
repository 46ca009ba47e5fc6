package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// HealthError is a rollout that failed or did not finish in time.
type HealthError struct {
	// Failed names objects that failed, with why.
	Failed map[string]string
	// Pending names objects still in progress at the deadline.
	Pending map[string]string
}

func (e *HealthError) Error() string {
	var parts []string
	for _, id := range sortedKeys(e.Failed) {
		parts = append(parts, fmt.Sprintf("%s failed: %s", id, e.Failed[id]))
	}
	for _, id := range sortedKeys(e.Pending) {
		parts = append(parts, fmt.Sprintf("%s not ready in time: %s", id, e.Pending[id]))
	}
	return "unhealthy: " + strings.Join(parts, "; ")
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DefaultPollInterval is how often health is read while waiting.
const DefaultPollInterval = time.Second

// Wait polls the objects until kstatus calls every one Current, failing as
// soon as one is Failed (a Deployment past its progress deadline, a Job
// that failed) or a workload's pod crash-loops, or when ctx ends. seen
// holds what the server answered to the apply, by ID: the first round
// judges those without reading them again, so objects that are current as
// soon as they exist (ConfigMaps, Secrets, most Services) cost nothing.
// Each round reads the pending objects a.Workers at a time; rounds start
// 100 ms apart and back off to a.PollInterval, so a rollout that is healthy
// within moments is seen within moments.
func (a *Applier) Wait(ctx context.Context, objs []*unstructured.Unstructured, seen map[string]*unstructured.Unstructured) error {
	pending := map[string]*unstructured.Unstructured{}
	last := map[string]string{}
	for _, u := range objs {
		pending[ID(u)] = u
	}
	interval, maxInterval := 100*time.Millisecond, cmp.Or(a.PollInterval, DefaultPollInterval)
	for {
		ids := slices.Sorted(maps.Keys(pending))
		results := make([]health, len(ids))
		list := make([]*unstructured.Unstructured, len(ids))
		for i, id := range ids {
			list[i] = pending[id]
		}
		index := map[*unstructured.Unstructured]int{}
		for i, u := range list {
			index[u] = i
		}
		errs := a.parallel(ctx, list, func(u *unstructured.Unstructured) error {
			i := index[u]
			var err error
			results[i], err = a.health(ctx, u, seen[ids[i]])
			return err
		})
		clear(seen)
		if ctx.Err() == nil && len(errs) > 0 {
			return errs[0]
		}
		failed := map[string]string{}
		for i, id := range ids {
			h := results[i]
			if h.msg == "" {
				continue // not read: ctx ended
			}
			if last[id] != h.msg {
				a.logf("  %s: %s", id, h.msg)
				last[id] = h.msg
			}
			switch h.status {
			case status.CurrentStatus:
				delete(pending, id)
			case status.FailedStatus:
				failed[id] = strings.TrimPrefix(h.msg, string(status.FailedStatus)+": ")
			}
		}
		if len(failed) > 0 {
			return &HealthError{Failed: failed}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			he := &HealthError{Pending: map[string]string{}}
			for id := range pending {
				he.Pending[id] = last[id]
			}
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("waiting for health: %w", context.Cause(ctx))
			}
			return he
		case <-time.After(interval):
		}
		interval = min(2*interval, maxInterval)
	}
}

// health is one object's health in one round of Wait.
type health struct {
	status status.Status
	msg    string
}

// health reads u (unless the apply's answer live is given) and judges it
// with kstatus, a crash-looping pod of its current revision making an
// InProgress workload Failed.
func (a *Applier) health(ctx context.Context, u, live *unstructured.Unstructured) (health, error) {
	id := ID(u)
	if live == nil {
		ri, _, err := a.resource(u)
		if err != nil {
			return health{}, err
		}
		live, err = ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		switch {
		case ctx.Err() != nil:
			return health{}, nil
		case apierrors.IsNotFound(err):
			return health{status: status.NotFoundStatus, msg: "not found"}, nil
		case err != nil:
			return health{}, fmt.Errorf("%s: reading health: %w", id, err)
		}
	}
	res, err := status.Compute(live)
	if err != nil {
		return health{}, fmt.Errorf("%s: computing health: %w", id, err)
	}
	h := health{status: res.Status, msg: string(res.Status)}
	if res.Message != "" {
		h.msg += ": " + res.Message
	}
	if res.Status == status.InProgressStatus {
		why, err := a.crashLooping(ctx, live)
		switch {
		case ctx.Err() != nil:
			return health{}, nil
		case err != nil:
			return health{}, err
		case why != "":
			h.status, h.msg = status.FailedStatus, why
		}
	}
	return h, nil
}

// crashLooping reports a pod of the workload's current revision whose
// container crash-loops or cannot pull its image: waiting for the timeout
// would change nothing. Pods of earlier revisions, and pods already
// terminating, are not looked at: after a rollback the failed
// ReplicaSet's pods linger while they stop, and they say nothing about
// the release restored (what kubectl rollout status looks at, too).
func (a *Applier) crashLooping(ctx context.Context, u *unstructured.Unstructured) (string, error) {
	pods, err := a.currentPods(ctx, u)
	if err != nil {
		return "", err
	}
	for _, p := range pods {
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if w := cs.State.Waiting; w != nil {
				switch w.Reason {
				case "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError":
					// "failed to sync secret cache" (or configmap) is the
					// kubelet asking for a just-bound pod's Secret before
					// the Node authorizer knows the pod; it retries in a
					// second. A Secret that is missing says "not found".
					if w.Reason == "CreateContainerConfigError" && strings.HasPrefix(w.Message, "failed to sync ") {
						continue
					}
					return fmt.Sprintf("pod %s container %q: %s: %s", p.Name, cs.Name, w.Reason, w.Message), nil
				}
			}
		}
	}
	return "", nil
}

// currentPods lists the running (not terminating) pods of a workload's
// current revision: for a Deployment the pods of the ReplicaSet of its
// current revision, for a StatefulSet those of its update revision, for a
// DaemonSet those of its current template generation.
func (a *Applier) currentPods(ctx context.Context, u *unstructured.Unstructured) ([]corev1.Pod, error) {
	kind := u.GetKind()
	if u.GroupVersionKind().Group != "apps" || (kind != "Deployment" && kind != "StatefulSet" && kind != "DaemonSet" && kind != "ReplicaSet") {
		return nil, nil
	}
	raw, found, _ := unstructured.NestedMap(u.Object, "spec", "selector")
	if !found {
		return nil, nil
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return nil, fmt.Errorf("%s: reading spec.selector: %w", ID(u), err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil || sel.Empty() {
		return nil, nil
	}
	// Until the controller has seen the latest spec, its revision fields
	// still name the revision before: after a rollback, the failed one.
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if observed < u.GetGeneration() {
		return nil, nil
	}
	ns, owner := u.GetNamespace(), u.GetUID()
	var match func(p *corev1.Pod) bool
	switch kind {
	case "Deployment":
		rss, err := a.C.Kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, fmt.Errorf("%s: listing ReplicaSets: %w", ID(u), err)
		}
		const revision = "deployment.kubernetes.io/revision"
		want := u.GetAnnotations()[revision]
		var current types.UID
		for _, rs := range rss.Items {
			if metav1.IsControlledBy(&rs, u) && want != "" && rs.Annotations[revision] == want {
				current = rs.UID
			}
		}
		if current == "" {
			return nil, nil // the controller has not made it yet
		}
		owner = current
		match = func(*corev1.Pod) bool { return true }
	case "StatefulSet":
		rev, _, _ := unstructured.NestedString(u.Object, "status", "updateRevision")
		match = func(p *corev1.Pod) bool { return rev != "" && p.Labels["controller-revision-hash"] == rev }
	case "DaemonSet":
		gen := strconv.FormatInt(u.GetGeneration(), 10)
		match = func(p *corev1.Pod) bool { return p.Labels["pod-template-generation"] == gen }
	default:
		match = func(*corev1.Pod) bool { return true }
	}
	pods, err := a.C.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("%s: listing pods: %w", ID(u), err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != owner || p.DeletionTimestamp != nil || !match(&p) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
