package spec

// Struct tags used by the decoder and the schema generator:
//
//	yaml:"name"      the field's key
//	doc:"..."        its description (editor hover text)
//	enum:"a,b"       the only valid values
//	required:"true"  must be present
//	default:"x"      documented default (applied by setDefaults)
//	pattern:"re"     JSON Schema pattern, for editors only (the Go side checks
//	                 with real parsers in check.go)
//	oneOf:"group"    exactly one of the struct's fields in the group is given
//	                 (checked in check.go; a JSON Schema oneOf for editors)

// APIVersion and Kind identify the current format.
const (
	APIVersion = "driftless.dev/v1alpha1"
	Kind       = "Pipeline"
)

// Pipeline is the root of driftless.yaml.
type Pipeline struct {
	APIVersion   string        `yaml:"apiVersion" required:"true" enum:"driftless.dev/v1alpha1" doc:"Version of the spec format."`
	Kind         string        `yaml:"kind" required:"true" enum:"Pipeline" doc:"Always Pipeline."`
	Name         string        `yaml:"name" required:"true" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"Name of the service; used in labels, leases and release records."`
	Image        Image         `yaml:"image" required:"true" doc:"The immutable image: base, static configuration and binaries baked together."`
	Static       *Static       `yaml:"static" doc:"The static configuration baked into the image; its revision hash identifies the live configuration."`
	Versioning   Versioning    `yaml:"versioning" doc:"How Git tags and image tags name releases."`
	Environments []Environment `yaml:"environments" doc:"Deployment environments, in promotion order. A pipeline that only bakes and tags an image (a tool image no environment runs) has none."`
	Validation   Validation    `yaml:"validation" doc:"Extra inputs and policies for validate-config."`

	// Dir is the directory of the spec file; relative paths are resolved
	// against it.
	Dir string `yaml:"-"`
	// File is the path the spec was read from.
	File string `yaml:"-"`
	// positions of every decoded node, by field path, for semantic errors.
	pos positions `yaml:"-"`
}

// Image describes the image bake-image builds and kustomize-render pins.
type Image struct {
	Repository string            `yaml:"repository" required:"true" doc:"Repository the image is pushed to, without tag or digest: registry.example.com/team/api."`
	Name       string            `yaml:"name" doc:"Image name the manifests use for this image (kustomize images name); defaults to repository. kustomize-render replaces it with repository@digest."`
	Base       string            `yaml:"base" required:"true" doc:"Base image: a tag, a digest, or scratch."`
	Layers     []Layer           `yaml:"layers" doc:"Files and directories added on top of the base, besides the static configuration."`
	Entrypoint []string          `yaml:"entrypoint" doc:"Entrypoint of the image."`
	Cmd        []string          `yaml:"cmd" doc:"Default arguments."`
	Env        map[string]string `yaml:"env" doc:"Environment variables set in the image."`
	Labels     map[string]string `yaml:"labels" doc:"Extra OCI labels."`
	User       string            `yaml:"user" doc:"User (uid[:gid]) the entrypoint runs as."`
}

// Layer is one file or directory added to the image.
type Layer struct {
	From string `yaml:"from" required:"true" doc:"File or directory in the repository."`
	To   string `yaml:"to" required:"true" pattern:"^/" doc:"Absolute path in the image."`
	Mode string `yaml:"mode" pattern:"^0?[0-7]{3,4}$" doc:"Octal file mode as a quoted string, e.g. \"0755\"; default 0644 for files, 0755 for directories."`
}

// Static is the static configuration directory.
type Static struct {
	Dir     string       `yaml:"dir" required:"true" doc:"Directory in the repository holding the static configuration."`
	Path    string       `yaml:"path" required:"true" pattern:"^/" doc:"Absolute path the directory is baked to in the image, e.g. /var/portal-api/static."`
	Schemas []SchemaRule `yaml:"schemas" doc:"JSON Schemas the static files must satisfy."`
}

// SchemaRule applies a JSON Schema to the static files a glob matches.
type SchemaRule struct {
	Files  string `yaml:"files" required:"true" doc:"Glob relative to static.dir, e.g. apis/*.yaml."`
	Schema string `yaml:"schema" required:"true" doc:"Path of the JSON Schema file, relative to the spec."`
}

// Versioning says which Git tags are releases and which image tags follow.
type Versioning struct {
	GitTag     string   `yaml:"gitTag" enum:"semver" default:"semver" doc:"Accepted shape of release tags: semver (v1.2.3, v1.2.3-rc.1)."`
	Prefix     string   `yaml:"prefix" default:"v" doc:"Prefix of release tags; the image tag is the same string."`
	Prerelease string   `yaml:"prerelease" enum:"allow,deny" default:"allow" doc:"Whether pre-release tags (v1.2.3-rc.1) are releases."`
	Floating   []string `yaml:"floating" enum:"minor,major,latest" doc:"Extra image tags kept pointing at the newest release: minor (v1.4), major (v1), latest (only if asked)."`
}

// Environment is one deployment target.
type Environment struct {
	Name      string     `yaml:"name" required:"true" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"Environment name (test, prod)."`
	Overlay   string     `yaml:"overlay" oneOf:"source" doc:"Kustomize overlay directory, relative to the spec. An environment has either an overlay or a chart."`
	Chart     *Chart     `yaml:"chart" oneOf:"source" doc:"Helm chart the environment is rendered from instead of an overlay, in-process with the Helm SDK, then pinned, validated and applied like an overlay's output."`
	Namespace string     `yaml:"namespace" required:"true" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"Namespace the environment lives in; leases and releases are recorded there."`
	URL       string     `yaml:"url" doc:"Base URL of the deployed service, shown in summaries and used by smoke-test."`
	Smoke     *Smoke     `yaml:"smoke" doc:"HTTP checks smoke-test runs after a deployment."`
	Promotion *Promotion `yaml:"promotion" doc:"Gates a release must pass before it is deployed here."`
	Keep      []string   `yaml:"keep" default:"PersistentVolumeClaim" doc:"Kinds never pruned (user data lives there)."`
	Timeout   Duration   `yaml:"timeout" default:"5m" doc:"How long apply-env waits for the environment to become healthy."`
	Waves     []Wave     `yaml:"waves" doc:"Clusters the environment runs in, in ordered waves: apply-env deploys the same release to every cluster of a wave, waits for health everywhere, bakes, then starts the next wave, and stops at the first failing wave. Without waves the environment is one cluster, the one the kubeconfig and context inputs name."`
	OnFailure string     `yaml:"onFailure" enum:"rollback-failed,rollback-wave" default:"rollback-failed" doc:"With waves, what a failing wave rolls back: rollback-failed the clusters whose rollout failed, rollback-wave every cluster of the wave. Earlier waves keep the release; later waves are never touched."`
}

// Wave is a group of clusters deployed together; waves run in order.
type Wave struct {
	Name        string    `yaml:"name" required:"true" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"Wave name (canary, eu, us), unique in the environment."`
	Clusters    []Cluster `yaml:"clusters" required:"true" minItems:"1" doc:"The clusters of the wave."`
	Parallelism int       `yaml:"parallelism" minimum:"1" doc:"How many clusters of the wave are deployed at once; default all of them."`
	Bake        Duration  `yaml:"bake" doc:"How long the wave must hold the release, healthy, before the next wave starts, e.g. 10m; counted from the release's time in each cluster's history, so a re-run does not wait again."`
}

// Cluster is one cluster of a wave: how to reach it.
type Cluster struct {
	Name       string `yaml:"name" required:"true" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"Cluster name (eu-1), unique in the environment; shown in logs, summaries and errors."`
	Context    string `yaml:"context" doc:"Kubeconfig context of the cluster; defaults to the kubeconfig's current context."`
	Kubeconfig string `yaml:"kubeconfig" doc:"Kubeconfig file of the cluster, relative to the spec or absolute; defaults to the step's kubeconfig input, else KUBECONFIG. A cluster gives a context, a kubeconfig or both."`
	URL        string `yaml:"url" doc:"Base URL of the service in this cluster, for smoke-test; without one smoke-test reaches smoke.service through the cluster's API server."`
}

// Chart is a Helm chart an environment is rendered from, as `helm
// template` would render it for these inputs.
type Chart struct {
	Path        string         `yaml:"path" oneOf:"chart" doc:"Chart directory in the repository (the one holding Chart.yaml), relative to the spec. A chart has either a path or an oci reference."`
	OCI         string         `yaml:"oci" oneOf:"chart" pattern:"^oci://[^@]+@sha256:[a-f0-9]{64}$" doc:"Chart in an OCI registry, pinned by digest: oci://registry/repo/chart@sha256:<64 hex> (helm push prints the digest). A tag alone is refused: it can move."`
	Release     string         `yaml:"release" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" doc:"Release name the templates see as .Release.Name; defaults to the pipeline's name."`
	Values      []string       `yaml:"values" doc:"Values files, relative to the spec, merged in order over the chart's values.yaml (a later file wins), as helm -f does."`
	Set         map[string]any `yaml:"set" doc:"Inline values merged over the values files, as one more values file would be."`
	KubeVersion string         `yaml:"kubeVersion" required:"true" pattern:"^v?[0-9]+\\.[0-9]+(\\.[0-9]+)?$" doc:"Kubernetes version of the target cluster (.Capabilities.KubeVersion), as helm template --kube-version: v1.34.3."`
	APIVersions []string       `yaml:"apiVersions" doc:"API versions the target serves beyond Kubernetes' own (.Capabilities.APIVersions), as helm template --api-versions: monitoring.coreos.com/v1 or monitoring.coreos.com/v1/ServiceMonitor."`
	IncludeCRDs bool           `yaml:"includeCRDs" doc:"Render the CustomResourceDefinitions in the chart's crds/ directories too, as helm template --include-crds; apply-env applies them first."`
	ImageValues *ImageValues   `yaml:"imageValues" doc:"Where the chart reads the pipeline's image in its values: driftless sets these values paths to the image bake-image pushed, pinned by digest. The rendered containers are then pinned like an overlay's whether or not the chart reads them."`
	TestHooks   string         `yaml:"testHooks" enum:"refuse,drop" default:"refuse" doc:"Chart test hooks (helm.sh/hook: test) have no place in a deployment: refuse fails the render naming each, drop leaves them out and says so. Every other hook is refused: driftless applies objects itself and has no hook phases."`
}

// ImageValues are values paths (dot-separated keys, image.repository)
// that receive the pipeline's image.
type ImageValues struct {
	Repository string `yaml:"repository" doc:"Values path set to the image's repository (image.repository)."`
	Digest     string `yaml:"digest" doc:"Values path set to the image's digest, sha256:<64 hex> (image.digest)."`
	Tag        string `yaml:"tag" doc:"Values path set to the release version, the Git tag, when the render has one (image.tag)."`
	Reference  string `yaml:"reference" doc:"Values path set to the whole reference, repository@sha256:<64 hex> (image.ref)."`
}

// Smoke is the set of checks smoke-test runs.
type Smoke struct {
	URL     string   `yaml:"url" doc:"Base URL the checks' paths are relative to; defaults to the environment's url, else the Service through the Kubernetes API."`
	Service string   `yaml:"service" doc:"Service (name:port) reached through the Kubernetes API when there is no URL."`
	Timeout Duration `yaml:"timeout" default:"2m" doc:"Deadline for all checks to pass, retries included."`
	Checks  []Check  `yaml:"checks" doc:"HTTP checks; /version is always verified besides these."`
}

// Check is one HTTP check.
type Check struct {
	Name       string            `yaml:"name" required:"true" doc:"Name shown in reports."`
	Path       string            `yaml:"path" required:"true" doc:"Path relative to the base URL, or an absolute URL."`
	Method     string            `yaml:"method" enum:"GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS" default:"GET" doc:"HTTP method."`
	Headers    map[string]string `yaml:"headers" doc:"Request headers; ${VAR} takes the value from the environment and is masked."`
	Body       string            `yaml:"body" doc:"Request body."`
	Status     int               `yaml:"status" default:"200" minimum:"100" maximum:"599" doc:"Expected status code."`
	Contains   string            `yaml:"contains" doc:"Text the response body must contain."`
	JSON       map[string]string `yaml:"json" doc:"Fields (dot paths) the JSON body must have, with expected values; ${version}, ${gitSha}, ${digest}, ${configRevision} refer to the release."`
	MaxLatency Duration          `yaml:"maxLatency" doc:"Slowest acceptable response, e.g. 500ms."`
}

// Promotion gates a deployment into an environment.
type Promotion struct {
	From     string   `yaml:"from" doc:"Environment whose verified evidence the digest must have (an earlier environment)."`
	Soak     Duration `yaml:"soak" doc:"Minimum age of that evidence, e.g. 30m."`
	GitTag   string   `yaml:"gitTag" enum:"required,optional" default:"required" doc:"required: only release tags deploy here, never a branch build."`
	Approval string   `yaml:"approval" enum:"none,github,gitlab" default:"none" doc:"Require the CI's environment protection: github (required reviewers on the GitHub environment) or gitlab (protected environment)."`
	Freeze   []Freeze `yaml:"freeze" doc:"Windows in which nothing is deployed."`
	// PublicKeys verify the evidence promotion.from asks for.
	PublicKeys []string `yaml:"publicKeys" doc:"PEM public keys (ed25519 or ECDSA P-256), relative to the spec, one of which must have signed the evidence from the earlier environment; unsigned evidence is accepted when empty."`
}

// Freeze is a window in which nothing deploys: either recurring (cron +
// duration) or fixed (start + end).
type Freeze struct {
	Name     string   `yaml:"name" required:"true" doc:"Name shown when the window refuses a deployment."`
	Cron     string   `yaml:"cron" doc:"Recurring window start, a five-field cron expression (0 18 * * FRI)."`
	Duration Duration `yaml:"duration" doc:"Length of a recurring window in wall-clock time of timeZone, e.g. 62h (Friday 18:00 to Monday 08:00, across DST changes too)."`
	Start    string   `yaml:"start" doc:"Start of a fixed window, RFC 3339 (2026-12-20T00:00:00Z)."`
	End      string   `yaml:"end" doc:"End of a fixed window, RFC 3339."`
	TimeZone string   `yaml:"timeZone" default:"UTC" doc:"IANA time zone of the cron expression (Europe/Berlin)."`
}

// Validation holds validate-config's extra inputs and policies.
type Validation struct {
	CRDs       []string `yaml:"crds" doc:"Files or directories with CustomResourceDefinitions to validate custom resources against, besides CRDs in the overlays."`
	Singletons []string `yaml:"singletons" doc:"Workloads (metadata.name or app.kubernetes.io/name) that must never run two pods at once; the annotation driftless.dev/singleton: \"true\" declares one too."`
}
