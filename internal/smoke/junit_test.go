package smoke_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/smoke"
)

// report is a finished suite: one check passed, one failed.
func report() *smoke.Report {
	return &smoke.Report{
		Environment: "test",
		Target:      "https://test.example.com",
		Started:     time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Elapsed:     1500 * time.Millisecond,
		Results: []smoke.Result{
			{Name: "version", Method: "GET", Path: "/version", URL: "https://test.example.com/version", Passed: true, Attempts: 3, Status: 200, Latency: 12 * time.Millisecond, Elapsed: 40 * time.Millisecond},
			{Name: "catalog | apis", Method: "GET", Path: "/apis/catalog", URL: "https://test.example.com/apis/catalog", Attempts: 9, Status: 503, Latency: 800 * time.Millisecond, Elapsed: 1400 * time.Millisecond,
				Problems: []string{"status: want 200, got 503", `json name: want "catalog", missing`}, Body: "<html>bad & \x00 gateway</html>"},
		},
	}
}

type junit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := smoke.WriteJUnit(&b, report()); err != nil {
		t.Fatal(err)
	}
	var got junit
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("the JUnit report does not parse: %v\n%s", err, b.String())
	}
	if got.Tests != 2 || got.Failures != 1 || len(got.Suites) != 1 {
		t.Fatalf("counts: %+v", got)
	}
	s := got.Suites[0]
	if s.Name != "smoke-test test" || s.Tests != 2 || s.Failures != 1 || s.Time != "1.500" || len(s.Cases) != 2 {
		t.Errorf("suite: %+v", s)
	}
	if c := s.Cases[0]; c.Name != "version" || c.Classname != "smoke-test.test" || c.Time != "0.040" || c.Failure != nil {
		t.Errorf("passed case: %+v", c)
	}
	c := s.Cases[1]
	if c.Failure == nil {
		t.Fatal("failed case has no failure")
	}
	if diff := cmp.Diff(`status: want 200, got 503; json name: want "catalog", missing`, c.Failure.Message); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if !strings.Contains(c.Failure.Text, "<html>bad & \uFFFD gateway</html>") {
		t.Errorf("failure text lacks the body: %q", c.Failure.Text)
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	want := "| check | result | request | status | latency | attempts | detail |\n|---|---|---|---:|---:|---:|---|\n" +
		"| version | ✅ passed | `GET /version` | 200 | 12ms | 3 |  |\n" +
		"| catalog \\| apis | ❌ failed | `GET /apis/catalog` | 503 | 800ms | 9 | status: want 200, got 503; json name: want \"catalog\", missing; body: &lt;html&gt;bad & \x00 gateway&lt;/html&gt; |\n"
	if diff := cmp.Diff(want, report().Markdown()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	r := report()
	r.Results[1].Body = "token s3cr3t"
	r.Results[1].Problems = []string{"header: got s3cr3t"}
	m := r.Mask(func(s string) string { return strings.ReplaceAll(s, "s3cr3t", "***") })
	if m.Results[1].Body != "token ***" || m.Results[1].Problems[0] != "header: got ***" {
		t.Errorf("not masked: %+v", m.Results[1])
	}
	if r.Results[1].Problems[0] != "header: got s3cr3t" {
		t.Error("Mask changed the original report")
	}
}
