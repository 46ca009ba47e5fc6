package validate

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/driftless-dev/driftless/internal/render"
)

// locator finds the source line of an object, or of a field in it. Files are
// parsed once.
type locator struct {
	docs map[string][]*yaml.Node
}

func newLocator() *locator { return &locator{docs: map[string][]*yaml.Node{}} }

func (l *locator) file(path string) []*yaml.Node {
	if d, ok := l.docs[path]; ok {
		return d
	}
	var docs []*yaml.Node
	if b, err := os.ReadFile(path); err == nil {
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		for {
			var n yaml.Node
			if dec.Decode(&n) != nil {
				break
			}
			if len(n.Content) > 0 {
				docs = append(docs, n.Content[0])
			}
		}
	}
	l.docs[path] = docs
	return docs
}

// source is where an object is written.
type source struct {
	file string
	// node is the object's mapping (or the generator entry that made it);
	// nil when it could not be found, or once kept.
	node *yaml.Node
	// kept are the positions of the fields keep was asked for, found
	// before node was dropped.
	kept map[string]keptPosition
	// lazy parses the object's document for node when a position is
	// first asked for: objects that fastParse read have no node.
	lazy *lazyNode
}

// lazyNode is a document's root node, read again from its file and
// parsed by yaml.v3 on first use.
type lazyNode struct {
	once       sync.Once
	file       string
	off        int64
	size, line int
	node       *yaml.Node
}

func (l *lazyNode) get() *yaml.Node {
	l.once.Do(func() {
		f, err := os.Open(l.file)
		if err != nil {
			return
		}
		defer f.Close()
		data := make([]byte, l.size)
		if _, err := f.ReadAt(data, l.off); err != nil {
			return
		}
		var n yaml.Node
		if yaml.Unmarshal(data, &n) == nil && len(n.Content) > 0 {
			offsetLines(&n, l.line)
			l.node = n.Content[0]
		}
	})
	return l.node
}

type keptPosition struct {
	line, col int
	exact     bool
}

// keep finds the given fields (and the object) and drops the YAML: later
// questions about those fields are answered as before, about others with
// the object's position.
func (s *source) keep(paths ...string) {
	if s.node == nil {
		return // nothing to drop; a lazy source parses again if asked
	}
	s.kept = map[string]keptPosition{"": {s.node.Line, s.node.Column, true}}
	for _, p := range paths {
		line, col, exact := s.find(p)
		s.kept[p] = keptPosition{line, col, exact}
	}
	s.node = nil
}

// find returns the source of a rendered object from its origin.
func (l *locator) find(o render.Origin, kind, name string) source {
	if o.Path != "" {
		var best *yaml.Node
		bestLen := -1
		for _, d := range l.file(o.Path) {
			if scalar(d, "kind") != kind {
				continue
			}
			// Name transformers (namePrefix, nameSuffix) only add to the
			// name, so the source name is contained in the rendered one.
			n := scalar(lookupNode(d, "metadata"), "name")
			if strings.Contains(name, n) && len(n) > bestLen {
				best, bestLen = d, len(n)
			}
		}
		return source{file: o.Path, node: best}
	}
	if o.ConfiguredIn != "" {
		for _, d := range l.file(o.ConfiguredIn) {
			for _, gen := range []string{"configMapGenerator", "secretGenerator"} {
				list := lookupNode(d, gen)
				if list == nil || list.Kind != yaml.SequenceNode {
					continue
				}
				for _, item := range list.Content {
					if n := scalar(item, "name"); n != "" && strings.Contains(name, n) {
						return source{file: o.ConfiguredIn, node: item}
					}
				}
			}
		}
		return source{file: o.ConfiguredIn}
	}
	return source{}
}

var pathToken = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// position returns the line and column of a dotted field path
// (spec.template.spec.containers[0].image) in the source, or of the
// deepest part of it that exists there (a field added by a patch is not in
// the base file).
func (s source) position(path string) (int, int) {
	line, col, _ := s.find(path)
	return line, col
}

// has reports whether the field path is written in the source.
func (s source) has(path string) bool {
	_, _, exact := s.find(path)
	return exact
}

func (s source) find(path string) (line, col int, exact bool) {
	n := s.node
	if n == nil && s.lazy != nil {
		n = s.lazy.get()
	}
	if n == nil {
		if p, ok := s.kept[path]; ok {
			return p.line, p.col, p.exact
		}
		root := s.kept[""]
		return root.line, root.col, false
	}
	line, col = n.Line, n.Column
	tokens := pathToken.FindAllStringSubmatch(path, -1)
	for ti, m := range tokens {
		if n == nil {
			return line, col, false
		}
		last := ti == len(tokens)-1
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			if n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return line, col, false
			}
			n = n.Content[i]
			line, col = n.Line, n.Column
			if last {
				return line, col, true
			}
			continue
		}
		// A path without indexes (from JSON type errors) steps into the
		// first list item that has the key.
		if n.Kind == yaml.SequenceNode {
			var next *yaml.Node
			for _, item := range n.Content {
				if k, _ := keyValue(item, m[1]); k != nil {
					next = item
					break
				}
			}
			if next == nil {
				return line, col, false
			}
			n = next
		}
		k, v := keyValue(n, m[1])
		if k == nil {
			return line, col, false
		}
		line, col = k.Line, k.Column
		n = v
	}
	return line, col, true
}

func keyValue(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

func lookupNode(n *yaml.Node, key string) *yaml.Node {
	_, v := keyValue(n, key)
	return v
}

func scalar(n *yaml.Node, key string) string {
	if v := lookupNode(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}
