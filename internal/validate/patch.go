package validate

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// written is where a field of a rendered object was last written: a
// patch, an images or replicas entry of a kustomization, when one of the
// kustomizations whose transformers ran over the object (kustomize's
// transformations annotation) sets the field; else nothing, and the
// object's own file is the place.
//
// A patch that only reaches into a list item or mapping the object's own
// file writes (adding an env var to a container) does not own it: it
// counts only for the values it sets, and for what the file lacks.
func (l *locator) written(o *object, path string) (file string, line, col int, ok bool) {
	if path == "" {
		return "", 0, 0, false
	}
	// The last kustomization to set the field wins, as it did in kustomize.
	seen := map[string]bool{}
	for i := len(o.transformations) - 1; i >= 0; i-- {
		k := o.transformations[i].ConfiguredIn
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		if file, line, col, leaf, ok := l.inKustomization(k, o, path); ok && (leaf || !o.src.has(path)) {
			return file, line, col, true
		}
	}
	return "", 0, 0, false
}

// inKustomization looks for what sets path on o in one kustomization:
// its patches, last first, then its images and replicas entries.
func (l *locator) inKustomization(kfile string, o *object, path string) (file string, line, col int, leaf, ok bool) {
	docs := l.file(kfile)
	if len(docs) == 0 {
		return "", 0, 0, false, false
	}
	k := docs[0]
	dir := kfile[:max(strings.LastIndexAny(kfile, `/\`), 0)]
	var patches []*yaml.Node // each a patch entry: a mapping or a scalar
	for _, field := range []string{"patchesStrategicMerge", "patchesJson6902", "patches"} {
		if list := lookupNode(k, field); list != nil && list.Kind == yaml.SequenceNode {
			patches = append(patches, list.Content...)
		}
	}
	for i := len(patches) - 1; i >= 0; i-- {
		if line, col, file, leaf, ok := l.inPatch(kfile, dir, patches[i], o, path); ok {
			return file, line, col, leaf, true
		}
	}
	if strings.HasSuffix(path, ".image") {
		if n := imagesEntry(k, o, path); n != nil {
			return kfile, n.Line, n.Column, true, true
		}
	}
	if path == "spec.replicas" {
		if list := lookupNode(k, "replicas"); list != nil && list.Kind == yaml.SequenceNode {
			for _, item := range list.Content {
				if name := scalar(item, "name"); name != "" && strings.Contains(o.name, name) {
					kn, _ := keyValue(item, "count")
					if kn == nil {
						kn = item
					}
					return kfile, kn.Line, kn.Column, true, true
				}
			}
		}
	}
	return "", 0, 0, false, false
}

// imagesEntry finds the images entry that rewrote the image at path: its
// newTag, digest or newName is what the rendered image carries.
func imagesEntry(k *yaml.Node, o *object, path string) *yaml.Node {
	list := lookupNode(k, "images")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	image, _ := valueAt(o.content, path).(string)
	if image == "" {
		return nil
	}
	for i := len(list.Content) - 1; i >= 0; i-- {
		item := list.Content[i]
		for _, field := range []string{"digest", "newTag", "newName"} {
			kn, v := keyValue(item, field)
			if kn == nil || v.Value == "" {
				continue
			}
			switch field {
			case "digest":
				if strings.HasSuffix(image, "@"+v.Value) {
					return kn
				}
			case "newTag":
				if strings.Contains(image, ":"+v.Value) {
					return kn
				}
			case "newName":
				if strings.HasPrefix(image, v.Value) {
					return kn
				}
			}
		}
	}
	return nil
}

// inPatch looks for path in one patch entry of a kustomization: a file
// (path:) or inline (patch:), strategic-merge or JSON 6902, that targets o.
func (l *locator) inPatch(kfile, dir string, entry *yaml.Node, o *object, path string) (line, col int, file string, leaf, ok bool) {
	var target *yaml.Node
	var docs []*yaml.Node
	file = kfile
	// Inline patches: positions in the text are mapped onto the
	// kustomization, whose block scalar holds them.
	lineOffset, colOffset := 0, 0
	inline := func(n *yaml.Node) {
		docs = parseDocs(n.Value)
		lineOffset, colOffset = blockOffsets(kfile, n)
	}
	switch entry.Kind {
	case yaml.ScalarNode: // patchesStrategicMerge: a path or an inline patch
		if strings.Contains(entry.Value, "\n") {
			inline(entry)
		} else {
			file = joinFile(dir, entry.Value)
			docs = l.file(file)
		}
	case yaml.MappingNode:
		target = lookupNode(entry, "target")
		if p := scalar(entry, "path"); p != "" {
			file = joinFile(dir, p)
			docs = l.file(file)
		} else if n := lookupNode(entry, "patch"); n != nil && n.Kind == yaml.ScalarNode {
			inline(n)
		}
	}
	if target != nil && !targets(target, o) {
		return 0, 0, "", false, false
	}
	for _, d := range docs {
		switch d.Kind {
		case yaml.SequenceNode: // JSON 6902 operations
			if target == nil {
				continue
			}
			line, col, leaf, ok = inOperations(d, o.content, path)
		case yaml.MappingNode: // a strategic-merge patch
			if target == nil && !patches(d, o) {
				continue
			}
			line, col, leaf, ok = walk(d, o.content, path)
		}
		if ok {
			if file == kfile && lineOffset > 0 {
				line, col = line+lineOffset, col+colOffset
			}
			return line, col, file, leaf, true
		}
	}
	return 0, 0, "", false, false
}

func joinFile(dir, p string) string {
	if dir == "" {
		return p
	}
	return dir + "/" + p
}

func parseDocs(text string) []*yaml.Node {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var n yaml.Node
		if dec.Decode(&n) != nil {
			break
		}
		if len(n.Content) > 0 {
			docs = append(docs, n.Content[0])
		}
	}
	return docs
}

// blockOffsets returns what to add to a position in an inline patch's text
// to get its position in the kustomization: a literal or folded block
// starts on the line after its indicator, at the block's indentation.
func blockOffsets(kfile string, n *yaml.Node) (int, int) {
	if n.Style != yaml.LiteralStyle && n.Style != yaml.FoldedStyle {
		return n.Line - 1, n.Column - 1 // approximately: plain or quoted
	}
	b, err := os.ReadFile(kfile)
	if err != nil {
		return n.Line, 0
	}
	lines := strings.Split(string(b), "\n")
	for i := n.Line; i < len(lines); i++ { // lines[n.Line] is the line after the indicator
		if t := strings.TrimLeft(lines[i], " "); t != "" {
			return n.Line, len(lines[i]) - len(t)
		}
	}
	return n.Line, 0
}

// targets reports whether a patch's target selector can select o. Label
// and annotation selectors are not evaluated: the field must still be in
// the patch for it to count.
func targets(t *yaml.Node, o *object) bool {
	if k := scalar(t, "kind"); k != "" && !fullMatch(k, o.kind) {
		return false
	}
	if n := scalar(t, "name"); n != "" && !fullMatch(n, o.name) && !strings.Contains(o.name, n) {
		return false
	}
	if ns := scalar(t, "namespace"); ns != "" && !fullMatch(ns, o.namespace) {
		return false
	}
	return true
}

func fullMatch(pattern, s string) bool {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return pattern == s
	}
	return re.MatchString(s)
}

// patches reports whether a strategic-merge patch names o: its kind, and a
// name the rendered one contains (prefixes and suffixes come later).
func patches(d *yaml.Node, o *object) bool {
	name := scalar(lookupNode(d, "metadata"), "name")
	return scalar(d, "kind") == o.kind && name != "" && strings.Contains(o.name, name)
}

// walk follows path through a patch node and the rendered object side by
// side: a list index in the rendered object becomes the patch's item with
// the same merge key (name, containerPort, mountPath, ...).
func walk(n *yaml.Node, rendered any, path string) (line, col int, leaf, ok bool) {
	if n == nil {
		return 0, 0, false, false
	}
	line, col = n.Line, n.Column
	cur := rendered
	for _, m := range pathToken.FindAllStringSubmatch(path, -1) {
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			list, _ := cur.([]any)
			if n.Kind != yaml.SequenceNode || i >= len(list) {
				return 0, 0, false, false
			}
			cur = list[i]
			n = matchItem(n, cur, i, len(list))
			if n == nil {
				return 0, 0, false, false
			}
			line, col = n.Line, n.Column
			continue
		}
		if n.Kind == yaml.SequenceNode { // a path without an index
			var next *yaml.Node
			for _, item := range n.Content {
				if k, _ := keyValue(item, m[1]); k != nil {
					next = item
					break
				}
			}
			if next == nil {
				return 0, 0, false, false
			}
			n, cur = next, nil
		}
		k, v := keyValue(n, m[1])
		if k == nil {
			return 0, 0, false, false
		}
		line, col = k.Line, k.Column
		if mm, ok := cur.(map[string]any); ok {
			cur = mm[m[1]]
		} else {
			cur = nil
		}
		n = v
	}
	return line, col, n.Kind == yaml.ScalarNode, true
}

var mergeKeys = []string{"name", "containerPort", "mountPath", "devicePath", "port", "ip", "type"}

// matchItem finds the patch's list item that merged into the rendered
// item at index i.
func matchItem(seq *yaml.Node, item any, i, n int) *yaml.Node {
	if m, ok := item.(map[string]any); ok {
		for _, key := range mergeKeys {
			want, ok := m[key]
			if !ok {
				continue
			}
			for _, c := range seq.Content {
				if v := lookupNode(c, key); v != nil && v.Kind == yaml.ScalarNode && v.Value == fmt.Sprint(want) {
					return c
				}
			}
			return nil
		}
	}
	if s, ok := item.(string); ok {
		for _, c := range seq.Content {
			if c.Kind == yaml.ScalarNode && c.Value == s {
				return c
			}
		}
		return nil
	}
	if len(seq.Content) == n { // a list the patch replaces whole
		return seq.Content[i]
	}
	return nil
}

// inOperations finds the JSON 6902 operation that writes path: one that
// adds or replaces it or a field holding it.
func inOperations(ops *yaml.Node, rendered any, path string) (line, col int, leaf, ok bool) {
	tokens := pathToken.FindAllStringSubmatch(path, -1)
	var ptr []string
	for _, m := range tokens {
		if m[2] != "" {
			ptr = append(ptr, m[2])
		} else {
			ptr = append(ptr, strings.NewReplacer("~", "~0", "/", "~1").Replace(m[1]))
		}
	}
	for i := len(ops.Content) - 1; i >= 0; i-- {
		op := ops.Content[i]
		if kind := scalar(op, "op"); kind != "add" && kind != "replace" {
			continue
		}
		opPath := strings.Split(strings.TrimPrefix(scalar(op, "path"), "/"), "/")
		if len(opPath) > len(ptr) {
			continue
		}
		match := true
		for j, seg := range opPath {
			if seg != ptr[j] && !(seg == "-" && j == len(opPath)-1 && isIndex(ptr[j])) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		vk, v := keyValue(op, "value")
		if vk == nil {
			continue
		}
		// Walk the rest of the path inside the value, from the rendered
		// value the operation wrote.
		written := rendered
		for _, m := range tokens[:len(opPath)] {
			written = step(written, m)
		}
		rest := pathOf(tokens[len(opPath):])
		if rest == "" {
			return v.Line, v.Column, v.Kind == yaml.ScalarNode, true
		}
		if line, col, leaf, ok := walk(v, written, rest); ok {
			return line, col, leaf, true
		}
	}
	return 0, 0, false, false
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func step(v any, m []string) any {
	if m[2] != "" {
		i, _ := strconv.Atoi(m[2])
		if l, ok := v.([]any); ok && i < len(l) {
			return l[i]
		}
		return nil
	}
	if mm, ok := v.(map[string]any); ok {
		return mm[m[1]]
	}
	return nil
}

func pathOf(tokens [][]string) string {
	var b strings.Builder
	for _, m := range tokens {
		if m[2] != "" {
			b.WriteString("[" + m[2] + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(m[1])
	}
	return b.String()
}

// valueAt returns the value at a dotted path with indexes.
func valueAt(content map[string]any, path string) any {
	var v any = content
	for _, m := range pathToken.FindAllStringSubmatch(path, -1) {
		v = step(v, m)
	}
	return v
}
