package validate

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// nodeValue converts a YAML node to the value yaml.v3's Node.Decode gives
// into an interface{} (JSON's types, with int for integers), without its
// reflection. ok is false for anything but plain mappings, sequences and
// string, null, boolean and integer scalars with string keys, each key
// once: aliases, merges, explicit tags, floats, duplicate or non-string
// keys. The caller decodes those with yaml.v3 itself, which also words
// their errors.
func nodeValue(n *yaml.Node) (v any, ok bool) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				return nil, false
			}
			if _, dup := m[k.Value]; dup {
				return nil, false
			}
			x, ok := nodeValue(n.Content[i+1])
			if !ok {
				return nil, false
			}
			m[k.Value] = x
		}
		return m, true
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			x, ok := nodeValue(c)
			if !ok {
				return nil, false
			}
			s[i] = x
		}
		return s, true
	case yaml.ScalarNode:
		if n.Tag != "" && n.Tag[0] == '!' && n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!bool" && n.Tag != "!!null" {
			return nil, false // custom tags
		}
		switch n.ShortTag() {
		case "!!str":
			return n.Value, true
		case "!!null":
			return nil, true
		case "!!bool":
			return n.Value[0] == 't' || n.Value[0] == 'T', true
		case "!!int":
			if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
				return int(i), true
			}
		}
	}
	return nil, false
}

// appendJSON appends v, a value of JSON's types (as nodeValue and
// normalizeYAML give them), as encoding/json would marshal it, keys
// sorted; ok is false for a value it does not handle (a float or a string
// that is not UTF-8, say), which the caller marshals with encoding/json.
func appendJSON(b []byte, v any) (_ []byte, ok bool) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, t), true
	case string:
		return appendJSONString(b, t)
	case int:
		return strconv.AppendInt(b, int64(t), 10), true
	case int64:
		return strconv.AppendInt(b, t, 10), true
	case uint64:
		return strconv.AppendUint(b, t, 10), true
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendJSONString(b, k); !ok {
				return b, false
			}
			b = append(b, ':')
			if b, ok = appendJSON(b, t[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case []any:
		b = append(b, '[')
		for i, x := range t {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendJSON(b, x); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

func appendJSONString(b []byte, s string) ([]byte, bool) {
	if !utf8.ValidString(s) {
		return b, false
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			continue
		}
		if c >= utf8.RuneSelf {
			// U+2028 and U+2029 are valid JSON; encoding/json escapes
			// them, and so may this: the decoder reads both alike.
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"'), true
}

// marshalJSON is json.Marshal for an object's content, fast for the
// common values.
func marshalJSON(v any) ([]byte, error) {
	if b, ok := appendJSON(make([]byte, 0, 1024), v); ok {
		return b, nil
	}
	return json.Marshal(v)
}
