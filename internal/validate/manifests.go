package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
)

// Manifests validates already rendered files (kustomize-render's output,
// or any multi-document YAML). p may be nil; it supplies the pipeline's
// image name, singletons and CRD files.
//
// The documents of a file are parsed and checked by as many workers as
// there are CPUs, each object once; what an object keeps afterwards is
// only what the checks across objects need (its identity, the positions
// of the few fields they report at), so memory does not grow with the
// objects' size. Custom resources wait until every CRD in the files is
// known.
func Manifests(p *spec.Pipeline, files []string) (*Report, error) {
	c := &checker{crds: NewCRDs()}
	r := &Report{}
	if p != nil {
		c.singletons, c.pipelineRef = p.Validation.Singletons, render.PipelineRepos(p)
		r.Findings = append(r.Findings, c.loadSpecCRDs(p)...)
	}
	run := c.start(runtime.GOMAXPROCS(0), true)
	for _, f := range files {
		if err := c.manifestFile(run, r, f); err != nil {
			return nil, err
		}
	}
	run.finish()
	r.Findings = append(r.Findings, c.findings...)
	Sort(r.Findings)
	return r, nil
}

// batch is how many documents are read before the workers check them:
// enough to keep them busy, few enough that memory does not grow with the
// file.
const batch = 256

// manifestFile reads the documents of one file, a batch at a time, and
// checks their objects.
func (c *checker) manifestFile(run *run, r *Report, file string) error {
	fh, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("reading manifests: %w", err)
	}
	defer fh.Close()
	docs := newDocumentReader(fh)
	for {
		var batchDocs []document
		for len(batchDocs) < batch {
			d, ok, err := docs.next()
			if err != nil {
				return fmt.Errorf("reading manifests: %w", err)
			}
			if !ok {
				break
			}
			batchDocs = append(batchDocs, d)
		}
		if len(batchDocs) == 0 {
			return nil
		}
		results := make([]docResult, len(batchDocs))
		run.each(len(batchDocs), func(w *checker, i int) {
			objs, findings, fatal := parseDocuments(file, batchDocs[i])
			for _, o := range objs {
				w.checkObject(o)
			}
			results[i] = docResult{objs: objs, findings: append(findings, w.findings...), summary: w.summary, fatal: fatal}
			w.findings, w.summary = nil, summary{}
		})
		for i := range results {
			d := &results[i]
			for _, o := range d.objs {
				run.hold(o)
				r.Objects++
			}
			c.findings = append(c.findings, d.findings...)
			c.summary.merge(&d.summary)
			if d.fatal {
				// The parser cannot go on past a syntax error: the rest
				// of the file is not read.
				return nil
			}
		}
	}
}

// docResult is what one document gave: its objects, the findings about
// it and them, and what the checks across objects need of them.
type docResult struct {
	objs     []*object
	findings []Finding
	summary  summary
	fatal    bool
}

// document is one YAML document of a file, where it starts (0-based line
// and byte offset).
type document struct {
	data []byte
	line int
	off  int64
}

// splitDocuments cuts a YAML stream at its document markers (see
// documentReader).
func splitDocuments(data []byte) []document {
	var docs []document
	r := newDocumentReader(bytes.NewReader(data))
	for {
		d, ok, _ := r.next()
		if !ok {
			return docs
		}
		docs = append(docs, d)
	}
}

// documentReader cuts a YAML stream at its document markers: lines that
// start with "---" followed by a space or the end of the line, which YAML
// forbids anywhere else at the start of a line, even inside a quoted or
// block scalar. Directives (%YAML, %TAG) stay with the document they
// precede.
type documentReader struct {
	r         *bufio.Reader
	line      int   // lines read
	off       int64 // bytes read
	next1     []byte
	next1Line int
	next1Off  int64
	eof       bool
}

func newDocumentReader(r io.Reader) *documentReader {
	return &documentReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next document; ok is false at the end of the stream.
func (r *documentReader) next() (d document, ok bool, err error) {
	var buf []byte
	start, startOff := r.line, r.off
	directives := true // only directives, comments and blank lines so far
	if r.next1 != nil {
		buf, start, startOff = r.next1, r.next1Line, r.next1Off
		r.next1 = nil
		directives = false
	}
	for !r.eof {
		l, err := r.r.ReadBytes('\n')
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			return document{}, false, err
		}
		if len(l) == 0 {
			break
		}
		lineNo, lineOff := r.line, r.off
		r.line++
		r.off += int64(len(l))
		if isDocumentStart(l) {
			if len(buf) > 0 && !directives {
				r.next1, r.next1Line, r.next1Off = l, lineNo, lineOff
				return document{data: buf, line: start, off: startOff}, true, nil
			}
			directives = false
		} else if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && t[0] != '%' {
			directives = false
		}
		buf = append(buf, l...)
	}
	if len(buf) == 0 {
		return document{}, false, nil
	}
	return document{data: buf, line: start, off: startOff}, true, nil
}

func isDocumentStart(l []byte) bool {
	return bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\n' || l[3] == '\r')
}

// parseDocuments parses a document of file into an object, or a finding
// when it is not one (neither for an empty document). A document split
// off by an end marker (...) rather than a start marker is parsed too.
// fatal means the YAML is broken: the parser would not go past it.
func parseDocuments(file string, d document) (objs []*object, findings []Finding, fatal bool) {
	if content, ok := fastParse(d.data); ok {
		o := newObject("", content)
		o.src = source{file: file, lazy: &lazyNode{file: file, off: d.off, size: len(d.data), line: d.line}}
		return []*object{o}, nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(d.data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return objs, findings, false
		}
		if err != nil {
			f := yamlFinding(file, err.Error())
			if f.Line > 0 {
				f.Line += d.line
			}
			return objs, append(findings, f), true
		}
		if len(doc.Content) == 0 {
			continue
		}
		if d.line > 0 {
			offsetLines(&doc, d.line)
		}
		o, f := parseObject(file, doc.Content[0])
		if o != nil {
			objs = append(objs, o)
		}
		if f != nil {
			findings = append(findings, *f)
		}
	}
}

// parseObject makes an object of a document's root node, or says why it is
// not one.
func parseObject(file string, root *yaml.Node) (*object, *Finding) {
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil // an empty document, as after a trailing ---
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Finding{File: file, Line: root.Line, Col: root.Column, Severity: Error, Message: "not a Kubernetes object (a YAML mapping)"}
	}
	if path, key := complexKey(root, ""); key != nil {
		return nil, &Finding{File: file, Line: key.Line, Col: key.Column, Severity: Error, Message: fmt.Sprintf("%s: a key is a %s, not a string: Kubernetes objects are JSON, whose keys are strings", orRoot(path), nodeKind(key))}
	}
	v, ok := nodeValue(root)
	content, _ := v.(map[string]any)
	if !ok {
		if err := root.Decode(&content); err != nil {
			return nil, &Finding{File: file, Line: root.Line, Col: root.Column, Severity: Error, Message: "cannot be read as a Kubernetes object: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		}
		normalizeYAML(content)
	}
	o := newObject("", content)
	o.src = source{file: file, node: root}
	return o, nil
}

// offsetLines moves the lines of a document parsed on its own to where it
// is in its file. Every node is in exactly one Content: an alias points
// at its anchor's node, it does not hold it.
func offsetLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		offsetLines(c, by)
	}
}

// run is a check of many objects in progress: the objects are checked on
// their own by workers, each with its own findings; finish adds the CRDs
// among them, checks the objects that needed those, and runs the checks
// across objects.
type run struct {
	c       *checker
	workers []*checker
	slim    bool
	// crds and deferred wait for finish: the CRDs, and the objects that
	// may be custom resources of one.
	crds     []*object
	deferred []*object
	// finishing: the CRDs are known, nothing waits any more.
	finishing bool
}

// start begins checking objects with n workers. slim drops what an object
// no longer needs once it is checked; Pipeline keeps everything, for
// pipelineImage and the patch locator.
func (c *checker) start(n int, slim bool) *run {
	r := &run{c: c, slim: slim}
	c.run = r
	for range max(n, 1) {
		w := &checker{crds: c.crds, invalidCRDs: c.invalidCRDs, singletons: c.singletons, pipelineRef: c.pipelineRef, env: c.env, loc: c.loc, run: r}
		r.workers = append(r.workers, w)
	}
	return r
}

// each calls fn for 0..n-1 on the workers, and returns when all are done.
func (r *run) each(n int, fn func(w *checker, i int)) {
	if len(r.workers) == 1 || n < 2 {
		for i := range n {
			fn(r.workers[0], i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}

// finish checks what needed every object seen: the CRDs among them first,
// then their custom resources, then the policies across objects.
func (r *run) finish() {
	c := r.c
	for _, w := range r.workers {
		c.findings = append(c.findings, w.findings...)
		c.summary.merge(&w.summary)
	}
	for _, o := range r.crds {
		c.addCRD(o)
	}
	r.finishing = true
	for _, o := range append(r.crds, r.deferred...) {
		c.checkObject(o)
	}
	c.crossPolicies()
	c.summary = summary{}
	c.run = nil
}

// hold keeps o for finish if it waits for the CRDs. Called in the
// objects' order, so CRDs are added in it.
func (r *run) hold(o *object) {
	if o == nil || !o.waits {
		return
	}
	o.waits = false
	if isCRD(o) {
		r.crds = append(r.crds, o)
	} else {
		r.deferred = append(r.deferred, o)
	}
}
