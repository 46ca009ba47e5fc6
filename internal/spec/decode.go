package spec

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a spec file, positioned at the offending node.
type Error struct {
	File string
	Line int
	Col  int
	// Path is the field path: environments[1].promotion.from.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Errors returns the positioned errors inside err (a joined error from Load).
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var se *Error
		if errors.As(e, &se) && e == error(se) {
			out = append(out, se)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if errors.As(e, &se) {
			out = append(out, se)
		}
	}
	walk(err)
	return out
}

type pos struct{ line, col int }

type positions map[string]pos

// Duration is a time.Duration written as "30m" or "1h30m".
type Duration struct{ time.Duration }

// MarshalYAML writes the duration back in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration in Go syntax.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

var durationType = reflect.TypeOf(Duration{})

// decoder walks a yaml.Node tree against the Go types, collecting every
// problem instead of stopping at the first.
type decoder struct {
	file string
	// errs holds the first MaxFindings problems; found counts them all.
	errs  []error
	found int
	pos   positions
}

// errorf records a problem at n. Strings and errors among args are values
// from the spec and are clipped to MaxQuoted bytes.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.found++
	if len(d.errs) >= MaxFindings {
		return
	}
	e := &Error{File: d.file, Path: clipText(path), Msg: fmt.Sprintf(format, clipArgs(args)...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// kindName describes a node in a message ("the string "x"", "a list").
func kindName(n *yaml.Node) note {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			return note(fmt.Sprintf("an integer (%s)", clipped(n.Value)))
		case "!!float":
			return note(fmt.Sprintf("a number (%s)", clipped(n.Value)))
		case "!!bool":
			return note(fmt.Sprintf("a boolean (%s)", clipped(n.Value)))
		case "!!null":
			return "null"
		}
		return note(fmt.Sprintf("the string %q", clipped(n.Value)))
	}
	return "an unsupported YAML node"
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = pos{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an explicit null leaves the zero value, like an absent key
	}
	t := v.Type()
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.errorf(n, path, "expected a duration such as \"30m\" or \"1h30m\", got %s", kindName(n))
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil || dur < 0 {
			d.errorf(n, path, "%q is not a duration; valid units are ns, us, ms, s, m, h (for example \"90s\", \"30m\", \"48h\")", n.Value)
			return
		}
		v.Set(reflect.ValueOf(Duration{dur}))
	case t.Kind() == reflect.Interface:
		// Free-form values (a chart's inline values): whatever YAML says,
		// as yaml.v3 decodes it.
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(&x).Elem())
		d.positions(n, path)
	case t.Kind() == reflect.Pointer:
		nv := reflect.New(t.Elem())
		d.decode(n, nv.Elem(), path)
		v.Set(nv)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.errorf(k, path, "expected a string key, got %s", kindName(k))
				continue
			}
			if seen[k.Value] {
				d.errorf(k, join(path, k.Value), "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			ev := reflect.New(t.Elem()).Elem()
			d.decode(val, ev, join(path, k.Value))
			m.SetMapIndex(reflect.ValueOf(k.Value), ev)
		}
		v.Set(m)
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			hint := note("")
			if n.Kind == yaml.ScalarNode {
				hint = note(fmt.Sprintf("; quote it if you mean the string: %q", clipped(n.Value)))
			}
			d.errorf(n, path, "expected a string, got %s%s", kindName(n), hint)
			return
		}
		v.SetString(n.Value)
	case t.Kind() == reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil {
			d.errorf(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			d.errorf(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("spec: unsupported field type %s at %s", t, path))
	}
}

// field is a struct field as the spec format sees it.
type field struct {
	name     string
	index    int
	required bool
	enum     []string
	sf       reflect.StructField
}

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		f := field{name: name, index: i, required: sf.Tag.Get("required") == "true", sf: sf}
		if e := sf.Tag.Get("enum"); e != "" {
			f.enum = strings.Split(e, ",")
		}
		fs = append(fs, f)
	}
	return fs
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fs := fieldsOf(v.Type())
	byName := map[string]field{}
	names := make([]string, 0, len(fs))
	for _, f := range fs {
		byName[f.name] = f
		names = append(names, f.name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "expected a field name, got %s", kindName(k))
			continue
		}
		f, ok := byName[k.Value]
		if !ok {
			hint := ""
			if s := Suggest(k.Value, names); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			where := "here"
			if path != "" {
				where = "in " + path
			}
			d.errorf(k, join(path, k.Value), "unknown field %q%s; valid fields %s: %s", k.Value, hint, where, strings.Join(sorted(names), ", "))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, join(path, k.Value), "duplicate field %q", k.Value)
			continue
		}
		seen[k.Value] = true
		fp := join(path, f.name)
		before := d.found
		d.decode(val, v.Field(f.index), fp)
		if d.found > before {
			continue // one finding per field
		}
		if len(f.enum) > 0 {
			d.checkEnum(val, v.Field(f.index), fp, f.enum)
		}
		if f.required && v.Field(f.index).IsZero() {
			d.errorf(val, fp, "%q is required and cannot be empty", f.name)
		}
		if n, err := strconv.Atoi(f.sf.Tag.Get("minItems")); err == nil && v.Field(f.index).Kind() == reflect.Slice && v.Field(f.index).Len() < n {
			d.errorf(val, fp, "needs at least %d item(s)", n)
		}
	}
	d.checkOneOf(n, path, fs, seen)
	for _, f := range fs {
		if f.required && !seen[f.name] {
			where := "at the top level"
			if path != "" {
				where = "in " + path
			}
			d.errorf(n, join(path, f.name), "missing required field %q %s", f.name, where)
		}
	}
}

// positions records where every value below n is, for findings about
// free-form values (a chart's inline values).
func (d *decoder) positions(n *yaml.Node, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = pos{n.Line, n.Column}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.positions(n.Content[i+1], join(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			d.positions(item, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// checkOneOf reports a group of fields tagged oneOf of which not exactly
// one is given.
func (d *decoder) checkOneOf(n *yaml.Node, path string, fs []field, seen map[string]bool) {
	var groups []string
	members := map[string][]string{}
	for _, f := range fs {
		if g := f.sf.Tag.Get("oneOf"); g != "" {
			if members[g] == nil {
				groups = append(groups, g)
			}
			members[g] = append(members[g], f.name)
		}
	}
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	for _, g := range groups {
		var given []string
		for _, m := range members[g] {
			if seen[m] {
				given = append(given, m)
			}
		}
		choices := strings.Join(quoted(members[g]), " or ")
		switch {
		case len(given) == 0:
			d.errorf(n, path, "missing %s %s: give exactly one", choices, where)
		case len(given) > 1:
			d.errorf(keyNode(n, given[1]), join(path, given[1]), "%s are exclusive %s: give exactly one", choices, where)
		}
	}
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// keyNode returns the key node of field name in mapping n, or n.
func keyNode(n *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i]
		}
	}
	return n
}

func (d *decoder) checkEnum(n *yaml.Node, v reflect.Value, path string, enum []string) {
	bad := func(n *yaml.Node, s, p string) {
		d.errorf(n, p, "%q is not valid; valid values: %s", s, strings.Join(enum, ", "))
	}
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); s != "" && !slices.Contains(enum, s) {
			bad(n, s, path)
		}
	case reflect.Slice:
		for i := range v.Len() {
			if s := v.Index(i).String(); s != "" && !slices.Contains(enum, s) && i < len(n.Content) {
				bad(n.Content[i], s, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// Suggest returns the valid choice closest to s (within two edits), or "":
// the "did you mean" of an error message.
func Suggest(s string, valid []string) string {
	best, bestD := "", 3
	for _, v := range valid {
		if abs(len(s)-len(v)) >= bestD {
			continue // too far apart; spares comparing a megabyte key
		}
		if d := distance(strings.ToLower(s), strings.ToLower(v)); d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
