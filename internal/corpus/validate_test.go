package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/testtool"
	"github.com/driftless-dev/driftless/internal/validate"
)

// TestValidateFindings: validate-config's findings on each application of
// the corpus are those in its findings.golden (file paths relative to the
// application), so a change in what validate-config says about real
// applications shows in review. -update rewrites them.
func TestValidateFindings(t *testing.T) {
	t.Parallel()
	for _, app := range Apps(t) {
		t.Run(app.Name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r, err := validate.Pipeline(app.Spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			abs, err := filepath.Abs(app.Dir)
			if err != nil {
				t.Fatal(err)
			}
			// Paths in messages too, whether absolute or relative to the
			// working directory.
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			relDir, err := filepath.Rel(wd, abs)
			if err != nil {
				t.Fatal(err)
			}
			unroot := strings.NewReplacer(abs+string(filepath.Separator), "", relDir+string(filepath.Separator), "")
			var b strings.Builder
			fmt.Fprintf(&b, "# %d objects, %d errors, %d warnings\n", r.Objects, r.Count(validate.Error), r.Count(validate.Warning))
			for _, f := range r.Findings {
				file, err := filepath.Abs(f.File)
				if err != nil {
					t.Fatal(err)
				}
				if rel, err := filepath.Rel(abs, file); err == nil {
					f.File = filepath.ToSlash(rel)
				}
				policy := ""
				if f.Policy {
					policy = " (policy)"
				}
				fmt.Fprintf(&b, "%s%s\n", unroot.Replace(f.String()), policy)
			}
			t.Logf("%d objects, %d findings, %v", r.Objects, len(r.Findings), elapsed.Round(time.Millisecond))
			testtool.Golden(t, filepath.Join(app.Dir, "findings.golden"), []byte(b.String()))
		})
	}
}
