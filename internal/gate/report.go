package gate

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// verdict is a result's word in the tables.
func (g Result) verdict() string {
	switch {
	case !g.Passed:
		return "refused"
	case g.Override != "":
		return "overridden"
	}
	return "passed"
}

// Markdown renders the report as a table for $GITHUB_STEP_SUMMARY.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Promotion gates: `%s`\n\n", r.Environment)
	if r.Digest != "" {
		fmt.Fprintf(&b, "image `%s`\n\n", r.Digest)
	}
	if len(r.Results) == 0 {
		b.WriteString("No promotion gates are configured for this environment.\n")
		return b.String()
	}
	b.WriteString("| gate | result | detail |\n|---|---|---|\n")
	for _, g := range r.Results {
		icon := "✅"
		switch g.verdict() {
		case "refused":
			icon = "❌"
		case "overridden":
			icon = "⚠️"
		}
		fmt.Fprintf(&b, "| `%s` | %s %s | %s |\n", g.Name, icon, g.verdict(), cell(g.Detail))
	}
	if r.Passed() {
		b.WriteString("\nAll gates passed.\n")
	} else {
		fmt.Fprintf(&b, "\n**Refused** by %d gate(s).\n", len(r.Refused()))
	}
	return b.String()
}

// cell escapes what would break a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", "<br>")
}

// Text renders the report as an aligned plain-text table for logs.
func (r Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "promotion gates for %s (%s):\n", r.Environment, r.Digest)
	if len(r.Results) == 0 {
		b.WriteString("  none configured\n")
		return b.String()
	}
	nameW, verdictW := len("GATE"), len("RESULT")
	for _, g := range r.Results {
		nameW = max(nameW, utf8.RuneCountInString(g.Name))
		verdictW = max(verdictW, len(g.verdict()))
	}
	row := func(name, verdict, detail string) {
		fmt.Fprintf(&b, "  %s%s  %s%s  %s\n", name, pad(name, nameW), verdict, pad(verdict, verdictW), detail)
	}
	row("GATE", "RESULT", "DETAIL")
	for _, g := range r.Results {
		row(g.Name, g.verdict(), strings.ReplaceAll(g.Detail, "\n", " "))
	}
	return b.String()
}

func pad(s string, w int) string {
	return strings.Repeat(" ", max(0, w-utf8.RuneCountInString(s)))
}
