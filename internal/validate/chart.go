package validate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/resmap"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
)

// renderEnv renders env's overlay or chart for validation, with the origins
// of its objects. file is where findings about the environment as a whole
// point: the overlay's kustomization, or the chart's Chart.yaml (the
// spec's chart entry for an OCI chart). A render that fails gives the
// findings that say why, pointed at the file and line the failure comes
// from where it can be told.
func renderEnv(p *spec.Pipeline, env *spec.Environment) (m resmap.ResMap, file string, bad []Finding) {
	if env.Chart == nil {
		kfile := kustomizationFile(p.Path(env.Overlay))
		m, err := render.Kustomize(p.Path(env.Overlay), render.Wrapper{Origins: true, Transformations: true})
		if err != nil {
			f := Finding{File: kfile, Severity: Error, Env: env.Name, Message: err.Error()}
			var re *render.Error
			if errors.As(err, &re) {
				f.File, f.Line, f.Message = re.File, re.Line, re.Msg
			}
			return nil, kfile, []Finding{f}
		}
		return m, kfile, nil
	}
	file = chartFile(p, env)
	m, _, err := render.Source(context.Background(), p, env, render.Wrapper{Origins: true}, render.ChartInputs{})
	if err == nil {
		return m, file, nil
	}
	return nil, file, chartFindings(p, env, err)
}

// chartFile is the chart's Chart.yaml, or the spec's line that names an
// OCI chart.
func chartFile(p *spec.Pipeline, env *spec.Environment) string {
	if env.Chart.Path != "" {
		return filepath.Join(p.Path(env.Chart.Path), "Chart.yaml")
	}
	return p.File
}

// chartFindings turns a chart that does not render into findings: values
// the chart's values.schema.json refuses at the values file and line that
// set them, a template error at the template's, hooks at theirs, anything
// else at the spec's chart entry.
func chartFindings(p *spec.Pipeline, env *spec.Environment, err error) []Finding {
	at := specChartFinding(p, env)
	var ve *render.ValuesError
	var te *render.TemplateError
	var he *render.HookError
	switch {
	case errors.As(err, &ve):
		vf := newValuesFiles(p, env)
		var out []Finding
		for _, pr := range ve.Problems {
			f := vf.find(pr.Pointer)
			f.Severity, f.Env = Error, env.Name
			f.Message = fmt.Sprintf("does not match the values.schema.json of chart %s: %s: %s", pr.Chart, displayPointer(pr.Pointer), pr.Msg)
			out = append(out, f)
		}
		return out
	case errors.As(err, &te):
		f := at
		if te.File != "" {
			f = Finding{File: te.File, Line: te.Line, Col: te.Col}
		}
		f.Severity, f.Env = Error, env.Name
		f.Message = fmt.Sprintf("template %s: %s", te.Template, te.Msg)
		return []Finding{f}
	case errors.As(err, &he):
		var out []Finding
		for _, h := range he.Hooks {
			f := at
			if file := render.TemplateFile(p, env.Chart, h.Template); file != "" {
				f = Finding{File: file}
			}
			f.Severity, f.Env, f.Object = Error, env.Name, h.Object
			f.Message = fmt.Sprintf("a Helm hook (%s: %s), which driftless does not run: it applies the chart's objects itself, with no hook phases; ", "helm.sh/hook", h.Events)
			if he.Tests {
				f.Message += "set chart.testHooks: drop to leave test hooks out"
			} else {
				f.Message += "make it a regular object or a CI step before apply-env (see docs/helm.md)"
			}
			out = append(out, f)
		}
		return out
	}
	at.Severity, at.Env, at.Message = Error, env.Name, err.Error()
	return []Finding{at}
}

func specChartFinding(p *spec.Pipeline, env *spec.Environment) Finding {
	for i := range p.Environments {
		if &p.Environments[i] == env || p.Environments[i].Name == env.Name {
			f := Finding{File: p.File}
			f.Line, f.Col = p.Position(fmt.Sprintf("environments[%d].chart", i))
			return f
		}
	}
	return Finding{File: p.File}
}

// valuesFiles are the files an environment's chart values come from, in
// the order they are merged, with the position of every value in them.
type valuesFiles struct {
	files []valuesFile
	// set finds the position of a value chart.set sets in the spec (a
	// dotted path below it), merged after the files.
	set func(dotted string) (Finding, bool)
	// fallback is where a value no file sets is reported: the spec's
	// chart entry.
	fallback Finding
}

type valuesFile struct {
	path string
	doc  dataDoc
}

func newValuesFiles(p *spec.Pipeline, env *spec.Environment) *valuesFiles {
	vf := &valuesFiles{fallback: specChartFinding(p, env)}
	for i := range p.Environments {
		if p.Environments[i].Name != env.Name {
			continue
		}
		prefix := fmt.Sprintf("environments[%d].chart.set.", i)
		vf.set = func(dotted string) (Finding, bool) {
			line, col := p.Position(prefix + dotted)
			return Finding{File: p.File, Line: line, Col: col}, line > 0
		}
	}
	add := func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			return
		}
		docs, bad := parseYAMLFile(path, data)
		if len(bad) > 0 || len(docs) != 1 {
			return
		}
		vf.files = append(vf.files, valuesFile{path, docs[0]})
	}
	// The chart's own defaults come first: a value only they set is
	// reported there.
	if env.Chart.Path != "" {
		add(filepath.Join(p.Path(env.Chart.Path), "values.yaml"))
	}
	for _, v := range env.Chart.Values {
		add(p.Path(v))
	}
	return vf
}

// find is where the value at ptr is set: the file whose value is the
// nearest to it (the value itself, else its closest ancestor other than
// the whole document), the later file when two are as near, as the later
// file's value is the one merged.
func (vf *valuesFiles) find(ptr string) Finding {
	best, bestLen := vf.fallback, -1
	for _, f := range vf.files {
		for q := ptr; q != ""; q = q[:max(strings.LastIndexByte(q, '/'), 0)] {
			pos, ok := f.doc.pos[q]
			if !ok {
				continue
			}
			if len(q) >= bestLen {
				best, bestLen = Finding{File: f.path, Line: pos.line, Col: pos.col}, len(q)
			}
			break
		}
	}
	if vf.set != nil {
		for q := ptr; q != ""; q = q[:max(strings.LastIndexByte(q, '/'), 0)] {
			if f, ok := vf.set(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(q[1:], "/", "."), "~1", "/"), "~0", "~")); ok && len(q) >= bestLen {
				return f
			}
		}
	}
	return best
}
