package smoke

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// JUnit XML as GitLab (artifacts: reports: junit) and GitHub test
// reporters read it: one testsuite per environment, one testcase per check.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the reports as one JUnit XML document. Mask the
// reports first (Report.Mask) if they may hold secrets.
func WriteJUnit(w io.Writer, reports ...*Report) error {
	doc := junitSuites{Name: "smoke-test"}
	var total time.Duration
	for _, r := range reports {
		s := junitSuite{
			Name:      "smoke-test " + r.Environment,
			Tests:     len(r.Results),
			Failures:  r.Failed(),
			Time:      seconds(r.Elapsed),
			Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05"),
			Properties: []junitProperty{
				{Name: "environment", Value: r.Environment},
				{Name: "target", Value: r.Target},
			},
		}
		for _, res := range r.Results {
			c := junitCase{
				Name:      res.Name,
				Classname: "smoke-test." + r.Environment,
				Time:      seconds(res.Elapsed),
				SystemOut: fmt.Sprintf("%s %s → %s in %s after %d attempt(s)", res.Method, res.URL, statusText(res.Status), RoundLatency(res.Latency), res.Attempts),
			}
			if !res.Passed {
				c.Failure = &junitFailure{
					Message: strings.Join(res.Problems, "; "),
					Type:    "SmokeCheckFailed",
					Text:    failureText(res),
				}
			}
			s.Cases = append(s.Cases, c)
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		total += r.Elapsed
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing the JUnit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return nil
}

func failureText(res Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", res.Method, res.URL)
	for _, p := range res.Problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	if res.Body != "" {
		fmt.Fprintf(&b, "body:\n%s\n", res.Body)
	}
	return b.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func statusText(code int) string {
	if code == 0 {
		return "no answer"
	}
	return fmt.Sprint(code)
}
