package apply

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
)

// PodReport is what the cluster says about one pod of a workload whose
// rollout failed, read before the rollback removes the pod: what
// `kubectl describe pod` shows last and what `kubectl logs` prints last.
type PodReport struct {
	// Workload is the failed object, Kind/namespace/name.
	Workload string
	// Pod is the pod's name; State its containers' states in a few words.
	Pod   string
	State string
	// Events are the pod's most recent events, oldest first.
	Events []string
	Logs   []ContainerLog
}

// ContainerLog is the end of one container's log.
type ContainerLog struct {
	Container string
	// Previous says the lines are from the container's last run, which
	// ended (a crash-looping container is waiting to start again).
	Previous bool
	Lines    []string
	// Err says why there are no lines.
	Err string
}

// Limits of a diagnosis: enough to see why, little enough to read.
const (
	diagnosePods   = 3  // pods per workload
	diagnoseEvents = 8  // events per pod
	diagnoseLines  = 20 // log lines per container
)

// masked replaces Secret values in diagnoses.
const masked = "***"

// diagnose reads, for each workload the health check failed or gave up on,
// the recent events and the end of the container logs of up to
// diagnosePods of its current pods, with the values of the manifests'
// Secrets and of the Secrets the pods use masked, and logs them. It is
// called before a rollback, which takes those pods away.
func (a *Applier) diagnose(ctx context.Context, he *HealthError, objs []*unstructured.Unstructured) []PodReport {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var secrets [][]byte
	for _, u := range objs {
		if isSecret(u) {
			values, _ := secretData(u)
			for _, v := range values {
				secrets = append(secrets, v)
			}
		}
	}
	var reports []PodReport
	for _, u := range objs {
		id := ID(u)
		if _, failed := he.Failed[id]; !failed {
			if _, pending := he.Pending[id]; !pending {
				continue
			}
		}
		ri, _, err := a.resource(u)
		if err != nil {
			continue
		}
		live, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			continue
		}
		pods, err := a.currentPods(ctx, live)
		if err != nil || len(pods) == 0 {
			continue
		}
		// The pods that are worst off first: not ready, most restarts.
		sort.SliceStable(pods, func(i, j int) bool { return restarts(pods[i]) > restarts(pods[j]) })
		for _, p := range pods[:min(len(pods), diagnosePods)] {
			if podReady(p) {
				continue
			}
			secrets = append(secrets, a.podSecrets(ctx, p)...)
			reports = append(reports, a.podReport(ctx, id, p))
		}
	}
	for i := range reports {
		maskReport(&reports[i], secrets)
	}
	for _, r := range reports {
		a.logf("%s", strings.TrimRight(r.Text(), "\n"))
	}
	return reports
}

func (a *Applier) podReport(ctx context.Context, workload string, p corev1.Pod) PodReport {
	r := PodReport{Workload: workload, Pod: p.Name, State: podState(p)}
	evs, err := a.C.Kube.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": p.Name}.String(),
	})
	if err == nil {
		items := evs.Items
		sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
		if len(items) > diagnoseEvents {
			items = items[len(items)-diagnoseEvents:]
		}
		for _, e := range items {
			line := fmt.Sprintf("%s %s: %s", e.Type, e.Reason, strings.TrimSpace(e.Message))
			if e.Count > 1 {
				line += fmt.Sprintf(" (%d times)", e.Count)
			}
			r.Events = append(r.Events, line)
		}
	}
	for _, cs := range append(slices.Clip(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		l := ContainerLog{Container: cs.Name}
		switch {
		case cs.State.Running != nil:
		case cs.LastTerminationState.Terminated != nil:
			l.Previous = true
		case cs.State.Terminated != nil:
		default:
			continue // never started: no log, the events say why
		}
		tail := int64(diagnoseLines)
		limit := int64(64 << 10)
		b, err := a.C.Kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
			Container: cs.Name, Previous: l.Previous, TailLines: &tail, LimitBytes: &limit,
		}).DoRaw(ctx)
		if err != nil {
			l.Err = err.Error()
		} else if s := strings.TrimRight(string(b), "\n"); s != "" {
			l.Lines = strings.Split(s, "\n")
		}
		r.Logs = append(r.Logs, l)
	}
	return r
}

// podSecrets returns the values of the Secrets pod p reads, from its
// environment and its volumes, to mask in what it logged.
func (a *Applier) podSecrets(ctx context.Context, p corev1.Pod) [][]byte {
	names := map[string]bool{}
	for _, c := range append(slices.Clip(p.Spec.InitContainers), p.Spec.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				names[e.ValueFrom.SecretKeyRef.Name] = true
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				names[e.SecretRef.Name] = true
			}
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.Secret != nil {
			names[v.Secret.SecretName] = true
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					names[s.Secret.Name] = true
				}
			}
		}
	}
	var values [][]byte
	for name := range names {
		s, err := a.C.Kube.CoreV1().Secrets(p.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		for _, v := range s.Data {
			values = append(values, v)
		}
	}
	return values
}

// maskReport replaces every Secret value (and each line of a multi-line
// one) in the report's events and log lines. Values shorter than four
// bytes are left: masking every "1" or "on" would hide the log, not the
// secret.
func maskReport(r *PodReport, secrets [][]byte) {
	var values []string
	for _, s := range secrets {
		for _, line := range bytes.Split(bytes.TrimSpace(s), []byte("\n")) {
			if v := strings.TrimSpace(string(line)); len(v) >= 4 && !slices.Contains(values, v) {
				values = append(values, v)
			}
		}
	}
	// Longest first, so a value that holds another is masked whole.
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	mask := func(s string) string {
		for _, v := range values {
			s = strings.ReplaceAll(s, v, masked)
		}
		return s
	}
	for i := range r.Events {
		r.Events[i] = mask(r.Events[i])
	}
	for i := range r.Logs {
		for j := range r.Logs[i].Lines {
			r.Logs[i].Lines[j] = mask(r.Logs[i].Lines[j])
		}
		r.Logs[i].Err = mask(r.Logs[i].Err)
	}
}

// Text is the report as log lines.
func (r PodReport) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apply-env: %s: pod %s (%s)\n", r.Workload, r.Pod, r.State)
	if len(r.Events) > 0 {
		b.WriteString("  recent events:\n")
		for _, e := range r.Events {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	for _, l := range r.Logs {
		fmt.Fprintf(&b, "  %s:\n", l.What())
		if l.Err != "" {
			fmt.Fprintf(&b, "    (no log: %s)\n", l.Err)
		}
		for _, line := range l.Lines {
			fmt.Fprintf(&b, "    | %s\n", line)
		}
	}
	return b.String()
}

// What says whose lines these are.
func (l ContainerLog) What() string {
	if l.Previous {
		return fmt.Sprintf("container %q, the end of its last run's log", l.Container)
	}
	return fmt.Sprintf("container %q, the end of its log", l.Container)
}

func restarts(p corev1.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState says how the pod's containers are, in a few words.
func podState(p corev1.Pod) string {
	var parts []string
	for _, cs := range append(slices.Clip(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		s := cs.Name + " "
		switch {
		case cs.State.Waiting != nil:
			s += cs.State.Waiting.Reason
		case cs.State.Terminated != nil:
			s += fmt.Sprintf("terminated: %s, exit code %d", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		case cs.Ready:
			s += "running, ready"
		default:
			s += "running, not ready"
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			s += fmt.Sprintf("; last run: %s, exit code %d", t.Reason, t.ExitCode)
		}
		if cs.RestartCount > 0 {
			s += fmt.Sprintf("; %d restarts", cs.RestartCount)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return string(p.Status.Phase)
	}
	return strings.Join(parts, ", ")
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
