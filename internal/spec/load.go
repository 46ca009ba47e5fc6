package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/driftless-dev/driftless/internal/yamlerr"
)

// Load reads and checks the spec at path. The error, if any, joins one
// *Error per problem found (see Errors); a returned Pipeline is complete,
// defaulted and consistent.
func Load(path string) (*Pipeline, error) {
	data, err := readSpec(path)
	if err != nil {
		return nil, err
	}
	p, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if err := p.checkFiles(); err != nil {
		return nil, err
	}
	return p, nil
}

// readSpec reads the spec file, no more than MaxFileSize bytes of it.
func readSpec(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: path, Msg: "no pipeline spec here; create one (see https://github.com/driftless-dev/driftless/blob/main/README.md#the-pipeline-spec) or pass --spec"}
		}
		return nil, &Error{File: path, Msg: fmt.Sprintf("reading the pipeline spec: %v", err)}
	}
	defer f.Close()
	data, err := readCapped(path, f)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return nil, err
		}
		return nil, &Error{File: path, Msg: fmt.Sprintf("reading the pipeline spec: %v", err)}
	}
	return data, nil
}

// Parse decodes and checks a spec without looking at the file system (paths
// in it are not checked for existence; Load does that). file names the
// source in errors.
// Beyond one of the caps (MaxFileSize, MaxItems, MaxAliases, MaxAliasBytes)
// the error is one *LimitError instead.
func Parse(file string, data []byte) (*Pipeline, error) {
	if err := checkSize(file, data); err != nil {
		return nil, err
	}
	root, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	if err := checkLimits(file, root); err != nil {
		return nil, err
	}
	d := &decoder{file: file, pos: positions{}}
	p := &Pipeline{File: file, Dir: filepath.Dir(file)}
	d.decode(root, reflect.ValueOf(p).Elem(), "")
	if d.found > 0 {
		return nil, capFindings(file, d.errs, d.found-len(d.errs))
	}
	p.pos = d.pos
	p.setDefaults()
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// parseYAML returns the single document's root node.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the pipeline spec is empty; it needs at least apiVersion, kind, name, image and environments"}
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Col: extra.Column, Msg: "a second YAML document; the pipeline spec is one document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "the pipeline spec is empty; it needs at least apiVersion, kind, name, image and environments"}
	}
	return doc.Content[0], nil
}

func yamlError(file string, err error) error {
	line, text := yamlerr.Position(err.Error())
	e := &Error{File: file, Line: line, Msg: "invalid YAML: " + clipText(text)}
	if line > 0 {
		e.Col = 1
	}
	return e
}

func (p *Pipeline) errAt(path, format string, args ...any) *Error {
	e := &Error{File: p.File, Path: clipText(path), Msg: fmt.Sprintf(format, clipArgs(args)...)}
	if ps, ok := p.pos[path]; ok {
		e.Line, e.Col = ps.line, ps.col
	}
	return e
}

// Position returns the line and column of a field path (0, 0 if unknown), so
// other steps can point their findings into the spec.
func (p *Pipeline) Position(path string) (line, col int) {
	ps := p.pos[path]
	return ps.line, ps.col
}

// Path resolves a path from the spec against the spec's directory.
func (p *Pipeline) Path(rel string) string {
	if rel == "" || filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(p.Dir, rel)
}

// Environment returns the named environment; an empty name is an error
// that lists the valid ones.
func (p *Pipeline) Environment(name string) (*Environment, error) {
	var names []string
	for _, e := range p.Environments {
		names = append(names, e.Name)
	}
	if name == "" {
		return nil, fmt.Errorf("no environment given; valid environments in %s: %v", p.File, names)
	}
	names = nil
	for i := range p.Environments {
		if p.Environments[i].Name == name {
			return &p.Environments[i], nil
		}
		names = append(names, p.Environments[i].Name)
	}
	return nil, fmt.Errorf("environment %q is not in %s; valid environments: %v", name, p.File, names)
}

// ImageName is the name the manifests use for the pipeline's image.
func (p *Pipeline) ImageName() string {
	if p.Image.Name != "" {
		return p.Image.Name
	}
	return p.Image.Repository
}
