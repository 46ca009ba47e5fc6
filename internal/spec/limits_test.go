package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const hostileHead = `apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: svc
image: {repository: registry.example.com/svc, base: scratch}
`

// hostileSpecs are files that once cost a step gigabytes, each with where
// and why it is refused now. Every field in them is a real one: the old
// decoder stopped early at an unknown field.
func hostileSpecs() []struct {
	name, spec, want, capName string
} {
	var big strings.Builder
	big.WriteString(hostileHead + "environments:\n  - {name: &big \"" + strings.Repeat("a", 1_000_000) + "\", overlay: *big, namespace: n}\n")
	big.WriteString(strings.Repeat("  - {name: *big, overlay: *big, namespace: n}\n", 999))

	var nested strings.Builder
	nested.WriteString(hostileHead + "environments:\n  - &e\n    name: e\n    overlay: o\n    namespace: n\n    smoke:\n      checks: [&c {name: c, path: /, headers: {A: b, B: b, C: b, D: b, E: b, F: b, G: b, H: b}}")
	nested.WriteString(strings.Repeat(", *c", 199) + "]\n")
	nested.WriteString(strings.Repeat("  - *e\n", 999))

	var short strings.Builder
	short.WriteString(hostileHead + "environments:\n  - {name: e0, overlay: &o o, namespace: &n n}\n")
	for i := 1; i < 600; i++ {
		fmt.Fprintf(&short, "  - {name: e%d, overlay: *o, namespace: *n}\n", i)
	}

	var million strings.Builder
	million.WriteString(hostileHead + "environments:\n")
	for i := range 1_000_000 {
		fmt.Fprintf(&million, "  - {name: e%d, overlay: o, namespace: n}\n", i)
	}
	millionLine := 1 + strings.Count(million.String()[:MaxFileSize], "\n")

	var envs strings.Builder
	envs.WriteString(hostileHead + "environments:\n")
	for i := range MaxItems + 1 {
		fmt.Fprintf(&envs, "  - {name: e%d, overlay: o, namespace: n}\n", i)
	}

	var vars strings.Builder
	vars.WriteString(strings.Replace(hostileHead, "base: scratch}", "base: scratch, env: {", 1))
	for i := range MaxItems + 1 {
		fmt.Fprintf(&vars, "V%d: x, ", i)
	}
	vars.WriteString("}}\nenvironments: []\n")

	return []struct{ name, spec, want, capName string }{
		{
			// 2,000 findings quoting the string: 2 GB of stderr.
			"a megabyte string aliased 2000 times",
			big.String(),
			"f.yaml:7:12: environments[1].name: aliases expand to more than 1048576 bytes (1 MiB), the cap on what aliases may expand to",
			"alias expansion",
		},
		{
			// 1,000 environments of 200 checks from a 5 kB file.
			"nested aliases",
			nested.String(),
			"f.yaml:16:5: environments[5]: more than 1000 aliases, the cap on aliases followed",
			"aliases",
		},
		{
			"a thousand and one aliases of short values",
			short.String(),
			"f.yaml:507:27: environments[501].overlay: more than 1000 aliases",
			"aliases",
		},
		{
			// 45 MB: 27 s and 3.5 GB in validate-config.
			"a million environments",
			million.String(),
			fmt.Sprintf("f.yaml:%d:1: the file goes past 1048576 bytes (1 MiB), the cap on a spec's size, at this line", millionLine),
			"file size",
		},
		{
			"1001 environments",
			envs.String(),
			"f.yaml:6:3: environments: a list of 1001 items, over the cap of 1000 items in one list",
			"items",
		},
		{
			"a mapping of 1001 entries",
			vars.String(),
			"f.yaml:4:67: image.env: a mapping of 1001 entries, over the cap of 1000 entries in one mapping",
			"items",
		},
	}
}

// TestHostileSpecsAreRefusedCheaply: each hostile spec is refused with one
// error naming the file, line, field and cap — not reported finding by
// finding — and refusing it allocates little. Not parallel: it measures
// the process's allocations.
func TestHostileSpecsAreRefusedCheaply(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range hostileSpecs() {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "f.yaml")
			if err := os.WriteFile(path, []byte(tc.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Load(path)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes of spec: refused in %v, %.1f MiB allocated", len(tc.spec), elapsed, float64(alloc)/(1<<20))

			if err == nil {
				t.Fatal("Load accepted it")
			}
			msg := strings.Replace(err.Error(), path, "f.yaml", 1)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error\n  %.1000s\nwant it to contain\n  %s", msg, tc.want)
			}
			if n := len(Errors(err)); n != 0 {
				t.Errorf("reported as %d finding(s); want one refusal of the whole spec", n)
			}
			if len(msg) > 1024 {
				t.Errorf("the error is %d bytes long", len(msg))
			}
			var le *LimitError
			if !errors.As(err, &le) || le.Cap != tc.capName {
				t.Errorf("error %T %+v, want a *LimitError for the %s cap", err, le, tc.capName)
			}
			if alloc > 64<<20 {
				t.Errorf("refusing it allocated %d MiB; want less than 64", alloc>>20)
			}
		})
	}
}

func TestParseChecksTheSizeCapToo(t *testing.T) {
	t.Parallel()
	_, err := Parse("f.yaml", []byte(base+"# "+strings.Repeat("x", MaxFileSize)+"\n"))
	var le *LimitError
	if !errors.As(err, &le) || le.Cap != "file size" || le.Line != 11 {
		t.Errorf("got %v, want the file size cap at line 11", err)
	}
}

// TestRealisticAliasesPass: anchors used the way real specs use them (one
// smoke block shared by environments) are far below the caps.
func TestRealisticAliasesPass(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(hostileHead + "environments:\n")
	for i := range 50 {
		fmt.Fprintf(&b, "  - name: e%d\n    overlay: o\n    namespace: n\n", i)
		if i == 0 {
			b.WriteString("    smoke: &smoke\n      checks:\n" + strings.Repeat("        - {name: c, path: /"+strings.Repeat("p", 500)+", headers: {A: b}}\n", 10))
		} else {
			b.WriteString("    smoke: *smoke\n")
		}
	}
	if _, err := Parse("f.yaml", []byte(b.String())); err != nil {
		t.Fatal(err)
	}
}

// TestFindingsAreBounded: a spec with many problems reports the first
// MaxFindings and how many more, and a value quoted in a message is cut to
// MaxQuoted bytes.
func TestFindingsAreBounded(t *testing.T) {
	t.Parallel()
	many := func(entry string) string {
		var b strings.Builder
		b.WriteString(hostileHead + "environments:\n")
		for i := range 300 {
			fmt.Fprintf(&b, entry, i)
		}
		return b.String()
	}
	long := strings.Repeat("é", 5000) // 10,000 bytes
	cases := []struct {
		name, spec string
		findings   int
		last, want string
	}{
		{"300 semantic problems", many("  - {name: e%d, overlay: o, namespace: N}\n"), MaxFindings + 1, "f.yaml: 200 more problem(s) not shown: driftless reports at most 100 per spec", ""},
		{"300 structural problems", many("  - {name: e%d, overlay: o, namespace: n, nmespace: n}\n"), MaxFindings + 1, "f.yaml: 200 more problem(s) not shown", ""},
		{"a long value", hostileHead + "environments:\n  - {name: \"" + long + "\", overlay: o, namespace: n}\n", 1, "", `f.yaml:6:12: environments[0].name: "` + strings.Repeat("é", MaxQuoted/2) + `"… (10000 bytes in all) is not a valid environment name`},
		{"a long wrong-typed value", hostileHead + "environments: \"" + long + "\"\n", 1, "", `f.yaml:5:15: environments: expected a list, got the string "` + strings.Repeat("é", MaxQuoted/2) + `"… (10000 bytes in all)`},
		{"a long unknown key", hostileHead + "? " + long + "\n: x\n", 1, "", `f.yaml:5:3: ` + strings.Repeat("é", MaxQuoted/2) + `… (10000 bytes in all): unknown field "` + strings.Repeat("é", MaxQuoted/2) + `"… (10000 bytes in all); valid fields here`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("f.yaml", []byte(tc.spec))
			errs := Errors(err)
			if len(errs) != tc.findings {
				t.Fatalf("%d findings, want %d", len(errs), tc.findings)
			}
			if last := errs[len(errs)-1].Error(); !strings.Contains(last, tc.last) {
				t.Errorf("last finding\n  %s\nwant it to contain\n  %s", last, tc.last)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %.2000s\nwant it to contain\n  %s", err, tc.want)
			}
			for _, e := range errs {
				if n := len(e.Error()); n > 1200 {
					t.Errorf("a %d-byte finding: %.300s…", n, e)
				}
			}
		})
	}
}
