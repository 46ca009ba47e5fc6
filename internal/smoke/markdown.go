package smoke

import (
	"fmt"
	"strings"
)

// Markdown renders the results as a table for the step summary. Mask the
// report first (Report.Mask) if it may hold secrets.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| check | result | request | status | latency | attempts | detail |\n|---|---|---|---:|---:|---:|---|\n")
	for _, res := range r.Results {
		mark := "✅ passed"
		if !res.Passed {
			mark = "❌ failed"
		}
		fmt.Fprintf(&b, "| %s | %s | `%s %s` | %s | %s | %d | %s |\n",
			cell(res.Name), mark, res.Method, cell(res.Path), statusText(res.Status), RoundLatency(res.Latency), res.Attempts, cell(res.Message()))
	}
	return b.String()
}

// cell keeps text inside one Markdown table cell, and a body's HTML
// from being rendered.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\r\n", "<br>", "\n", "<br>", "`", "'", "<", "&lt;", ">", "&gt;").Replace(s)
}
