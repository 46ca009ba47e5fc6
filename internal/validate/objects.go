package validate

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"

	"github.com/driftless-dev/driftless/internal/render"
)

// SingletonAnnotation declares in a manifest that a workload must never run
// two pods at once.
const SingletonAnnotation = "driftless.dev/singleton"

// object is a rendered object under check, with where it came from.
type object struct {
	env        string
	apiVersion string
	kind       string
	namespace  string
	name       string
	content    map[string]any
	src        source
	typed      runtime.Object
	// broken objects cannot be represented as JSON; they get that one
	// finding and no other check.
	broken bool
	// transformations are the kustomizations whose transformers ran over
	// the object, in order.
	transformations []render.Origin
	// waits says the object is checked once every object's CRD is known.
	waits bool
}

func (o *object) id() string {
	return render.Object{Kind: o.kind, Namespace: o.namespace, Name: o.name}.ID()
}

// strictDecode decodes an object of a built-in kind rejecting unknown and
// duplicate fields, as kube-apiserver does with fieldValidation=Strict:
// what client-go's strict universal deserializer does, without finding
// out again which decoder and kind the data is for. The object is nil if
// the data does not decode at all (a wrong type).
func strictDecode(gvk schema.GroupVersionKind, data []byte) (runtime.Object, error) {
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	strictErrs, err := kjson.UnmarshalStrict(data, obj)
	switch {
	case err != nil:
		return nil, err
	case len(strictErrs) > 0:
		return obj, runtime.NewStrictDecodingError(strictErrs)
	}
	return obj, nil
}

// checker accumulates findings about objects.
type checker struct {
	crds *CRDs
	// invalidCRDs are the kinds whose CustomResourceDefinition in the
	// overlay is invalid, with where it is written.
	invalidCRDs map[schema.GroupKind]invalidCRD
	singletons  []string
	pipelineRef []string
	// env is the environment being checked; nil for rendered manifests.
	env *envContext
	// loc finds the patches that wrote fields; nil for rendered manifests.
	loc      *locator
	findings []Finding
	// run is the check of many objects in progress, if any; summary is
	// what the policies across its objects need.
	run     *run
	summary summary
}

// summary is what the policies across objects need of each.
type summary struct {
	// pvcs maps namespace/name to the claim's single-node access mode
	// (ReadWriteOnce, ReadWriteOncePod), "" when it has none.
	pvcs      map[string]string
	hpas      []hpaTarget
	workloads []*workload
}

// hpaTarget is what a HorizontalPodAutoscaler scales, and how far.
type hpaTarget struct {
	o          *object
	kind, name string
	max        int32
}

func (s *summary) merge(from *summary) {
	for k, v := range from.pvcs {
		if s.pvcs == nil {
			s.pvcs = map[string]string{}
		}
		s.pvcs[k] = v
	}
	s.hpas = append(s.hpas, from.hpas...)
	s.workloads = append(s.workloads, from.workloads...)
	*from = summary{}
}

// envContext is what the checks need to know about the environment whose
// objects they look at.
type envContext struct {
	name      string
	namespace string
	// kustomization is the overlay's kustomization file.
	kustomization string
}

type invalidCRD struct {
	name string // CustomResourceDefinition/widgets.example.com
	at   string // file:line
}

func (c *checker) add(o *object, sev Severity, path, format string, args ...any) {
	c.addFinding(o, false, sev, path, format, args...)
}

// policy adds a finding of a deployment policy (see Finding.Policy).
func (c *checker) policy(o *object, sev Severity, path, format string, args ...any) {
	c.addFinding(o, true, sev, path, format, args...)
}

func (c *checker) addFinding(o *object, policy bool, sev Severity, path, format string, args ...any) {
	f := Finding{File: o.src.file, Severity: sev, Env: o.env, Object: o.id(), Message: fmt.Sprintf(format, args...), Policy: policy}
	f.Line, f.Col = o.src.position(path)
	if c.loc != nil {
		if file, line, col, ok := c.loc.written(o, path); ok {
			f.File, f.Line, f.Col = file, line, col
		}
	}
	if path != "" {
		f.Message = path + ": " + f.Message
	}
	c.findings = append(c.findings, f)
}

var (
	quoted    = regexp.MustCompile(`"([^"]+)"`)
	typeError = regexp.MustCompile(`cannot unmarshal (\w+) into Go (?:struct field|value) (?:\w+\.)?(\S*) of type (\S+)`)
)

// decode checks an object against its schema: the built-in types, else a
// CRD, else says no schema is known.
func (c *checker) decode(o *object) {
	if o.name == "" {
		if gn, _ := lookup(o.content, "metadata", "generateName").(string); gn == "" {
			c.add(o, Error, "metadata.name", "missing name: every object needs metadata.name")
		}
	}
	gvk := schema.FromAPIVersionAndKind(o.apiVersion, o.kind)
	switch {
	case o.apiVersion == "" || o.kind == "":
		c.add(o, Error, "", "missing apiVersion or kind")
		return
	case gvk.Group == "apiextensions.k8s.io" && o.kind == "CustomResourceDefinition":
		return // CRDs.Add checked it, metadata included
	case gvk.GroupKind() == apiServiceKind && gvk.Version == "v1":
		data, err := marshalJSON(o.content)
		if err != nil {
			c.add(o, Error, "", "cannot be represented as JSON: %v", err)
			return
		}
		c.checkAPIService(o, data)
	case scheme.Scheme.Recognizes(gvk):
		data, err := marshalJSON(o.content)
		if err != nil {
			c.add(o, Error, "", "cannot be represented as JSON: %v", err)
			return
		}
		typed, err := strictDecode(gvk, data)
		if typed != nil && c.lifecycle(o, typed) {
			return
		}
		if err != nil {
			c.decodeError(o, err)
		}
		if typed != nil && err == nil || runtime.IsStrictDecodingError(err) {
			o.typed = typed
		}
	case c.crds != nil && c.crds.Known(o.apiVersion, o.kind):
		for _, fe := range c.crds.Validate(o.content) {
			c.add(o, Error, fe.Path, "%s", fe.Message)
		}
	default:
		if alt := otherVersions(gvk); len(alt) > 0 {
			c.add(o, Error, "apiVersion", "%s %s is not served by Kubernetes 1.34; valid apiVersions for %s: %s", o.apiVersion, o.kind, o.kind, strings.Join(alt, ", "))
			return
		}
		if bad, ok := c.invalidCRDs[gvk.GroupKind()]; ok {
			c.add(o, Warning, "", "not validated: its %s is invalid (see %s)", bad.name, bad.at)
			break
		}
		c.add(o, Warning, "", "no schema for apiVersion %q kind %q: it is not a built-in type and no CustomResourceDefinition for it is in the overlay or in validation.crds; the object is not validated", o.apiVersion, o.kind)
	}
	c.checkMeta(o)
}

// KubernetesMinor is the Kubernetes 1.x release objects are validated
// against: the version of k8s.io/api driftless is built with.
const KubernetesMinor = 34

type lifecycled interface {
	APILifecycleDeprecated() (major, minor int)
	APILifecycleRemoved() (major, minor int)
}

type replaced interface {
	APILifecycleReplacement() schema.GroupVersionKind
}

// lifecycle reports API versions Kubernetes no longer serves (client-go's
// scheme still knows them) or has deprecated, from the lifecycle k8s.io/api
// generates for every beta type. It returns true when the object cannot be
// applied at all.
func (c *checker) lifecycle(o *object, typed runtime.Object) bool {
	l, ok := typed.(lifecycled)
	if !ok {
		return false
	}
	instead := ""
	if r, ok := typed.(replaced); ok {
		if g := r.APILifecycleReplacement(); g.Kind != "" {
			instead = "; use " + g.GroupVersion().String() + " " + g.Kind
		}
	}
	if major, minor := l.APILifecycleRemoved(); major == 1 && minor <= KubernetesMinor {
		c.add(o, Error, "apiVersion", "%s %s was removed in Kubernetes %d.%d%s", o.apiVersion, o.kind, major, minor, instead)
		return true
	}
	if major, minor := l.APILifecycleDeprecated(); major == 1 && minor <= KubernetesMinor {
		c.add(o, Warning, "apiVersion", "%s %s is deprecated since Kubernetes %d.%d%s", o.apiVersion, o.kind, major, minor, instead)
	}
	return false
}

func (c *checker) decodeError(o *object, err error) {
	if se, ok := runtime.AsStrictDecodingError(err); ok {
		for _, e := range se.Errors() {
			msg := e.Error()
			path := ""
			if m := quoted.FindStringSubmatch(msg); m != nil {
				path = m[1]
			}
			switch {
			case strings.HasPrefix(msg, "unknown field"):
				c.add(o, Error, path, "unknown field (not in %s %s)", o.apiVersion, o.kind)
			case strings.HasPrefix(msg, "duplicate field"):
				c.add(o, Error, path, "duplicate field")
			default:
				c.add(o, Error, "", "%s", msg)
			}
		}
		return
	}
	msg := err.Error()
	if m := typeError.FindStringSubmatch(msg); m != nil {
		c.add(o, Error, strings.TrimPrefix(m[2], "."), "wrong type: got %s, want %s", m[1], strings.TrimPrefix(m[3], "[]"))
		return
	}
	c.add(o, Error, "", "does not decode as %s %s: %s", o.apiVersion, o.kind, msg)
}

// otherVersions lists the apiVersions that do serve kind in gvk's group.
func otherVersions(gvk schema.GroupVersionKind) []string {
	var out []string
	for k := range scheme.Scheme.AllKnownTypes() {
		if k.Kind == gvk.Kind && k.Group == gvk.Group && k.Version != runtime.APIVersionInternal {
			out = append(out, k.GroupVersion().String())
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (c *checker) checkMeta(o *object) {
	if o.name != "" {
		for _, e := range nameErrors(o) {
			c.add(o, Error, "metadata.name", "invalid name %q: %s", o.name, e)
		}
	}
	labels, _ := lookup(o.content, "metadata", "labels").(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, e := range utilvalidation.IsQualifiedName(k) {
			c.add(o, Error, "metadata.labels."+k, "invalid label key %q: %s", k, e)
		}
		if v, ok := labels[k].(string); ok {
			for _, e := range utilvalidation.IsValidLabelValue(v) {
				c.add(o, Error, "metadata.labels."+k, "invalid label value %q: %s", v, e)
			}
		}
	}
}

func lookup(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// workload is what the policies need to know about a pod-running object.
type workload struct {
	o *object
	// pod is the object's pod spec, until its own policies are checked.
	pod      *corev1.PodSpec
	podPath  string
	replicas int32
	// strategy is "RollingUpdate", "Recreate" or "" (not a Deployment).
	strategy string
	kind     string
	// claims are the pod's PersistentVolumeClaim volumes.
	claims    []claimVolume
	singleton bool
}

// claimVolume is a pod volume that mounts a PersistentVolumeClaim.
type claimVolume struct {
	index int // in the pod's volumes
	claim string
}

func workloadOf(o *object) *workload {
	one := func(r *int32) int32 {
		if r == nil {
			return 1
		}
		return *r
	}
	switch t := o.typed.(type) {
	case *appsv1.Deployment:
		s := string(t.Spec.Strategy.Type)
		if s == "" {
			s = string(appsv1.RollingUpdateDeploymentStrategyType)
		}
		return &workload{o: o, pod: &t.Spec.Template.Spec, podPath: "spec.template.spec", replicas: one(t.Spec.Replicas), strategy: s, kind: "Deployment"}
	case *appsv1.StatefulSet:
		return &workload{o: o, pod: &t.Spec.Template.Spec, podPath: "spec.template.spec", replicas: one(t.Spec.Replicas), kind: "StatefulSet"}
	case *appsv1.DaemonSet:
		return &workload{o: o, pod: &t.Spec.Template.Spec, podPath: "spec.template.spec", replicas: 2, kind: "DaemonSet"}
	case *appsv1.ReplicaSet:
		return &workload{o: o, pod: &t.Spec.Template.Spec, podPath: "spec.template.spec", replicas: one(t.Spec.Replicas), kind: "ReplicaSet"}
	case *batchv1.Job:
		return &workload{o: o, pod: &t.Spec.Template.Spec, podPath: "spec.template.spec", replicas: one(t.Spec.Parallelism), kind: "Job"}
	case *batchv1.CronJob:
		return &workload{o: o, pod: &t.Spec.JobTemplate.Spec.Template.Spec, podPath: "spec.jobTemplate.spec.template.spec", replicas: one(t.Spec.JobTemplate.Spec.Parallelism), kind: "CronJob"}
	case *corev1.Pod:
		return &workload{o: o, pod: &t.Spec, podPath: "spec", replicas: 1, kind: "Pod"}
	}
	return nil
}

// objectPolicies checks the deployment policies that need only o
// (floating images, missing resource requests) and records what those
// across objects (ReadWriteOnce claims under rolling updates, singletons
// that can run twice) need of it, which it returns if o runs pods.
func (c *checker) objectPolicies(o *object) *workload {
	for _, ct := range render.Containers(o.content) {
		if render.RunsPipelineImage(ct.Image, c.pipelineRef) {
			continue // kustomize-render pins it by digest
		}
		if reason := render.Floating(ct.Image, nil); reason != "" {
			c.policy(o, Error, ct.Path+".image", "container %q: image %q %s", ct.Name, ct.Image, reason)
		}
	}
	switch t := o.typed.(type) {
	case *corev1.PersistentVolumeClaim:
		mode := ""
		for _, m := range t.Spec.AccessModes {
			if m == corev1.ReadWriteOnce || m == corev1.ReadWriteOncePod {
				mode = string(m)
			}
		}
		if c.summary.pvcs == nil {
			c.summary.pvcs = map[string]string{}
		}
		c.summary.pvcs[o.namespace+"/"+o.name] = mode
	case *autoscalingv2.HorizontalPodAutoscaler:
		c.summary.hpas = append(c.summary.hpas, hpaTarget{o: o, kind: t.Spec.ScaleTargetRef.Kind, name: t.Spec.ScaleTargetRef.Name, max: t.Spec.MaxReplicas})
	}
	w := workloadOf(o)
	if w == nil {
		return nil
	}
	c.requests(w)
	for i, v := range w.pod.Volumes {
		if v.PersistentVolumeClaim != nil {
			w.claims = append(w.claims, claimVolume{index: i, claim: v.PersistentVolumeClaim.ClaimName})
		}
	}
	w.singleton = c.isSingleton(o)
	w.pod = nil
	c.summary.workloads = append(c.summary.workloads, w)
	return w
}

// crossPolicies checks the policies across one environment's objects.
func (c *checker) crossPolicies() {
	for _, w := range c.summary.workloads {
		c.readWriteOnce(w)
		c.singleton(w)
	}
}

// policyPaths are the fields the policies across objects report at, kept
// when an object is slimmed.
func (o *object) policyPaths(w *workload) []string {
	paths := []string{"kind", "spec.replicas", "spec.strategy", "spec.maxReplicas"}
	if w != nil {
		for _, cv := range w.claims {
			paths = append(paths, fmt.Sprintf("%s.volumes[%d]", w.podPath, cv.index))
		}
	}
	return paths
}

func (c *checker) readWriteOnce(w *workload) {
	if w.kind != "Deployment" && w.kind != "ReplicaSet" {
		return // StatefulSets give each pod its own claim; Jobs do not roll
	}
	for _, cv := range w.claims {
		mode, ok := c.summary.pvcs[w.o.namespace+"/"+cv.claim]
		if !ok || mode == "" {
			continue
		}
		vp := fmt.Sprintf("%s.volumes[%d]", w.podPath, cv.index)
		if w.strategy == string(appsv1.RollingUpdateDeploymentStrategyType) {
			path := "spec.strategy"
			if !w.o.src.has(path) {
				path = vp // an implicit RollingUpdate: point at the volume
			}
			c.policy(w.o, Error, path, "mounts %s PersistentVolumeClaim %q with a RollingUpdate strategy: the new pod can never attach the volume while the old pod holds it; set strategy.type: Recreate", mode, cv.claim)
		}
		if w.replicas > 1 {
			c.policy(w.o, Error, "spec.replicas", "runs %d replicas that all mount %s PersistentVolumeClaim %q: only one pod can attach it", w.replicas, mode, cv.claim)
		}
	}
}

func (c *checker) isSingleton(o *object) bool {
	if v, _ := lookup(o.content, "metadata", "annotations", SingletonAnnotation).(string); v == "true" {
		return true
	}
	appName, _ := lookup(o.content, "metadata", "labels", "app.kubernetes.io/name").(string)
	for _, s := range c.singletons {
		if s == o.name || (appName != "" && s == appName) {
			return true
		}
	}
	return false
}

func (c *checker) singleton(w *workload) {
	if !w.singleton {
		return
	}
	switch {
	case w.kind == "DaemonSet":
		c.policy(w.o, Error, "kind", "declared singleton but a DaemonSet runs one pod per node; use a Deployment with replicas: 1 and strategy Recreate")
	case w.replicas > 1:
		c.policy(w.o, Error, "spec.replicas", "declared singleton but runs %d replicas", w.replicas)
	case w.kind == "Deployment" && w.strategy != string(appsv1.RecreateDeploymentStrategyType):
		c.policy(w.o, Error, "spec.strategy", "declared singleton but uses a RollingUpdate strategy, which starts the new pod before the old one has stopped; set strategy.type: Recreate")
	}
	for _, h := range c.summary.hpas {
		if h.o.namespace == w.o.namespace && h.kind == w.kind && h.name == w.o.name && h.max > 1 {
			c.policy(h.o, Error, "spec.maxReplicas", "scales singleton %s/%s up to %d replicas", w.kind, w.o.name, h.max)
		}
	}
}

func (c *checker) requests(w *workload) {
	check := func(list []corev1.Container, field string) {
		for i, ct := range list {
			var missing []string
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := ct.Resources.Requests[r]; !ok {
					missing = append(missing, string(r))
				}
			}
			if len(missing) > 0 {
				c.policy(w.o, Warning, fmt.Sprintf("%s.%s[%d]", w.podPath, field, i), "container %q has no %s request: the scheduler cannot place it reliably", ct.Name, strings.Join(missing, " or "))
			}
		}
	}
	check(w.pod.InitContainers, "initContainers")
	check(w.pod.Containers, "containers")
}

// representable reports keys that are not strings, which YAML allows and
// JSON, the form every Kubernetes object takes on its way to the API
// server, does not (kustomize build fails on them too). The object is
// marked broken: nothing else can be checked until it is fixed.
func (c *checker) representable(o *object) {
	if jsonKeys(o.content) {
		return
	}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch t := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(t)) {
				walk(t[k], joinPath(path, k))
			}
		case map[any]any:
			keys := slices.SortedFunc(maps.Keys(t), func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
			for _, k := range keys {
				x := t[k]
				if s, ok := k.(string); ok {
					walk(x, joinPath(path, s))
					continue
				}
				o.broken = true
				key := fmt.Sprint(k)
				f := Finding{File: o.src.file, Severity: Error, Env: o.env, Object: o.id()}
				f.Line, f.Col = o.src.position(joinPath(path, key))
				f.Message = fmt.Sprintf("%s: key %s is a %s, not a string: Kubernetes objects are JSON, whose keys are strings; quote it (\"%s\")", orRoot(path), key, yamlType(k), key)
				c.findings = append(c.findings, f)
			}
		case []any:
			for i, x := range t {
				walk(x, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(o.content, "")
}

// jsonKeys reports whether every key in v is a string, as it is in
// nearly every object: then representable has nothing to report, in order.
func jsonKeys(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			if !jsonKeys(x) {
				return false
			}
		}
	case map[any]any:
		return false
	case []any:
		for _, x := range t {
			if !jsonKeys(x) {
				return false
			}
		}
	}
	return true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "the object"
	}
	return path
}

// yamlType names the YAML type a decoded key had.
func yamlType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int, int64, uint64, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
