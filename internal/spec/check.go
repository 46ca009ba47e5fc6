package spec

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // freeze windows name time zones; images may lack zoneinfo

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/robfig/cron/v3"
)

func (p *Pipeline) setDefaults() {
	if p.Versioning.GitTag == "" {
		p.Versioning.GitTag = "semver"
	}
	if p.Versioning.Prerelease == "" {
		p.Versioning.Prerelease = "allow"
	}
	if _, set := p.pos["versioning.prefix"]; !set {
		p.Versioning.Prefix = "v"
	}
	for i := range p.Environments {
		e := &p.Environments[i]
		if _, set := p.pos[fmt.Sprintf("environments[%d].keep", i)]; !set {
			e.Keep = []string{"PersistentVolumeClaim"}
		}
		if e.Timeout.Duration == 0 {
			e.Timeout.Duration = 5 * time.Minute
		}
		if len(e.Waves) > 0 && e.OnFailure == "" {
			e.OnFailure = "rollback-failed"
		}
		if e.Chart != nil && e.Chart.TestHooks == "" {
			e.Chart.TestHooks = "refuse"
		}
		if e.Smoke != nil {
			if e.Smoke.Timeout.Duration == 0 {
				e.Smoke.Timeout.Duration = 2 * time.Minute
			}
			for j := range e.Smoke.Checks {
				c := &e.Smoke.Checks[j]
				if c.Method == "" {
					c.Method = "GET"
				}
				if c.Status == 0 {
					c.Status = 200
				}
			}
		}
		if pr := e.Promotion; pr != nil {
			if pr.GitTag == "" {
				pr.GitTag = "required"
			}
			if pr.Approval == "" {
				pr.Approval = "none"
			}
			for j := range pr.Freeze {
				if pr.Freeze[j].TimeZone == "" {
					pr.Freeze[j].TimeZone = "UTC"
				}
			}
		}
	}
}

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envVarKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	fileMode  = regexp.MustCompile(`^0?[0-7]{3,4}$`)
)

// check runs the semantic checks that need the whole document.
func (p *Pipeline) check() error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, p.errAt(path, format, args...)) }

	if !dnsLabel.MatchString(p.Name) || len(p.Name) > 63 {
		add("name", "%q is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", p.Name)
	}
	if _, err := name.NewRepository(p.Image.Repository); err != nil || strings.ContainsAny(p.Image.Repository, "@") || hasTag(p.Image.Repository) {
		add("image.repository", "%q is not an image repository; give it without tag or digest, e.g. registry.example.com/team/api", p.Image.Repository)
	}
	if p.Image.Base != "scratch" {
		if _, err := name.ParseReference(p.Image.Base); err != nil {
			add("image.base", "%q is not an image reference; use repo:tag, repo@sha256:..., or scratch", p.Image.Base)
		} else if strings.HasSuffix(p.Image.Base, ":latest") || !hasTag(p.Image.Base) && !strings.Contains(p.Image.Base, "@") {
			add("image.base", "%q floats with 'latest'; name a version tag or a digest so bakes are reproducible", p.Image.Base)
		}
	}
	for i, l := range p.Image.Layers {
		lp := fmt.Sprintf("image.layers[%d]", i)
		if !path.IsAbs(l.To) {
			add(lp+".to", "%q must be an absolute path in the image", l.To)
		}
		if l.Mode != "" && !fileMode.MatchString(l.Mode) {
			add(lp+".mode", "%q is not an octal file mode; write it quoted, e.g. \"0755\"", l.Mode)
		}
		if filepath.IsAbs(l.From) {
			add(lp+".from", "%q must be relative to the spec's directory, so the bake is the same on every machine", l.From)
		}
	}
	for k := range p.Image.Env {
		if !envVarKey.MatchString(k) {
			add("image.env."+k, "%q is not a valid environment variable name", k)
		}
	}
	if s := p.Static; s != nil {
		if !path.IsAbs(s.Path) {
			add("static.path", "%q must be an absolute path in the image, e.g. /var/portal-api/static", s.Path)
		}
		for i, r := range s.Schemas {
			if _, err := path.Match(r.Files, ""); err != nil {
				add(fmt.Sprintf("static.schemas[%d].files", i), "%q is not a valid glob: %v", r.Files, err)
			}
		}
	}

	seen := map[string]int{}
	for i, e := range p.Environments {
		ep := fmt.Sprintf("environments[%d]", i)
		if !dnsLabel.MatchString(e.Name) || len(e.Name) > 63 {
			add(ep+".name", "%q is not a valid environment name: lowercase letters, digits and '-'", e.Name)
		}
		if j, dup := seen[e.Name]; dup {
			add(ep+".name", "environment %q is already defined at environments[%d]; names must be unique", e.Name, j)
		}
		seen[e.Name] = i
		if !dnsLabel.MatchString(e.Namespace) || len(e.Namespace) > 63 {
			add(ep+".namespace", "%q is not a valid namespace name: at most 63 lowercase letters, digits and '-'", e.Namespace)
		}
		if e.URL != "" {
			checkURL(add, ep+".url", e.URL)
		}
		if c := e.Chart; c != nil {
			checkChart(add, ep+".chart", c)
		}
		p.checkWaves(add, i, ep)
		if s := e.Smoke; s != nil {
			if s.URL != "" {
				checkURL(add, ep+".smoke.url", s.URL)
			}
			if s.Service != "" {
				if n, port, ok := strings.Cut(s.Service, ":"); !ok || !dnsLabel.MatchString(n) || port == "" {
					add(ep+".smoke.service", "%q is not name:port (api:80 or api:http)", s.Service)
				}
			}
			for j, c := range s.Checks {
				cp := fmt.Sprintf("%s.smoke.checks[%d]", ep, j)
				if c.Status < 100 || c.Status > 599 {
					add(cp+".status", "%d is not an HTTP status code (100-599)", c.Status)
				}
				if !strings.HasPrefix(c.Path, "/") {
					if u, err := url.Parse(c.Path); err != nil || u.Scheme == "" {
						add(cp+".path", "%q is neither a path starting with / nor an absolute URL", c.Path)
					}
				}
			}
		}
		if pr := e.Promotion; pr != nil {
			if pr.From != "" {
				j, ok := seen[pr.From]
				switch {
				case pr.From == e.Name:
					add(ep+".promotion.from", "environment %q cannot promote from itself", e.Name)
				case !ok || j >= i:
					add(ep+".promotion.from", "%q is not an earlier environment; valid values: %s", pr.From, strings.Join(p.envNames(i), ", "))
				}
			}
			if pr.Soak.Duration > 0 && pr.From == "" {
				add(ep+".promotion.soak", "soak needs promotion.from: it is the minimum age of the evidence from that environment")
			}
			for j, f := range pr.Freeze {
				checkFreeze(add, fmt.Sprintf("%s.promotion.freeze[%d]", ep, j), f)
			}
		}
	}
	return capFindings(p.File, errs, 0)
}

// checkWaves checks environment i's waves: names unique, each cluster
// reachable some way, no two clusters the same.
func (p *Pipeline) checkWaves(add func(string, string, ...any), i int, ep string) {
	e := p.Environments[i]
	if len(e.Waves) == 0 {
		if _, set := p.pos[ep+".onFailure"]; set {
			add(ep+".onFailure", "onFailure says what a failing wave rolls back, and environment %q has no waves; remove it, or list the clusters under waves", e.Name)
		}
		return
	}
	waves := map[string]string{}
	clusters := map[string]string{}
	access := map[[2]string]string{}
	for j, w := range e.Waves {
		wp := fmt.Sprintf("%s.waves[%d]", ep, j)
		if !dnsLabel.MatchString(w.Name) || len(w.Name) > 63 {
			add(wp+".name", "%q is not a valid wave name: lowercase letters, digits and '-'", w.Name)
		}
		if prev, dup := waves[w.Name]; dup {
			add(wp+".name", "wave %q is already defined at %s; wave names must be unique in the environment", w.Name, prev)
		}
		waves[w.Name] = wp
		if _, set := p.pos[wp+".parallelism"]; set && w.Parallelism < 1 {
			add(wp+".parallelism", "%d clusters at once: give 1 or more, or leave it out to deploy all clusters of the wave at once", w.Parallelism)
		}
		for k, c := range w.Clusters {
			cp := fmt.Sprintf("%s.clusters[%d]", wp, k)
			if !dnsLabel.MatchString(c.Name) || len(c.Name) > 63 {
				add(cp+".name", "%q is not a valid cluster name: lowercase letters, digits and '-'", c.Name)
			}
			if prev, dup := clusters[c.Name]; dup {
				add(cp+".name", "cluster %q is already defined at %s; cluster names must be unique in the environment", c.Name, prev)
			}
			clusters[c.Name] = cp
			if c.Context == "" && c.Kubeconfig == "" {
				add(cp, "cluster %q names neither a context nor a kubeconfig: give context (a kubeconfig context), kubeconfig (a file), or both, so it is not whichever cluster the current context is", c.Name)
				continue
			}
			key := [2]string{p.Path(c.Kubeconfig), c.Context}
			if prev, dup := access[key]; dup {
				add(cp, "cluster %q has the same kubeconfig and context as %s: one cluster cannot be deployed twice in an environment", c.Name, prev)
			}
			access[key] = cp
			if c.URL != "" {
				checkURL(add, cp+".url", c.URL)
			}
		}
	}
}

var (
	kubeVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?$`)
	// apiVersion is what helm template --api-versions takes: a group
	// version (v1, apps/v1), optionally with a kind.
	apiVersion = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+[a-z0-9]*(/[A-Za-z][A-Za-z0-9]*)?$`)
	valuesPath = regexp.MustCompile(`^[^.]+(\.[^.]+)*$`)
)

func checkChart(add func(string, string, ...any), cp string, c *Chart) {
	if c.OCI != "" {
		checkOCIChart(add, cp+".oci", c.OCI)
	}
	if c.Path != "" && filepath.IsAbs(c.Path) {
		add(cp+".path", "%q must be relative to the spec's directory", c.Path)
	}
	if c.Release != "" && (!dnsLabel.MatchString(c.Release) || len(c.Release) > 53) {
		add(cp+".release", "%q is not a valid release name: at most 53 lowercase letters, digits and '-', starting and ending with a letter or digit", c.Release)
	}
	for i, v := range c.Values {
		if filepath.IsAbs(v) {
			add(fmt.Sprintf("%s.values[%d]", cp, i), "%q must be relative to the spec's directory", v)
		}
	}
	if !kubeVersion.MatchString(c.KubeVersion) {
		add(cp+".kubeVersion", "%q is not a Kubernetes version; write it as helm template --kube-version takes it, e.g. v1.34.3", c.KubeVersion)
	}
	for i, a := range c.APIVersions {
		if !apiVersion.MatchString(a) {
			add(fmt.Sprintf("%s.apiVersions[%d]", cp, i), "%q is not an API version; write group/version (monitoring.coreos.com/v1) or group/version/Kind (monitoring.coreos.com/v1/ServiceMonitor)", a)
		}
	}
	if iv := c.ImageValues; iv != nil {
		given := 0
		for _, f := range []struct{ field, path string }{{"repository", iv.Repository}, {"digest", iv.Digest}, {"tag", iv.Tag}, {"reference", iv.Reference}} {
			if f.path == "" {
				continue
			}
			given++
			if !valuesPath.MatchString(f.path) {
				add(cp+".imageValues."+f.field, "%q is not a values path; write the keys joined by dots, e.g. image.repository", f.path)
			}
		}
		if given == 0 {
			add(cp+".imageValues", "names no values path; give repository and digest (or reference, or tag) as the chart's values name them, e.g. {repository: image.repository, digest: image.digest}")
		}
	}
}

func checkOCIChart(add func(string, string, ...any), path, ref string) {
	rest, ok := strings.CutPrefix(ref, "oci://")
	if !ok {
		add(path, "%q is not an OCI chart reference; write oci://registry/repo/chart@sha256:<64 hex>", ref)
		return
	}
	if !strings.Contains(rest, "@") {
		add(path, "%q is not pinned by digest: a tag can move; write oci://%s@sha256:<64 hex>, the digest helm push prints", ref, strings.SplitN(rest, ":", 2)[0])
		return
	}
	if _, err := name.NewDigest(rest); err != nil {
		add(path, "%q is not an OCI chart reference pinned by digest (oci://registry/repo/chart@sha256:<64 hex>): %v", ref, err)
	}
}

func (p *Pipeline) envNames(before int) []string {
	var names []string
	for _, e := range p.Environments[:before] {
		names = append(names, e.Name)
	}
	if len(names) == 0 {
		return []string{"(none: the first environment cannot promote from another)"}
	}
	return names
}

func hasTag(ref string) bool {
	last := ref[strings.LastIndex(ref, "/")+1:]
	return strings.Contains(last, ":")
}

func checkURL(add func(string, string, ...any), path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(path, "%q is not an http(s) URL", raw)
	}
}

// CronParser parses freeze windows' cron expressions: five fields, or a
// descriptor such as @weekly.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func checkFreeze(add func(string, string, ...any), fp string, f Freeze) {
	if _, err := time.LoadLocation(f.TimeZone); err != nil {
		add(fp+".timeZone", "%q is not an IANA time zone (Europe/Berlin, UTC)", f.TimeZone)
	}
	switch {
	case f.Cron != "" && (f.Start != "" || f.End != ""):
		add(fp, "give either cron + duration (recurring) or start + end (fixed), not both")
	case f.Cron != "":
		if _, err := CronParser.Parse(f.Cron); err != nil {
			add(fp+".cron", "%q is not a cron expression (minute hour day-of-month month day-of-week, e.g. \"0 18 * * FRI\"): %v", f.Cron, err)
		}
		if f.Duration.Duration <= 0 {
			add(fp+".duration", "a recurring freeze needs a positive duration, e.g. \"62h\"")
		}
	case f.Start != "" || f.End != "":
		s, err1 := time.Parse(time.RFC3339, f.Start)
		if err1 != nil {
			add(fp+".start", "%q is not an RFC 3339 time (2026-12-20T00:00:00Z)", f.Start)
		}
		e, err2 := time.Parse(time.RFC3339, f.End)
		if err2 != nil {
			add(fp+".end", "%q is not an RFC 3339 time (2027-01-02T00:00:00Z)", f.End)
		}
		if err1 == nil && err2 == nil && !e.After(s) {
			add(fp+".end", "the window ends (%s) before it starts (%s)", f.End, f.Start)
		}
	default:
		add(fp, "a freeze window needs cron + duration or start + end")
	}
}

// checkFiles checks that the paths the spec names exist.
func (p *Pipeline) checkFiles() error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, p.errAt(path, format, args...)) }
	for i, e := range p.Environments {
		if c := e.Chart; c != nil {
			p.checkChartFiles(add, fmt.Sprintf("environments[%d].chart", i), c)
			continue
		}
		dir := p.Path(e.Overlay)
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			add(fmt.Sprintf("environments[%d].overlay", i), "overlay %q does not exist (resolved to %s)", e.Overlay, dir)
		case !fi.IsDir():
			add(fmt.Sprintf("environments[%d].overlay", i), "overlay %q is a file; give the directory holding kustomization.yaml", e.Overlay)
		case !hasKustomization(dir):
			add(fmt.Sprintf("environments[%d].overlay", i), "overlay %q has no kustomization.yaml", e.Overlay)
		}
	}
	if s := p.Static; s != nil {
		if fi, err := os.Stat(p.Path(s.Dir)); err != nil || !fi.IsDir() {
			add("static.dir", "static configuration directory %q does not exist", s.Dir)
		}
		for i, r := range s.Schemas {
			if _, err := os.Stat(p.Path(r.Schema)); err != nil {
				add(fmt.Sprintf("static.schemas[%d].schema", i), "schema file %q does not exist", r.Schema)
			}
		}
	}
	for i, e := range p.Environments {
		if e.Promotion == nil {
			continue
		}
		for j, k := range e.Promotion.PublicKeys {
			if _, err := os.Stat(p.Path(k)); err != nil {
				add(fmt.Sprintf("environments[%d].promotion.publicKeys[%d]", i, j), "public key file %q does not exist", k)
			}
		}
	}
	for i, c := range p.Validation.CRDs {
		if _, err := os.Stat(p.Path(c)); err != nil {
			add(fmt.Sprintf("validation.crds[%d]", i), "CRD path %q does not exist", c)
		}
	}
	return capFindings(p.File, errs, 0)
}

func (p *Pipeline) checkChartFiles(add func(string, string, ...any), cp string, c *Chart) {
	if c.Path != "" {
		dir := p.Path(c.Path)
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			add(cp+".path", "chart %q does not exist (resolved to %s)", c.Path, dir)
		case !fi.IsDir():
			add(cp+".path", "chart %q is a file; give the chart's directory, the one holding Chart.yaml (a packaged chart goes to a registry: chart.oci)", c.Path)
		default:
			if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
				add(cp+".path", "chart %q has no Chart.yaml", c.Path)
			}
		}
	}
	for j, v := range c.Values {
		if fi, err := os.Stat(p.Path(v)); err != nil || fi.IsDir() {
			add(fmt.Sprintf("%s.values[%d]", cp, j), "values file %q does not exist", v)
		}
	}
}

// KustomizationFileNames are the names kustomize recognises, in its order.
var KustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func hasKustomization(dir string) bool {
	for _, n := range KustomizationFileNames {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// FileMode parses a layer's mode ("0755").
func (l Layer) FileMode() (os.FileMode, bool) {
	if l.Mode == "" {
		return 0, false
	}
	m, err := strconv.ParseUint(l.Mode, 8, 32)
	return os.FileMode(m), err == nil
}
