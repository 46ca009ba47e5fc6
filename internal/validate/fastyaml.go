package validate

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// fastParse reads one YAML document into the value yaml.v3's Node.Decode
// gives (as nodeValue converts it), for the block-style YAML that
// kustomize and kubectl write: mappings, sequences (indented or not),
// plain, quoted and literal scalars, comments, {} and []. It builds no
// node tree, which is most of what parsing costs with yaml.v3; positions
// are found by parsing again, with yaml.v3, only for an object that has a
// finding. ok is false for anything else — flow collections, anchors,
// tags, folded or multi-line scalars, tabs, floats, duplicate or
// non-string keys, and every error — which the caller parses with
// yaml.v3, as before. A fuzz test keeps the two equal.
func fastParse(data []byte) (map[string]any, bool) {
	if bytes.ContainsAny(data, "\t\r") || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) || !utf8.Valid(data) {
		return nil, false
	}
	p := &fastParser{}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data) - 1
			p.lines = append(p.lines, data)
		} else {
			p.lines = append(p.lines, data[:i])
		}
		data = data[i+1:]
	}
	if len(p.lines) > 0 && isDocumentStart(p.lines[0]) {
		if rest := strings.TrimSpace(string(p.lines[0][3:])); rest != "" && rest[0] != '#' {
			return nil, false
		}
		p.i = 1
	}
	for _, l := range p.lines[p.i:] {
		if len(l) > 0 && (l[0] == '%' || bytes.HasPrefix(l, []byte("..."))) {
			return nil, false
		}
	}
	if !p.skip() {
		return nil, false // empty: the yaml.v3 path says so
	}
	ind, content := p.line()
	if isDash(content) {
		return nil, false // not a mapping: the yaml.v3 path says what it is
	}
	m, ok := p.mapping(ind)
	if !ok || p.skip() {
		return nil, false
	}
	return m, true
}

type fastParser struct {
	lines [][]byte
	i     int
	// scalar resolves plain scalars' tags as yaml.v3 does.
	scalar yaml.Node
}

// skip moves past blank and comment lines; false at the end.
func (p *fastParser) skip() bool {
	for ; p.i < len(p.lines); p.i++ {
		t := bytes.TrimLeft(p.lines[p.i], " ")
		if len(t) > 0 && t[0] != '#' {
			return true
		}
	}
	return false
}

// line is the current line's indentation and content.
func (p *fastParser) line() (int, string) {
	l := p.lines[p.i]
	t := bytes.TrimLeft(l, " ")
	return len(l) - len(t), string(bytes.TrimRight(t, " "))
}

func isDash(s string) bool { return s == "-" || strings.HasPrefix(s, "- ") }

// mapping reads a block mapping whose keys are at column ind; its first
// key is on the current line.
func (p *fastParser) mapping(ind int) (map[string]any, bool) {
	m := map[string]any{}
	for p.skip() {
		in, content := p.line()
		if in < ind || in == ind && isDash(content) {
			break // the parent's, or an indentless sequence's end
		}
		if in > ind {
			return nil, false
		}
		key, rest, ok := p.key(content)
		if !ok {
			return nil, false
		}
		if _, dup := m[key]; dup {
			return nil, false
		}
		p.i++
		v, ok := p.value(rest, ind, true)
		if !ok {
			return nil, false
		}
		m[key] = v
	}
	return m, true
}

// sequence reads a block sequence whose dashes are at column ind.
func (p *fastParser) sequence(ind int) ([]any, bool) {
	s := []any{}
	for p.skip() {
		in, content := p.line()
		if in < ind || in == ind && !isDash(content) {
			break
		}
		if in > ind {
			return nil, false
		}
		rest := strings.TrimLeft(content[1:], " ")
		col := in + len(content) - len(rest)
		var v any
		var ok bool
		switch {
		case rest == "" || rest[0] == '#':
			p.i++
			v, ok = p.value("", ind, false)
		case isDash(rest):
			return nil, false // a sequence in a sequence, on one line
		case p.isKey(rest):
			// A mapping that starts on the dash's line: its keys are at
			// the column of the first.
			p.lines[p.i] = append(bytes.Repeat([]byte{' '}, col), rest...)
			v, ok = p.mapping(col)
		default:
			p.i++
			v, ok = p.value(rest, ind, false)
		}
		if !ok {
			return nil, false
		}
		s = append(s, v)
	}
	return s, true
}

// isKey reports whether s starts a mapping entry: a key, a colon and a
// space or the end of the line.
func (p *fastParser) isKey(s string) bool {
	_, _, ok := p.key(s)
	return ok
}

// key splits "key: rest"; the key is a plain or quoted string.
func (p *fastParser) key(s string) (key, rest string, ok bool) {
	switch s[0] {
	case '"', '\'':
		k, n, ok := quotedScalar(s)
		if !ok || n >= len(s) || s[n] != ':' || n+1 < len(s) && s[n+1] != ' ' {
			return "", "", false
		}
		return k, s[n+1:], true
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`':
		return "", "", false
	}
	i := strings.Index(s, ": ")
	if i < 0 {
		if !strings.HasSuffix(s, ":") {
			return "", "", false
		}
		i = len(s) - 1
	}
	k := strings.TrimRight(s[:i], " ")
	if k == "" || strings.Contains(k, " #") || p.tag(k) != "!!str" {
		return "", "", false
	}
	return k, s[i+1:], true
}

// value reads the value after a key (or a dash) at column ind: rest is
// what follows on the line. inMapping allows an indentless sequence.
func (p *fastParser) value(rest string, ind int, inMapping bool) (any, bool) {
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || rest[0] == '#' {
		if !p.skip() {
			return nil, true
		}
		in, content := p.line()
		switch {
		case in > ind && isDash(content):
			return p.sequence(in)
		case in > ind:
			return p.mapping(in)
		case in == ind && inMapping && isDash(content):
			return p.sequence(in)
		}
		return nil, true
	}
	var v any
	switch rest[0] {
	case '"', '\'':
		s, n, ok := quotedScalar(rest)
		if !ok || !comment(rest[n:]) {
			return nil, false
		}
		v = s
	case '|':
		return p.literal(rest, ind)
	case '{', '[':
		switch {
		case strings.HasPrefix(rest, "{}") && comment(rest[2:]):
			v = map[string]any{}
		case strings.HasPrefix(rest, "[]") && comment(rest[2:]):
			v = []any{}
		default:
			return nil, false
		}
	case '>', '&', '*', '!', '%', '@', '`', ',', ']', '}', '#':
		return nil, false
	default:
		if isDash(rest) || strings.HasPrefix(rest, "? ") || strings.HasPrefix(rest, ": ") {
			return nil, false
		}
		s := rest
		if i := strings.Index(s, " #"); i >= 0 {
			s = strings.TrimRight(s[:i], " ")
		}
		if strings.Contains(s, ": ") || strings.HasSuffix(s, ":") {
			return nil, false
		}
		var ok bool
		if v, ok = p.plain(s); !ok {
			return nil, false
		}
	}
	// A more indented line after a scalar would continue it.
	if p.skip() {
		if in, _ := p.line(); in > ind {
			return nil, false
		}
	}
	return v, true
}

// plain resolves a plain scalar as yaml.v3 does: strings, null, booleans
// and decimal integers here; anything else is left to yaml.v3.
func (p *fastParser) plain(s string) (any, bool) {
	switch p.tag(s) {
	case "!!str":
		return s, true
	case "!!null":
		return nil, true
	case "!!bool":
		return s[0] == 't' || s[0] == 'T', true
	case "!!int":
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i), true
		}
	}
	return nil, false
}

func (p *fastParser) tag(s string) string {
	p.scalar = yaml.Node{Kind: yaml.ScalarNode, Value: s}
	return p.scalar.ShortTag()
}

// literal reads a literal block scalar (|, |- or |+) of a value at column
// ind.
func (p *fastParser) literal(header string, ind int) (any, bool) {
	chomp := ""
	switch h := strings.TrimRight(header, " "); h {
	case "|", "|-", "|+":
		chomp = h[1:]
	default:
		return nil, false // indentation indicators, comments
	}
	var lines []string
	indent := -1
	for ; p.i < len(p.lines); p.i++ {
		l := p.lines[p.i]
		t := bytes.TrimLeft(l, " ")
		in := len(l) - len(t)
		if len(t) == 0 {
			if indent >= 0 && in > indent {
				lines = append(lines, string(l[indent:]))
			} else {
				if indent < 0 && in > 0 {
					return nil, false // a leading blank line may be longer than the text's indentation
				}
				lines = append(lines, "")
			}
			continue
		}
		if indent < 0 {
			if in <= ind {
				break
			}
			indent = in
		}
		if in < indent {
			break
		}
		lines = append(lines, string(l[indent:]))
	}
	// Trailing blank lines are the chomping's.
	n := len(lines)
	for n > 0 && lines[n-1] == "" {
		n--
	}
	text := strings.Join(lines[:n], "\n")
	switch {
	case n == 0 && chomp == "+":
		return nil, false
	case n == 0:
		return "", true
	case chomp == "-":
	case chomp == "+":
		text += strings.Repeat("\n", len(lines)-n+1)
	default:
		text += "\n"
	}
	return text, true
}

// quotedScalar reads the single- or double-quoted scalar s starts with,
// on one line, and returns it and the length it took.
func quotedScalar(s string) (string, int, bool) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '\'' && c == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), i + 1, true
		case q == '"' && c == '"':
			return b.String(), i + 1, true
		case q == '"' && c == '\\':
			if i+1 >= len(s) {
				return "", 0, false
			}
			i++
			switch s[i] {
			case '\\', '"', '/':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if i+4 >= len(s) {
					return "", 0, false
				}
				r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
				if err != nil || r >= 0xd800 && r < 0xe000 {
					return "", 0, false
				}
				b.WriteRune(rune(r))
				i += 4
			default:
				return "", 0, false
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false // not closed on this line
}

// comment reports whether s, after a value, is only spaces and a comment.
func comment(s string) bool {
	t := strings.TrimLeft(s, " ")
	return t == "" || t[0] == '#' && len(t) < len(s)
}
