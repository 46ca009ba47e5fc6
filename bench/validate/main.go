// Command validate compares validate-config with kubeconform side by side
// in one run, on the same -n rendered objects: the example's prod
// environment as kustomize-render renders it (Namespace, ConfigMap,
// Secret, Services, PersistentVolumeClaim, Deployments,
// PodDisruptionBudget), repeated in as many namespaces as it takes. Both
// run as whole processes, in alternating order, -rounds times; the wall
// time and peak resident memory (wait4's rusage) of each are reported as
// medians and as ratios.
//
// kubeconform runs with -strict against JSON schemas generated here from
// the OpenAPI document of the Kubernetes release the local control plane
// runs (schemas.go), nothing fetched. validate-config does more: the
// deployment policies, source positions, names and labels as the API
// server checks them.
//
//	go run ./bench/validate -n 10000 -rounds 5
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/validate:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 10000, "objects to validate")
	rounds := flag.Int("rounds", 5, "rounds, each running both once")
	keep := flag.String("dir", "", "write the binaries, schemas and manifests here and keep them (default: a temporary directory, removed)")
	bin := flag.String("validate-config", "", "the validate-config binary to measure (default: built from this tree as scripts/build builds it)")
	flag.Parse()
	root, err := testtool.FindRoot(".")
	if err != nil {
		return err
	}
	work := *keep
	if work == "" {
		if work, err = os.MkdirTemp("", "bench-validate-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}

	kubeconform, err := testtool.Build(root, "kubeconform")
	if err != nil {
		return err
	}
	measurer := filepath.Join(work, "measure")
	build := exec.Command("go", "build", "-o", measurer, "./bench/validate/measure")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building bench/validate/measure: %v\n%s", err, out)
	}
	validateConfig := *bin
	if validateConfig == "" {
		// As scripts/build builds the release binaries.
		validateConfig = filepath.Join(work, "validate-config")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", validateConfig, "./cmd/validate-config")
		build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building validate-config: %v\n%s", err, out)
		}
	}

	openAPI, k8sVersion, err := kubernetesOpenAPI(root)
	if err != nil {
		return err
	}
	schemas := filepath.Join(work, "schemas")
	count, err := writeSchemas(openAPI, schemas)
	if err != nil {
		return fmt.Errorf("generating JSON schemas from %s: %w", openAPI, err)
	}

	specFile := filepath.Join(root, "driftless.yaml")
	manifests := filepath.Join(work, "manifests.yaml")
	kinds, err := writeObjects(specFile, manifests, *n)
	if err != nil {
		return err
	}

	vc := []string{validateConfig, "--spec", specFile, "--manifests", manifests}
	kc := []string{kubeconform, "-strict", "-summary", "-kubernetes-version", strings.TrimPrefix(k8sVersion, "v"),
		"-schema-location", filepath.Join(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json"), manifests}
	var vcRuns, kcRuns []result
	for r := range *rounds {
		order := []*[]result{&vcRuns, &kcRuns}
		if r%2 == 1 {
			order = []*[]result{&kcRuns, &vcRuns}
		}
		for _, into := range order {
			args := vc
			check := func(out string) error { return checkValidateConfig(out, *n) }
			if into == &kcRuns {
				args, check = kc, func(out string) error { return checkKubeconform(out, *n) }
			}
			res, err := measure(measurer, args, check)
			if err != nil {
				return err
			}
			*into = append(*into, res)
		}
	}

	v, k := median(vcRuns), median(kcRuns)
	fmt.Printf("%d objects (%s), median of %d rounds; kubeconform %s -strict, %d schemas from Kubernetes %s's OpenAPI\n", *n, kinds, *rounds, toolVersion(kubeconform), count, k8sVersion)
	fmt.Printf("validate-config: %8v  peak RSS %6.1f MiB  CPU %8v\n", v.wall.Round(time.Millisecond), mib(v.rss), v.cpu.Round(time.Millisecond))
	fmt.Printf("kubeconform:     %8v  peak RSS %6.1f MiB  CPU %8v\n", k.wall.Round(time.Millisecond), mib(k.rss), k.cpu.Round(time.Millisecond))
	fmt.Printf("validate-config / kubeconform: wall %.2f× (%.2f× faster), memory %.2f×, CPU %.2f× (load average %s)\n",
		float64(v.wall)/float64(k.wall), float64(k.wall)/float64(v.wall), float64(v.rss)/float64(k.rss), float64(v.cpu)/float64(k.cpu), loadavg())
	return nil
}

// result is one process's wall time, peak resident set (bytes) and CPU
// time (user and system).
type result struct {
	wall time.Duration
	rss  int64
	cpu  time.Duration
}

// measure runs args through the measure program (see measure/main.go).
func measure(measurer string, args []string, check func(string) error) (result, error) {
	out, err := os.CreateTemp("", "bench-validate-measure-")
	if err != nil {
		return result{}, err
	}
	out.Close()
	defer os.Remove(out.Name())
	cmd := exec.Command(measurer, append([]string{out.Name()}, args...)...)
	// Outside CI: no GitHub or GitLab files to write.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GITHUB_") && !strings.HasPrefix(e, "GITLAB_") && !strings.HasPrefix(e, "CI=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	name := filepath.Base(args[0])
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %v\n%s", name, err, tail(output.String()))
	}
	if err := check(output.String()); err != nil {
		return result{}, fmt.Errorf("%s: %v\n%s", name, err, tail(output.String()))
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		return result{}, err
	}
	var wall, kib, cpu int64
	if _, err := fmt.Sscan(string(b), &wall, &kib, &cpu); err != nil {
		return result{}, fmt.Errorf("%s: reading its measurement %q: %v", name, b, err)
	}
	return result{wall: time.Duration(wall), rss: kib * 1024, cpu: time.Duration(cpu)}, nil
}

// checkValidateConfig makes sure validate-config checked every object and
// found nothing, so both programs did the same work.
func checkValidateConfig(out string, n int) error {
	want := fmt.Sprintf("validate-config: %d object(s) checked, 0 error(s), 0 warning(s)", n)
	if !strings.Contains(out, want) {
		return fmt.Errorf("its log does not say %q", want)
	}
	return nil
}

// checkKubeconform makes sure kubeconform found a schema for every object
// and validated it: a kind without a schema would be skipped, not checked.
func checkKubeconform(out string, n int) error {
	want := fmt.Sprintf("Valid: %d, Invalid: 0, Errors: 0, Skipped: 0", n)
	if !strings.Contains(out, want) {
		return fmt.Errorf("its summary does not say %q", want)
	}
	return nil
}

func median(rs []result) result {
	walls, rsss, cpus := make([]time.Duration, len(rs)), make([]int64, len(rs)), make([]time.Duration, len(rs))
	for i, r := range rs {
		walls[i], rsss[i], cpus[i] = r.wall, r.rss, r.cpu
	}
	slices.Sort(walls)
	slices.Sort(rsss)
	slices.Sort(cpus)
	return result{wall: walls[len(walls)/2], rss: rsss[len(rsss)/2], cpu: cpus[len(cpus)/2]}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// loadavg is the one-minute load average: wall times on a busy machine
// say less than the CPU times.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

func toolVersion(path string) string {
	// scripts/tool caches each tool as <name>-<version>/<name>.
	dir := filepath.Base(filepath.Dir(path))
	return strings.TrimPrefix(dir, filepath.Base(path)+"-")
}

// writeObjects renders the example's prod environment as kustomize-render
// does and writes n objects to file: the render repeated, each copy in a
// namespace of its own, the last cut short. It returns the kinds, counted.
func writeObjects(specFile, file string, n int) (string, error) {
	p, err := spec.Load(specFile)
	if err != nil {
		return "", err
	}
	env, err := p.Environment("prod")
	if err != nil {
		return "", err
	}
	res, err := render.Environment(p, env, render.Options{
		Image:   p.Image.Repository + "@sha256:" + strings.Repeat("ab", 32),
		Version: "v1.0.0", GitSHA: strings.Repeat("0", 40), ConfigRevision: "bench",
	})
	if err != nil {
		return "", fmt.Errorf("rendering the example's prod environment: %w", err)
	}
	var b bytes.Buffer
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		o := res.Objects[i%len(res.Objects)]
		copyNo := i / len(res.Objects)
		var content map[string]any
		// A deep copy: the render's objects are shared between copies.
		data, err := sigsyaml.Marshal(o.Content)
		if err != nil {
			return "", err
		}
		if err := sigsyaml.Unmarshal(data, &content); err != nil {
			return "", err
		}
		ns := fmt.Sprintf("%s-%04d", env.Namespace, copyNo)
		meta := content["metadata"].(map[string]any)
		if o.Kind == "Namespace" {
			meta["name"] = ns
		} else if o.Namespace != "" {
			meta["namespace"] = ns
		}
		data, err = sigsyaml.Marshal(content)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
		counts[o.Kind]++
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		return "", err
	}
	var kinds []string
	for _, o := range res.Objects {
		if c, ok := counts[o.Kind]; ok {
			kinds = append(kinds, fmt.Sprintf("%d %s", c, o.Kind))
			delete(counts, o.Kind)
		}
	}
	return strings.Join(kinds, ", "), nil
}
