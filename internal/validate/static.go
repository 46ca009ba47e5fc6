package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/driftless-dev/driftless/internal/repofs"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/yamlerr"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// MaxStaticFileSize is the most validate-config reads of one static JSON
// or YAML file, or of one JSON Schema: a schema is checked against the
// whole parsed document, which costs many times the file's size in
// memory, so a larger file is an error naming it and this limit rather
// than a step that runs the runner out of memory. bake-image has no such
// limit: it streams files into the image.
const MaxStaticFileSize = 16 << 20

// Static checks the static configuration directory: every YAML and JSON file
// in it must parse, and the files each static.schemas rule's glob matches
// must satisfy its JSON Schema. Findings point at the offending line of the
// file; they are sorted. Without a static section there is nothing to check.
//
// The files are read by bake-image's rules (internal/repofs): static.dir,
// the schemas and everything under static.dir must resolve inside the
// repository; a symbolic link, named pipe, socket or device under
// static.dir is an error found without opening it; a file of more than
// MaxStaticFileSize bytes is an error found without reading it.
func Static(p *spec.Pipeline) []Finding {
	if p == nil || p.Static == nil {
		return nil
	}
	// Pipeline has no context to pass on; nothing here can block (no
	// named pipe is opened), and validate-config stops on a signal even
	// while a read it cannot interrupt is blocked.
	ctx := context.Background()
	root, err := repofs.FindRoot(p.Dir)
	if err != nil {
		line, col := p.Position("static.dir")
		return []Finding{{File: p.File, Line: line, Col: col, Severity: Error, Message: fmt.Sprintf("finding the repository of %q: %v", p.File, err)}}
	}
	files, out, readable := readStaticDir(ctx, root, p, p.Path(p.Static.Dir))

	schemas := map[string]*staticSchema{}
	for i, rule := range p.Static.Schemas {
		var matched []*dataFile
		for _, f := range files {
			if ok, _ := path.Match(rule.Files, f.rel); ok {
				matched = append(matched, f)
			}
		}
		if len(matched) == 0 && readable {
			line, col := p.Position(fmt.Sprintf("static.schemas[%d].files", i))
			out = append(out, Finding{File: p.File, Line: line, Col: col, Severity: Warning,
				Message: fmt.Sprintf("%q matches no JSON or YAML file in %q", rule.Files, p.Static.Dir)})
		}
		file := p.Path(rule.Schema)
		s, seen := schemas[file]
		if !seen {
			if data, err := root.ReadFile(ctx, file, MaxStaticFileSize); err != nil {
				// Reported where the path is written: the file may be
				// outside the repository, or not there at all.
				f := readFinding(p.File, fmt.Sprintf("reading the JSON Schema %q", rule.Schema), err)
				f.Line, f.Col = p.Position(fmt.Sprintf("static.schemas[%d].schema", i))
				s = &staticSchema{findings: []Finding{f}}
			} else {
				s = compileSchema(ctx, root, file, data)
			}
			schemas[file] = s
			out = append(out, s.findings...)
		}
		if s.schema == nil {
			continue
		}
		for _, f := range matched {
			for _, d := range f.docs {
				out = append(out, d.validate(f.path, rule.Schema, s.schema)...)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	Sort(out)
	// A file matched by two rules with the same schema, or a leaf reached
	// through two branches, is reported once.
	return slices.Compact(out)
}

// dataFile is a JSON or YAML file of the static configuration.
type dataFile struct {
	path string // as reported: the static directory joined with rel
	rel  string // slash path relative to the static directory
	docs []dataDoc
}

// dataDoc is one parsed document, with the position of every value.
type dataDoc struct {
	value any
	// pos maps a JSON pointer to its value's position; nil if unknown.
	pos map[string]position
}

type position struct{ line, col int }

// readStaticDir parses every JSON and YAML file under dir, read through
// root's rules. Files that do not parse, or that the rules refuse,
// produce findings and have no documents. readable is false if dir itself
// cannot be read.
func readStaticDir(ctx context.Context, root *repofs.Root, p *spec.Pipeline, dir string) (files []*dataFile, out []Finding, readable bool) {
	err := root.Walk(ctx, dir, repofs.RefuseLinks, func(e repofs.Entry, err error) error {
		if err != nil {
			out = append(out, readFinding(e.Path, "", err))
			return nil
		}
		if e.IsDir() {
			return nil
		}
		var parse func(string, []byte) ([]dataDoc, []Finding)
		switch strings.ToLower(filepath.Ext(e.Path)) {
		case ".yaml", ".yml":
			parse = parseYAMLFile
		case ".json":
			parse = parseJSONFile
		default:
			return nil
		}
		f := &dataFile{path: e.Path, rel: e.Rel}
		// Still matched by the rules' globs when it cannot be read or
		// parsed, but not validated.
		files = append(files, f)
		data, err := root.ReadFile(ctx, e.Path, MaxStaticFileSize)
		if err != nil {
			out = append(out, readFinding(e.Path, "", err))
			return nil
		}
		docs, bad := parse(e.Path, data)
		out = append(out, bad...)
		if len(bad) == 0 {
			f.docs = docs
		}
		return nil
	})
	if err != nil {
		line, col := p.Position("static.dir")
		out = append(out, Finding{File: p.File, Line: line, Col: col, Severity: Error,
			Message: fmt.Sprintf("reading the static configuration directory %q: %v", p.Static.Dir, err)})
		return files, out, false
	}
	return files, out, true
}

// readFinding reports a file that could not be read or that the rules
// refuse, without repeating its path in the message; what, if not empty,
// says what the file was being read as.
func readFinding(file, what string, err error) Finding {
	msg := err.Error()
	var re *repofs.Error
	var tl *repofs.TooLargeError
	switch {
	case errors.As(err, &re) && re.Path == file:
		msg = re.Why()
	case errors.As(err, &tl):
		msg = fmt.Sprintf("not checked: it is %d bytes, more than the %d (%d MiB) validate-config reads of a file to parse it", tl.Size, tl.Max, tl.Max>>20)
	case what == "":
		what = "reading"
	}
	if what != "" {
		msg = what + ": " + msg
	}
	return Finding{File: file, Severity: Error, Message: msg}
}

// yamlFinding positions a YAML error message ("yaml: line 3: ...").
func yamlFinding(file, msg string) Finding {
	line, text := yamlerr.Position(msg)
	f := Finding{File: file, Line: line, Severity: Error, Message: "invalid YAML: " + text}
	if f.Line > 0 {
		f.Col = 1
	}
	return f
}

// parseYAMLFile parses every document of a YAML file.
func parseYAMLFile(file string, data []byte) ([]dataDoc, []Finding) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []dataDoc
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, []Finding{yamlFinding(file, err.Error())}
		}
		// Decoding into Go values finds what the parser lets through and
		// the service's own YAML decoder would not: duplicate keys, bad
		// merges.
		var v any
		if err := n.Decode(&v); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, []Finding{yamlFinding(file, err.Error())}
			}
			var out []Finding
			for _, e := range te.Errors {
				out = append(out, yamlFinding(file, e))
			}
			return nil, out
		}
		c := yamlConverter{pos: map[string]position{}}
		docs = append(docs, dataDoc{value: c.value(&n, ""), pos: c.pos})
	}
	if len(docs) == 0 {
		// An empty file reads as null.
		docs = []dataDoc{{}}
	}
	return docs, nil
}

// yamlConverter turns a yaml.Node into the JSON data model JSON Schema
// validates, recording where each value is.
type yamlConverter struct {
	pos map[string]position
}

func (c *yamlConverter) value(n *yaml.Node, ptr string) any {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			c.pos[ptr] = position{n.Line, n.Column}
			return nil
		}
		return c.value(n.Content[0], ptr)
	}
	// An alias is reported where it is used, its contents where the anchor
	// defines them.
	c.pos[ptr] = position{n.Line, n.Column}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			m[k.Value] = c.value(v, ptr+"/"+escapePointer(k.Value))
		}
		// Explicit keys win over merged ones, earlier merges over later.
		for _, mn := range merges {
			for mn.Kind == yaml.AliasNode {
				mn = mn.Alias
			}
			srcs := []*yaml.Node{mn}
			if mn.Kind == yaml.SequenceNode {
				srcs = mn.Content
			}
			for _, src := range srcs {
				for src.Kind == yaml.AliasNode {
					src = src.Alias
				}
				if src.Kind != yaml.MappingNode {
					continue
				}
				sub := yamlConverter{pos: map[string]position{}}
				merged, _ := sub.value(src, ptr).(map[string]any)
				for k, v := range merged {
					if _, ok := m[k]; ok {
						continue
					}
					m[k] = v
					kp := ptr + "/" + escapePointer(k)
					for p, at := range sub.pos {
						if p == kp || strings.HasPrefix(p, kp+"/") {
							c.pos[p] = at
						}
					}
				}
			}
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			s[i] = c.value(item, ptr+"/"+strconv.Itoa(i))
		}
		return s
	default:
		return yamlScalar(n)
	}
}

// yamlScalar is a scalar as JSON sees it: timestamps and custom tags stay
// the strings they are written as.
func yamlScalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			return v
		}
	}
	return n.Value
}

func escapePointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// parseJSONFile parses a JSON file with encoding/json, and records the
// position of every value from the token stream.
func parseJSONFile(file string, data []byte) ([]dataDoc, []Finding) {
	lines := newLineIndex(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		f := Finding{File: file, Severity: Error}
		var se *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			f.Message = "invalid JSON: the file is empty"
		case errors.Is(err, io.ErrUnexpectedEOF):
			p := lines.at(len(data))
			f.Line, f.Col, f.Message = p.line, p.col, "invalid JSON: unexpected end of file"
		case errors.As(err, &se):
			// Offset counts the bytes read, the offending one included.
			p := lines.at(max(int(se.Offset)-1, 0))
			f.Line, f.Col, f.Message = p.line, p.col, "invalid JSON: "+se.Error()
		default:
			f.Message = "invalid JSON: " + err.Error()
		}
		return nil, []Finding{f}
	}
	if off := skipJSONSpace(data, int(dec.InputOffset())); off < len(data) {
		p := lines.at(off)
		return nil, []Finding{{File: file, Line: p.line, Col: p.col, Severity: Error, Message: "invalid JSON: data after the top-level value"}}
	}
	return []dataDoc{{value: v, pos: jsonPositions(data, lines)}}, nil
}

// jsonPositions maps the JSON pointer of every value in data (valid JSON) to
// where the value starts. Duplicate keys keep the last, as encoding/json
// does.
func jsonPositions(data []byte, lines lineIndex) map[string]position {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	pos := map[string]position{}
	var walk func(ptr string) error
	walk = func(ptr string) error {
		pos[ptr] = lines.at(skipJSONSpace(data, int(dec.InputOffset())))
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if err := walk(ptr + "/" + escapePointer(key)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(ptr + "/" + strconv.Itoa(i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		return err
	}
	if err := walk(""); err != nil {
		return nil
	}
	return pos
}

// skipJSONSpace skips whitespace and the separators the decoder has not
// consumed yet.
func skipJSONSpace(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// lineIndex converts byte offsets to 1-based lines and columns, columns
// counted in characters as yaml.v3 counts them.
type lineIndex struct {
	data   []byte
	starts []int
}

func newLineIndex(data []byte) lineIndex {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return lineIndex{data: data, starts: starts}
}

func (l lineIndex) at(off int) position {
	off = min(max(off, 0), len(l.data))
	i := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off }) - 1
	return position{line: i + 1, col: utf8.RuneCount(l.data[l.starts[i]:off]) + 1}
}

// staticSchema is a compiled JSON Schema, or the findings that say why it
// is not.
type staticSchema struct {
	schema   *jsonschema.Schema
	findings []Finding
}

// compileSchema compiles the JSON Schema data read from file (JSON, or
// YAML if named so). Its $refs to other files are resolved on the file
// system only, so the check is the same offline, and read through root's
// rules, as the static files are.
func compileSchema(ctx context.Context, root *repofs.Root, file string, data []byte) *staticSchema {
	abs, err := filepath.Abs(file)
	if err != nil {
		return &staticSchema{findings: []Finding{{File: file, Severity: Error, Message: fmt.Sprintf("reading the JSON Schema: %v", err)}}}
	}
	var docs []dataDoc
	var bad []Finding
	if isYAML(file) {
		docs, bad = parseYAMLFile(file, data)
		if len(bad) == 0 && len(docs) != 1 {
			bad = []Finding{{File: file, Severity: Error, Message: fmt.Sprintf("a JSON Schema is one YAML document, found %d", len(docs))}}
		}
	} else {
		docs, bad = parseJSONFile(file, data)
	}
	if len(bad) > 0 {
		return &staticSchema{findings: bad}
	}
	doc := docs[0]

	u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{"file": schemaFileLoader{ctx: ctx, root: root}})
	if err := c.AddResource(u, doc.value); err != nil {
		return &staticSchema{findings: []Finding{{File: file, Severity: Error, Message: "invalid JSON Schema: " + oneLine(err.Error())}}}
	}
	sch, err := c.Compile(u)
	if err == nil {
		return &staticSchema{schema: sch}
	}
	f := Finding{File: file, Severity: Error, Message: "invalid JSON Schema: " + oneLine(err.Error())}
	// Point into the schema when it is the schema itself that breaks the
	// metaschema's rules.
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && strings.TrimSuffix(sve.URL, "#") == u && errors.As(sve.Err, &ve) {
		if leaves := outputLeaves(ve.DetailedOutput(), nil); len(leaves) > 0 {
			l := leaves[0]
			p := doc.position(l.InstanceLocation)
			f.Line, f.Col = p.line, p.col
			f.Message = fmt.Sprintf("invalid JSON Schema: %s: %s", displayPointer(l.InstanceLocation), l.Error)
		}
	}
	return &staticSchema{findings: []Finding{f}}
}

func isYAML(file string) bool {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		return true
	}
	return false
}

// schemaFileLoader loads the files a schema refers to, JSON or YAML,
// through root's rules.
type schemaFileLoader struct {
	ctx  context.Context
	root *repofs.Root
}

func (l schemaFileLoader) Load(u string) (any, error) {
	file, err := jsonschema.FileLoader{}.ToFile(u)
	if err != nil {
		return nil, err
	}
	data, err := l.root.ReadFile(l.ctx, file, MaxStaticFileSize)
	if err != nil {
		return nil, err
	}
	var docs []dataDoc
	var bad []Finding
	if isYAML(file) {
		docs, bad = parseYAMLFile(file, data)
	} else {
		docs, bad = parseJSONFile(file, data)
	}
	if len(bad) > 0 {
		return nil, errors.New(bad[0].String())
	}
	return docs[0].value, nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// validate checks the document against a schema: one finding per leaf
// error, at the offending value.
func (d dataDoc) validate(file, schemaName string, sch *jsonschema.Schema) []Finding {
	err := sch.Validate(d.value)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		p := d.position("")
		return []Finding{{File: file, Line: p.line, Col: p.col, Severity: Error, Message: fmt.Sprintf("does not match %s: %v", schemaName, err)}}
	}
	var out []Finding
	for _, l := range outputLeaves(ve.DetailedOutput(), nil) {
		p := d.position(l.InstanceLocation)
		out = append(out, Finding{File: file, Line: p.line, Col: p.col, Severity: Error,
			Message: fmt.Sprintf("does not match %s: %s: %s", schemaName, displayPointer(l.InstanceLocation), l.Error)})
	}
	return out
}

// outputLeaves collects the units of a detailed output that have no
// further causes: the actual failures, not the keywords that gather them.
func outputLeaves(u *jsonschema.OutputUnit, out []jsonschema.OutputUnit) []jsonschema.OutputUnit {
	if len(u.Errors) == 0 {
		if u.Error != nil {
			out = append(out, *u)
		}
		return out
	}
	for i := range u.Errors {
		out = outputLeaves(&u.Errors[i], out)
	}
	return out
}

// position finds a JSON pointer's value, or its nearest ancestor that has a
// position (0, 0 when the document has none).
func (d dataDoc) position(ptr string) position {
	for {
		if p, ok := d.pos[ptr]; ok {
			return p
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return position{}
		}
		ptr = ptr[:i]
	}
}

func displayPointer(ptr string) string {
	if ptr == "" {
		return "(root)"
	}
	return ptr
}
