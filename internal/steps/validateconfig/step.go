package validateconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/driftless-dev/driftless/internal/scaffold"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/validate"
)

// The step's own inputs.
var (
	inEnv            = step.Input{Name: "env", Description: "Comma-separated environments to validate; all when empty.", Kind: step.List}
	inManifests      = step.Input{Name: "manifests", Description: "Comma-separated files of already rendered manifests (kustomize-render's output) to validate instead of rendering the overlays.", Kind: step.List}
	inStrict         = step.Input{Name: "strict", Description: "Fail on warnings too.", Kind: step.Bool, Default: "false"}
	inInit           = step.Input{Name: "init", Description: "Write a spec (the spec input's path) and test/prod kustomize overlays for existing manifests, then validate them; never overwrites a file.", Kind: step.Bool, Default: "false"}
	inInitManifests  = step.Input{Name: "init-manifests", Description: "With init: the directory of the service's existing Kubernetes manifests (a kustomize directory, or plain YAML files).", Default: "k8s"}
	inInitImage      = step.Input{Name: "init-image", Description: "With init: the image, as the manifests write it, that driftless bakes and pins; needed when the manifests run several."}
	inInitRepository = step.Input{Name: "init-repository", Description: "With init: the repository bake-image pushes to; defaults to the image's."}
)

var Definition = step.Definition{
	Name:    "validate-config",
	Summary: "Check the pipeline spec, the static configuration, every overlay and every rendered object.",
	Inputs: []step.Input{
		inEnv, inManifests, inStrict, inInit, inInitManifests, inInitImage, inInitRepository,
	},
	Outputs: []step.Output{
		{Name: "errors", Description: "Number of errors found."},
		{Name: "warnings", Description: "Number of warnings found."},
		{Name: "objects", Description: "Number of rendered objects checked."},
		{Name: "findings", Description: "The findings as a JSON array of {file, line, col, severity, env, object, message}."},
	},
}

// maxSummaryFindings bounds the step summary; the log has them all.
const maxSummaryFindings = 50

func Run(ctx context.Context, s *step.Context) error {
	specPath, manifests, envs := s.String(step.SpecInput), s.List(inManifests), s.List(inEnv)
	if s.Bool(inInit) {
		res, err := scaffold.Write(scaffold.Options{Spec: specPath, Manifests: s.String(inInitManifests), Image: s.String(inInitImage), Repository: s.String(inInitRepository)})
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		for _, f := range res.Files {
			s.Logf("validate-config: wrote %s", f)
		}
		s.Logf("validate-config: image %s, pushed to %s; next: the image's base and layers, static configuration and smoke checks in %s, then this step without init", res.Image, res.Repository, specPath)
	}
	report, err := untilDone(ctx, func() (*validate.Report, error) { return check(specPath, manifests, envs) })
	if err != nil {
		return err
	}
	for _, f := range report.Findings {
		fmt.Fprintln(s.Stderr, f.String())
		sev := step.SeverityError
		if f.Severity == validate.Warning {
			sev = step.SeverityWarning
		}
		msg := f.Message
		if f.Object != "" {
			msg = f.Object + ": " + msg
		}
		s.Annotate(step.Annotation{Severity: sev, File: f.File, Line: f.Line, Col: f.Col, Title: "validate-config", Message: msg})
	}
	errs, warns := report.Count(validate.Error), report.Count(validate.Warning)
	s.SetOutput("errors", strconv.Itoa(errs))
	s.SetOutput("warnings", strconv.Itoa(warns))
	s.SetOutput("objects", strconv.Itoa(report.Objects))
	b, err := json.Marshal(orEmpty(report.Findings))
	if err != nil {
		return err
	}
	s.SetOutput("findings", string(b))
	s.Summary(summary(report, errs, warns))
	s.Logf("validate-config: %d object(s) checked, %d error(s), %d warning(s)", report.Objects, errs, warns)
	switch {
	case errs > 0:
		return step.Failed(fmt.Errorf("%d error(s) found", errs))
	case warns > 0 && s.Bool(inStrict):
		return step.Failed(fmt.Errorf("%d warning(s) found and --strict is set", warns))
	}
	return nil
}

// check reads the spec and validates it: the manifests given, or else the
// environments named (all when none).
func check(specPath string, manifests, envs []string) (*validate.Report, error) {
	p, err := spec.Load(specPath)
	switch {
	case err != nil && len(spec.Errors(err)) > 0:
		// A broken spec is what validate-config is for: report it like any
		// other finding.
		report := &validate.Report{}
		for _, e := range spec.Errors(err) {
			report.Findings = append(report.Findings, validate.Finding{File: e.File, Line: e.Line, Col: e.Col, Severity: validate.Error, Message: specMessage(e)})
		}
		return report, nil
	case err != nil:
		return nil, err
	case len(manifests) > 0:
		return validate.Manifests(p, manifests)
	default:
		return validate.Pipeline(p, envs)
	}
}

// untilDone returns fn's result, or ctx's end (SIGTERM, SIGINT) first.
// The validation takes no context, and a read it cannot interrupt (an
// overlay naming a named pipe, which kustomize opens and waits on; a hung
// network file system) must not keep a cancelled step alive: fn is left
// behind, and the process exits.
func untilDone[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("stopped before the validation finished: %w", context.Cause(ctx))
	}
}

func specMessage(e *spec.Error) string {
	if e.Path != "" {
		return e.Path + ": " + e.Msg
	}
	return e.Msg
}

func orEmpty(fs []validate.Finding) []validate.Finding {
	if fs == nil {
		return []validate.Finding{}
	}
	return fs
}

func summary(r *validate.Report, errs, warns int) string {
	var b strings.Builder
	status := "✅ valid"
	if errs > 0 {
		status = "❌ invalid"
	}
	fmt.Fprintf(&b, "### validate-config: %s\n\n| objects | errors | warnings |\n|---:|---:|---:|\n| %d | %d | %d |\n\n", status, r.Objects, errs, warns)
	if len(r.Findings) == 0 {
		return b.String()
	}
	b.WriteString("| where | severity | environment | finding |\n|---|---|---|---|\n")
	for i, f := range r.Findings {
		if i == maxSummaryFindings {
			fmt.Fprintf(&b, "\n… and %d more in the log.\n", len(r.Findings)-i)
			break
		}
		where := f.File
		if f.Line > 0 {
			where = fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		msg := f.Message
		if f.Object != "" {
			msg = "`" + f.Object + "` " + msg
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", where, f.Severity, f.Env, escapeCell(msg))
	}
	return b.String()
}

func escapeCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
