package smoketest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/driftless-dev/driftless/internal/access"
	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/evidence"
	"github.com/driftless-dev/driftless/internal/githubdeploy"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/smoke"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// The step's own inputs.
var (
	inEnv             = step.Input{Name: "env", Description: "The environment to check (a name from the spec)."}
	inUrl             = step.Input{Name: "url", Description: "Base URL the checks' paths are relative to; defaults to the environment's smoke.url, then its url; without one the Service is reached through the Kubernetes API."}
	inService         = step.Input{Name: "service", Description: "Service (name:port) reached through the Kubernetes API server's service proxy when there is no URL; defaults to the environment's smoke.service."}
	inTimeout         = step.Input{Name: "timeout", Description: "Deadline for all checks to pass, retries included; defaults to the environment's smoke.timeout (2m).", Kind: step.Duration}
	inCheck           = step.Input{Name: "check", Description: "An extra check: a path relative to the base URL, or an absolute URL."}
	inCheckName       = step.Input{Name: "check-name", Description: "Name of the extra check in reports; defaults to its path."}
	inCheckMethod     = step.Input{Name: "check-method", Description: "HTTP method of the extra check.", Default: "GET", Choices: smoke.Methods}
	inCheckHeaders    = step.Input{Name: "check-headers", Description: "Request headers of the extra check, one `Name: value` per line; ${VAR} takes the value of an environment variable and masks it."}
	inCheckBody       = step.Input{Name: "check-body", Description: "Request body of the extra check."}
	inCheckStatus     = step.Input{Name: "check-status", Description: "Expected status of the extra check.", Default: "200", Kind: step.Int}
	inCheckContains   = step.Input{Name: "check-contains", Description: "Text the extra check's response body must contain."}
	inCheckJson       = step.Input{Name: "check-json", Description: "Fields the extra check's JSON body must have, one `dot.path=value` per line."}
	inCheckMaxLatency = step.Input{Name: "check-max-latency", Description: "Slowest acceptable answer to the extra check, e.g. 500ms.", Kind: step.Duration}
	inRelease         = step.Input{Name: "release", Description: "Version the live service must report; defaults to the driftless.dev/version annotation of the live Deployment, else the Git tag being built."}
	inConfigRevision  = step.Input{Name: "config-revision", Description: "Configuration revision the live service must report; defaults to the driftless.dev/config-revision annotation of the live Deployment, else the revision of the spec's static directory."}
	inImage           = step.Input{Name: "image", Description: "The image deployed, pinned by digest (repo@sha256:...), which evidence is attached to; defaults to the driftless.dev/image annotation of the live Deployment."}
	inGitSha          = step.Input{Name: "git-sha", Description: "Commit deployed, recorded in the evidence and ${gitSha}; defaults to the driftless.dev/git-sha annotation of the live Deployment, else the commit being built."}
	inJunit           = step.Input{Name: "junit", Description: "Write a JUnit XML report to this file (GitLab `artifacts: reports: junit`, GitHub test reporters)."}
	inRecordEvidence  = step.Input{Name: "record-evidence", Description: "When every check passed, attach verified-in-environment evidence to the image digest.", Kind: step.Bool, Default: "true"}
	inSigningKey      = step.Input{Name: "signing-key", Description: "Sign the evidence with this PEM PKCS#8 private key (ed25519 or ECDSA P-256): the key itself, or a file holding it.", Secret: true}
	inCiEnvironment   = step.Input{Name: "ci-environment", Description: "The GitHub environment whose deployment status is set, when its name differs from the driftless environment's."}
	inWave            = step.Input{Name: "wave", Description: "With waves: check only the clusters of this wave (smoke-test after each wave); evidence is recorded only when the last wave passes (or every cluster is checked)."}
)

var Definition = step.Definition{
	Name:    "smoke-test",
	Summary: "Run HTTP checks against a deployed environment, verify the live version and configuration revision, and record evidence on the image digest.",
	Inputs: append(append([]step.Input{
		inEnv, inUrl, inService, inTimeout, inCheck, inCheckName, inCheckMethod, inCheckHeaders, inCheckBody, inCheckStatus, inCheckContains, inCheckJson, inCheckMaxLatency, inRelease, inConfigRevision, inImage, inGitSha, inJunit, inRecordEvidence, inSigningKey, inCiEnvironment, inWave,
	}, kube.Inputs...), access.RegistryInputs...),
	Outputs: []step.Output{
		{Name: "passed", Description: "Number of checks that passed."},
		{Name: "failed", Description: "Number of checks that failed."},
		{Name: "evidence", Description: "The evidence recorded, repo@sha256:... of the referrer manifest; empty when none was recorded."},
	},
}

func Run(ctx context.Context, s *step.Context) error {
	p, err := spec.Load(s.String(step.SpecInput))
	if err != nil {
		return err
	}
	env, err := p.Environment(s.String(inEnv))
	if err != nil {
		return fmt.Errorf("input %q: %w", "env", err)
	}
	sm := env.Smoke
	if sm == nil {
		sm = &spec.Smoke{Timeout: spec.Duration{Duration: 2 * time.Minute}}
	}
	ci := s.CI(ctx)
	if t := s.Getenv("GITHUB_TOKEN"); t != "" {
		s.Mask(t)
	}

	checks := smoke.FromSpec(sm.Checks)
	extra, err := flagCheck(s)
	if err != nil {
		return err
	}
	if extra != nil {
		checks = append(checks, *extra)
	}
	timeout := sm.Timeout.Duration
	if s.IsSet(inTimeout) {
		timeout = s.Duration(inTimeout)
	}
	reg := access.Registry(s, ci, Definition.Name)
	given := meta.Release{Version: s.String(inRelease), GitSHA: s.String(inGitSha), Image: s.String(inImage), ConfigRevision: s.String(inConfigRevision)}
	if given.Image != "" {
		if _, err := name.NewDigest(given.Image, reg.NameOptions()...); err != nil {
			return fmt.Errorf("input %q: %q is not an image pinned by digest (repo@sha256:<64 hex>, as bake-image outputs): %w", "image", given.Image, err)
		}
	}
	var signer *evidence.Signer
	if key := s.String(inSigningKey); key != "" && s.Bool(inRecordEvidence) {
		if signer, err = loadSigner(key); err != nil {
			return err
		}
	}

	if len(env.Waves) > 0 && !s.IsSet(inUrl) {
		return runClusters(ctx, s, p, env, ci, sm, checks, timeout, given, signer, reg)
	}
	if s.IsSet(inWave) {
		return fmt.Errorf("input %q chooses among an environment's waves, and environment %q has none (or input url is set)", inWave.Name, env.Name)
	}
	tg, kc, err := target(ctx, s, env, sm)
	if err != nil {
		return err
	}
	rel, err := expected(ctx, s, p, env, ci, given, tg, kc)
	if err != nil {
		return err
	}
	checks, err = releaseChecks(s, rel, checks)
	if err != nil {
		return err
	}

	s.Logf("smoke-test: checking %s at %s: %d check(s), deadline %s", env.Name, tg.Description, len(checks), timeout)
	r := &smoke.Runner{Logf: func(format string, args ...any) { s.Logf("smoke-test: "+format, args...) }}
	rep := r.Run(ctx, smoke.Suite{Environment: env.Name, Target: tg.Target, Checks: checks, Timeout: timeout})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smoke-test of %s interrupted: %w", env.Name, err)
	}
	masked := rep.Mask(s.MaskString)
	printResults(s, &masked)
	s.SetOutput("passed", strconv.Itoa(rep.Passed()))
	s.SetOutput("failed", strconv.Itoa(rep.Failed()))
	if err := writeJUnit(s, &masked); err != nil {
		return err
	}
	// The Deployment of this run's job that declares the environment, else
	// the one apply-env created for this commit, environment and digest,
	// else a new one.
	var gh *githubdeploy.Tracker
	if ci.Provider == step.ProviderGitHub {
		gh = githubdeploy.Track(ctx, githubdeploy.TrackOptions{
			Step: Definition.Name, APIURL: s.Getenv("GITHUB_API_URL"), Token: access.GitHubToken(s), Repository: ci.Repository,
			Request: githubdeploy.Request{Environment: firstNonEmpty(s.String(inCiEnvironment), env.Name), SHA: firstNonEmpty(ci.SHA, rel.GitSHA), Digest: rel.Digest(), Version: rel.Version,
				Description: "driftless smoke-test " + rel.Version, RunID: s.Getenv("GITHUB_RUN_ID")},
			Status: githubdeploy.Status{EnvironmentURL: tg.External, LogURL: ci.RunURL}, Logf: s.Logf,
		})
	}

	if rep.Failed() > 0 {
		s.Summary(summary(env, tg, rel, &masked, ""))
		gh.Finish(ctx, githubdeploy.StateFailure, fmt.Sprintf("smoke-test: %d of %d checks failed", rep.Failed(), len(rep.Results)))
		return step.Failed(fmt.Errorf("%d of %d check(s) failed in %s; see the results above", rep.Failed(), len(rep.Results), env.Name))
	}
	ref, err := record(ctx, s, env, ci, rel, &masked, signer, reg)
	s.Summary(summary(env, tg, rel, &masked, ref))
	gh.Finish(ctx, githubdeploy.StateSuccess, fmt.Sprintf("smoke-test: %d checks passed", rep.Passed()))
	if err != nil {
		return err
	}
	s.Logf("smoke-test: %s verified: %d check(s) passed", env.Name, rep.Passed())
	return nil
}

// flagCheck is the check given with the check-* inputs, or nil.
func flagCheck(s *step.Context) (*smoke.Check, error) {
	path := s.String(inCheck)
	if path == "" {
		for _, in := range []step.Input{inCheckName, inCheckHeaders, inCheckBody, inCheckContains, inCheckJson, inCheckMaxLatency} {
			if s.IsSet(in) {
				return nil, fmt.Errorf("input %q describes the extra check, but input %q, its path, is empty", in.Name, inCheck.Name)
			}
		}
		return nil, nil
	}
	c := &smoke.Check{Name: s.String(inCheckName), Path: path, Method: s.String(inCheckMethod), Body: s.String(inCheckBody), Contains: s.String(inCheckContains)}
	if c.Name == "" {
		c.Name = path
	}
	var errs []error
	var err error
	if c.Status = s.Int(inCheckStatus); c.Status < 100 || c.Status > 599 {
		errs = append(errs, fmt.Errorf("input %q: %d is not an HTTP status code (100-599)", inCheckStatus.Name, c.Status))
	}
	c.MaxLatency = s.Duration(inCheckMaxLatency)
	if c.Headers, err = pairs(s.String(inCheckHeaders), ":", inCheckHeaders.Name, "Authorization: Bearer ${TOKEN}"); err != nil {
		errs = append(errs, err)
	}
	if c.JSON, err = pairs(s.String(inCheckJson), "=", inCheckJson.Name, "configRevision=${configRevision}"); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// pairs reads one key-sep-value pair per line.
func pairs(v, sep, input, example string) (map[string]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, sep)
		if !ok || strings.TrimSpace(k) == "" {
			// The line may hold a secret; say where, not what.
			return nil, fmt.Errorf("input %q: line %d is not `key%svalue` (e.g. %s)", input, i+1, sep, example)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return m, nil
}

// checkTarget is where the checks go, and how to show it.
type checkTarget struct {
	*smoke.Target
	// External is the environment's URL, for GitHub's deployment status;
	// empty for a Service reached through the Kubernetes API.
	External string
}

// target picks the base URL, or the Service through the Kubernetes API.
// kc is set when the cluster is reachable (always for a Service; for a
// URL only when cluster access was given explicitly).
func target(ctx context.Context, s *step.Context, env *spec.Environment, sm *spec.Smoke) (*checkTarget, kubernetes.Interface, error) {
	base := firstNonEmpty(s.String(inUrl), sm.URL, env.URL)
	explicit := kube.Given(s)
	if base != "" {
		tg, err := smoke.URLTarget(base)
		if err != nil {
			return nil, nil, fmt.Errorf("environment %q: %w", env.Name, err)
		}
		if !explicit {
			return &checkTarget{Target: tg, External: base}, nil, nil
		}
		_, kc, err := connect(ctx, s)
		if err != nil {
			// The checks do not need the cluster; only the defaults of
			// what to expect do.
			s.Logf("smoke-test: warning: %v; expecting what the inputs and the CI context say", err)
			return &checkTarget{Target: tg, External: base}, nil, nil
		}
		return &checkTarget{Target: tg, External: base}, kc, nil
	}
	service := firstNonEmpty(s.String(inService), sm.Service)
	if service == "" {
		return nil, nil, fmt.Errorf("environment %q has no URL to check: set its url or smoke.url, or smoke.service (name:port) to reach the Service through the Kubernetes API; or pass url or service", env.Name)
	}
	svc, err := smoke.ServiceName(service)
	if err != nil {
		return nil, nil, fmt.Errorf("environment %q: %w", env.Name, err)
	}
	cfg, kc, err := connect(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	tg, err := smoke.ServiceTarget(cfg, env.Namespace, service)
	if err != nil {
		return nil, nil, fmt.Errorf("environment %q: %w", env.Name, err)
	}
	// An API server that cannot be reached, or refuses these credentials,
	// means the step could not run; it says nothing about the service.
	if _, err := kc.CoreV1().Services(env.Namespace).Get(ctx, svc, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("Service/%s/%s not found: is smoke.service (%q) right, and was the environment deployed?", env.Namespace, svc, service)
		}
		return nil, nil, fmt.Errorf("reading Service/%s/%s from the cluster at %s: %w", env.Namespace, svc, cfg.Host, err)
	}
	return &checkTarget{Target: tg}, kc, nil
}

// connect loads cluster access as apply-env does, as smoke-test.
func connect(ctx context.Context, s *step.Context) (*rest.Config, kubernetes.Interface, error) {
	clients, err := kube.ForStep(ctx, s, Definition.Name)
	if err != nil {
		return nil, nil, err
	}
	return clients.Config, clients.Kube, nil
}

// expected is the release the live service must be: inputs, else what
// kustomize-render recorded on the live Deployment, else the CI context.
func expected(ctx context.Context, s *step.Context, p *spec.Pipeline, env *spec.Environment, ci step.CI, given meta.Release, tg *checkTarget, kc kubernetes.Interface) (meta.Release, error) {
	sources := []meta.Source{
		{Name: "input release", Release: meta.Release{Version: given.Version}},
		{Name: "input config-revision", Release: meta.Release{ConfigRevision: given.ConfigRevision}},
		{Name: "input image", Release: meta.Release{Image: given.Image}},
		{Name: "input git-sha", Release: meta.Release{GitSHA: given.GitSHA}},
	}
	rel, _ := meta.Resolve(sources...)
	complete := rel.Version != "" && rel.ConfigRevision != "" && rel.Image != "" && rel.GitSHA != ""
	if !complete && kc != nil {
		service := firstNonEmpty(s.String(inService), smokeService(env))
		recorded, src, err := smoke.Recorded(ctx, kc, env.Namespace, service)
		switch {
		case err != nil && tg.External == "":
			return rel, err
		case err != nil:
			s.Logf("smoke-test: warning: %v; expecting what the inputs and the CI context say", err)
		case src == "":
			s.Logf("smoke-test: no Deployment in namespace %s carries the release annotations kustomize-render records", env.Namespace)
		default:
			sources = append(sources, meta.Source{Name: src, Release: recorded})
		}
	}
	sources = append(sources,
		meta.Source{Name: "the Git tag being built", Release: meta.Release{Version: ci.Tag}},
		meta.Source{Name: "the commit being built", Release: meta.Release{GitSHA: ci.SHA}})
	if rel, _ = meta.Resolve(sources...); rel.ConfigRevision == "" && p.Static != nil {
		rev, err := configrev.Dir(p.Path(p.Static.Dir))
		if err != nil {
			return rel, err
		}
		sources = append(sources, meta.Source{Name: "the spec's static directory " + p.Static.Dir, Release: meta.Release{ConfigRevision: rev}})
	}
	rel, from := meta.Resolve(sources...)
	for _, f := range []struct{ field, value string }{{meta.FieldVersion, rel.Version}, {meta.FieldConfigRevision, rel.ConfigRevision}, {meta.FieldImage, rel.Image}, {meta.FieldGitSHA, rel.GitSHA}} {
		if f.value == "" {
			s.Logf("smoke-test: %s: unknown", f.field)
			continue
		}
		s.Logf("smoke-test: %s: %s (from %s)", f.field, f.value, from[f.field])
	}
	if rel.Version == "" {
		s.Logf("smoke-test: warning: the version deployed is unknown, so only the configuration revision of the live service is verified; pass release")
	}
	return rel, nil
}

func smokeService(env *spec.Environment) string {
	if env.Smoke == nil {
		return ""
	}
	return env.Smoke.Service
}

// withInputHints says which input supplies an unknown release variable.
func withInputHints(err error) error {
	inputs := map[string]string{"version": "release", "gitSha": "git-sha", "digest": "image", "configRevision": "config-revision"}
	var u *smoke.UnknownVariableError
	if errors.As(err, &u) && u.Release {
		return fmt.Errorf("%w (give it with the input %q)", err, inputs[u.Variable])
	}
	return err
}

// loadSigner reads the signing key from the input: PEM, or a file.
func loadSigner(key string) (*evidence.Signer, error) {
	if strings.Contains(key, "-----BEGIN") {
		return evidence.ParseSigner([]byte(key), "(input signing-key)")
	}
	return evidence.LoadSigner(key)
}

func printResults(s *step.Context, rep *smoke.Report) {
	for _, r := range rep.Results {
		if r.Passed {
			s.Logf("smoke-test: ✓ %s: %s %s → %d in %s", r.Name, r.Method, r.Path, r.Status, smoke.RoundLatency(r.Latency))
			continue
		}
		s.Logf("smoke-test: ✗ %s: %s %s after %d attempt(s): %s", r.Name, r.Method, r.URL, r.Attempts, r.Message())
		s.Annotate(step.Annotation{Severity: step.SeverityError, Title: "smoke-test " + rep.Environment + ": " + r.Name, Message: r.Message()})
	}
}

func writeJUnit(s *step.Context, rep *smoke.Report) error {
	path := s.String(inJunit)
	if path == "" {
		return nil
	}
	var b bytes.Buffer
	if err := smoke.WriteJUnit(&b, rep); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(s.MaskString(b.String())), 0o644); err != nil {
		return fmt.Errorf("writing the JUnit report: %w", err)
	}
	return nil
}

// record attaches the evidence that every check passed to the image.
func record(ctx context.Context, s *step.Context, env *spec.Environment, ci step.CI, rel meta.Release, rep *smoke.Report, signer *evidence.Signer, reg registry.Options) (string, error) {
	if !s.Bool(inRecordEvidence) {
		s.Logf("smoke-test: evidence not recorded: record-evidence is false")
		return "", nil
	}
	if rel.Image == "" {
		s.Logf("smoke-test: evidence not recorded: the image deployed is unknown (pass image, or deploy manifests rendered by kustomize-render, which records it on the Deployment)")
		return "", nil
	}
	subject, err := name.NewDigest(rel.Image, reg.NameOptions()...)
	if err != nil {
		return "", fmt.Errorf("recording evidence: the image %q is not pinned by digest: %w", rel.Image, err)
	}
	p := evidence.Predicate{
		Environment:    env.Name,
		VerifiedAt:     time.Now(),
		GitSHA:         rel.GitSHA,
		Version:        rel.Version,
		ConfigRevision: rel.ConfigRevision,
		RunURL:         ci.RunURL,
		CI:             ci.Provider,
	}
	for _, r := range rep.Results {
		p.Checks = append(p.Checks, evidence.Check{
			Name:    r.Name,
			Passed:  r.Passed,
			Detail:  fmt.Sprintf("%s %s → %d after %d attempt(s)", r.Method, r.Path, r.Status, r.Attempts),
			Latency: evidence.Duration(r.Latency),
		})
	}
	ref, err := evidence.Attach(ctx, subject, evidence.NewStatement(subject, p), signer, reg.Remote(ctx))
	if err != nil {
		return "", reg.Explain(fmt.Errorf("recording evidence that %s passed in %s (the checks passed; promotion from %s needs this evidence): %w", subject, env.Name, env.Name, err))
	}
	signed := "unsigned"
	if signer != nil {
		signed = "signed"
	}
	s.SetOutput("evidence", ref.String())
	s.Logf("smoke-test: recorded %s evidence %s", signed, ref)
	if !s.JSON() {
		fmt.Fprintln(s.Stdout, ref.String())
	}
	return ref.String(), nil
}

func summary(env *spec.Environment, tg *checkTarget, rel meta.Release, rep *smoke.Report, evidenceRef string) string {
	var b strings.Builder
	verdict := fmt.Sprintf("✅ %d passed", rep.Passed())
	if rep.Failed() > 0 {
		verdict = fmt.Sprintf("❌ %d of %d failed", rep.Failed(), len(rep.Results))
	}
	unknown := func(v string) string {
		if v == "" {
			return "unknown"
		}
		return "`" + v + "`"
	}
	ev := "not recorded"
	if evidenceRef != "" {
		ev = "`" + evidenceRef + "`"
	}
	fmt.Fprintf(&b, "### smoke-test %s: %s\n\n| | |\n|---|---|\n| target | %s |\n| version | %s |\n| config revision | %s |\n| image | %s |\n| git sha | %s |\n| evidence | %s |\n\n",
		env.Name, verdict, tg.Description, unknown(rel.Version), unknown(rel.ConfigRevision), unknown(rel.Image), unknown(rel.GitSHA), ev)
	b.WriteString(rep.Markdown())
	b.WriteString("\n")
	return b.String()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// errNothingToVerify: no version and no configuration revision to hold the
// live service to.
var errNothingToVerify = errors.New("nothing to verify the live service against: neither the version nor the configuration revision deployed is known; pass release or config-revision, or deploy manifests rendered by kustomize-render (which records them)")

// releaseChecks puts the /version check for rel first, validates the
// checks and expands their variables (secrets masked), leaving checks
// itself untouched.
func releaseChecks(s *step.Context, rel meta.Release, checks []smoke.Check) ([]smoke.Check, error) {
	vc, ok := smoke.VersionCheck(rel)
	if !ok {
		return nil, errNothingToVerify
	}
	cs := append([]smoke.Check{vc}, checks...)
	if err := smoke.Validate(cs); err != nil {
		return nil, err
	}
	for i, c := range cs {
		e, secrets, err := c.Expand(rel, s.Getenv)
		for _, v := range secrets {
			s.Mask(v)
		}
		if err != nil {
			return nil, withInputHints(err)
		}
		cs[i] = e
	}
	return cs, nil
}
