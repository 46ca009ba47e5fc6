package render

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/driftless-dev/driftless/internal/yamlerr"
)

// Error is an overlay kustomize could not render, pointed at the
// kustomization file (and line, when it can be told) that caused it.
type Error struct {
	Overlay string
	File    string
	Line    int
	Msg     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("rendering overlay %q: %s", e.Overlay, e.Msg)
}

var (
	wrapperPrefix = regexp.MustCompile(`^accumulating resources: accumulation err='accumulating resources from '[^']*': '[^']*' must resolve to a file': recursed accumulation of path '[^']*': `)
	missingFile   = regexp.MustCompile(`evalsymlink failure on '([^']+)' : lstat [^:]+: no such file or directory`)
	cycle         = regexp.MustCompile(`cycle detected: candidate root '([^']+)' contains visited root '([^']+)'`)
	unknownField  = regexp.MustCompile(`invalid Kustomization: json: unknown field "([^"]+)"`)
	recursedPath  = regexp.MustCompile(`recursed accumulation of path '([^']+)'`)
	malformedYAML = regexp.MustCompile(`accumulating resources from '([^']+)': MalformedYAMLError: (.*) in File: \S+$`)

	// kustomize's own hints name `kustomize build` flags driftless does
	// not have; these are translated into what to do instead.
	helmFlag       = regexp.MustCompile(`must specify --(enable-helm|helm-command)`)
	loadRestrictor = regexp.MustCompile(`security; file '([^']+)' is not in or below '([^']+)'`)
	externalPlugin = regexp.MustCompile(`external plugins disabled; unable to load external plugin '([^']+)'`)
	chartField     = regexp.MustCompile(`(?m)^(name|repo|version): (\S+)$`)
)

// kustomizeError turns kustomize's nested error text into one message
// about the user's files. tmp, abs and rel name the wrapper and the overlay
// as kustomize saw them; dir is the overlay as the user named it.
func kustomizeError(err error, tmp, abs, rel, dir string) *Error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, tmp+string(filepath.Separator)+"kustomization.yaml", "(driftless wrapper)")
	msg = strings.ReplaceAll(msg, tmp, "(driftless wrapper)")
	msg = strings.ReplaceAll(msg, rel, dir)
	msg = strings.ReplaceAll(msg, abs, dir)
	msg = wrapperPrefix.ReplaceAllString(msg, "")
	e := &Error{Overlay: dir, File: kustomizationIn(dir), Msg: msg}
	// userPath names a path kustomize gave as absolute the way the user
	// named the overlay (a base next to overlay "kz/prod" is "kz/base").
	userPath := func(p string) string {
		if r, err := filepath.Rel(abs, p); err == nil && filepath.IsAbs(p) {
			return filepath.Join(dir, r)
		}
		return p
	}
	// innermost is the kustomization being built when the error happened.
	innermost := func() string {
		if rs := recursedPath.FindAllStringSubmatch(msg, -1); len(rs) > 0 {
			return userPath(rs[len(rs)-1][1])
		}
		return dir
	}
	switch {
	case helmFlag.MatchString(msg):
		e.File = kustomizationIn(innermost())
		uses, config := "helmCharts", ""
		if e.Line = lineOf(e.File, "helmCharts:"); e.Line == 0 {
			uses = "a HelmChartInflationGenerator"
			e.Line, config = pluginEntry(e.File, "HelmChartInflationGenerator")
		}
		e.Msg = fmt.Sprintf("%s uses %s: driftless does not run Helm inside kustomize (kustomize's --enable-helm has no counterpart here), "+
			"but an environment can name the chart itself instead of an overlay (chart: in the spec, see docs/helm.md), or render the chart into plain manifests listed in resources, e.g. %s",
			e.File, uses, helmTemplate(msg+"\n"+config))
	case loadRestrictor.MatchString(msg):
		m := loadRestrictor.FindStringSubmatch(msg)
		kdir := userPath(m[2])
		e.File = kustomizationIn(kdir)
		e.Line = lineOf(e.File, filepath.Base(m[1]))
		e.Msg = fmt.Sprintf("%s names %s, outside its directory: kustomize reads only files in or below a kustomization's directory, "+
			"and driftless keeps that rule (kustomize's --load-restrictor LoadRestrictionsNone has no counterpart here); "+
			"move the file into %s, or share it through a base: a directory with a kustomization of its own, listed in resources",
			e.File, userPath(m[1]), kdir)
	case externalPlugin.MatchString(msg):
		kind := externalPlugin.FindStringSubmatch(msg)[1]
		e.File = kustomizationIn(innermost())
		var config string
		e.Line, config = pluginEntry(e.File, kind)
		what, flags := "an external plugin", "--enable-alpha-plugins"
		if strings.Contains(config, "config.kubernetes.io/function") {
			switch {
			case strings.Contains(config, "exec:"):
				what, flags = "an exec KRM function", "--enable-alpha-plugins --enable-exec"
			case strings.Contains(config, "container:"):
				what = "a containerized KRM function"
			}
		}
		e.Msg = fmt.Sprintf("%s uses %s (kind %s): driftless runs only kustomize's built-in generators and transformers, never a program or container the repository names, "+
			"so kustomize's %s has no counterpart here; use built-in fields instead (patches, replacements, images, labels, configMapGenerator, …), "+
			"or generate the manifests before the pipeline and list them in resources",
			e.File, what, kind, flags)
	case missingFile.MatchString(msg):
		m := missingFile.FindStringSubmatch(msg)
		missing := m[1]
		e.File = kustomizationIn(filepath.Dir(missing))
		e.Line = lineOf(e.File, filepath.Base(missing))
		e.Msg = fmt.Sprintf("%s lists %q, which does not exist", e.File, filepath.Base(missing))
	case cycle.MatchString(msg):
		m := cycle.FindStringSubmatch(msg)
		e.File = kustomizationIn(m[1])
		e.Msg = fmt.Sprintf("cycle of bases: %s includes itself through its resources", m[1])
	case malformedYAML.MatchString(msg):
		m := malformedYAML.FindStringSubmatch(msg)
		// The file is relative to the kustomization being accumulated: the
		// innermost recursed path, else the overlay itself.
		base := dir
		if rs := recursedPath.FindAllStringSubmatch(msg, -1); len(rs) > 0 {
			base = rs[len(rs)-1][1]
		}
		line, text := yamlerr.Position(m[2])
		e.File, e.Line, e.Msg = filepath.Join(base, m[1]), line, "invalid YAML: "+text
	case unknownField.MatchString(msg):
		m := unknownField.FindStringSubmatch(msg)
		e.Line = lineOf(e.File, m[1]+":")
		e.Msg = fmt.Sprintf("unknown field %q in a kustomization (see https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/)", m[1])
	}
	return e
}

func kustomizationIn(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dir, "kustomization.yaml")
}

// lineOf returns the first line of file containing s, or 0.
func lineOf(file, s string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}

// helmTemplate suggests the helm command that renders the chart configured
// in text (kustomize quotes a helmCharts entry in its error).
func helmTemplate(text string) string {
	f := map[string]string{}
	for _, m := range chartField.FindAllStringSubmatch(text, -1) {
		if _, seen := f[m[1]]; !seen {
			f[m[1]] = m[2]
		}
	}
	if f["name"] == "" {
		return "helm template NAME CHART --values VALUES > chart.yaml"
	}
	cmd := "helm template " + f["name"]
	if f["repo"] != "" {
		cmd += " --repo " + f["repo"]
	}
	if f["version"] != "" {
		cmd += " --version " + f["version"]
	}
	return cmd + " > " + f["name"] + ".yaml"
}

// pluginEntry finds the generators, transformers or validators entry of
// the kustomization kfile that configures a plugin of kind: its line in
// kfile (0 if not found) and its configuration.
func pluginEntry(kfile, kind string) (int, string) {
	b, err := os.ReadFile(kfile)
	if err != nil {
		return 0, ""
	}
	var k types.Kustomization
	if err := kyaml.Unmarshal(b, &k); err != nil {
		return 0, ""
	}
	isKind := regexp.MustCompile(`(?m)^[ \t]*kind:[ \t]*["']?` + regexp.QuoteMeta(kind) + `["']?[ \t]*$`)
	for _, entry := range slices.Concat(k.Generators, k.Transformers, k.Validators) {
		if strings.Contains(entry, "\n") { // inline configuration
			if isKind.MatchString(entry) {
				if loc := isKind.FindStringIndex(string(b)); loc != nil {
					return 1 + strings.Count(string(b[:loc[0]]), "\n"), entry
				}
				return 0, entry
			}
			continue
		}
		c, err := os.ReadFile(filepath.Join(filepath.Dir(kfile), entry))
		if err == nil && isKind.Match(c) {
			return lineOf(kfile, entry), string(c)
		}
	}
	return 0, ""
}
