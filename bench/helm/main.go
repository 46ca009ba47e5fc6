// Command helm compares driftless's in-process chart render with
// `helm template` side by side in one run, on the same chart and inputs:
// the example's chart (example/chart) for prod, and the chart `helm create`
// writes. Each round runs, in alternating order:
//
//   - helm template: the helm binary (tools/helm, the SDK's version), as a
//     process, with the environment's values files, --kube-version and
//     --skip-tests (what chart.testHooks: drop leaves out);
//   - kustomize-render: the step binary as scripts/build builds it, as a
//     process, rendering that one environment: the chart, then the
//     kustomize pass, pinning, metadata, checks, the file written;
//   - RenderChart: the Helm part alone, in this process (render.RenderChart:
//     what helm template does, without a process to start).
//
// Medians over -rounds, and each as a ratio of helm template's.
//
//	go run ./bench/helm -rounds 30
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/helm:", err)
		os.Exit(1)
	}
}

// chartCase is one chart and environment rendered by all three.
type chartCase struct {
	name string
	spec string
	env  string
}

func run() error {
	rounds := flag.Int("rounds", 30, "rounds, each running all three once per chart")
	flag.Parse()
	root, err := testtool.FindRoot(".")
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-helm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	helm, err := testtool.Build(root, "helm")
	if err != nil {
		return err
	}
	helmEnv := append(os.Environ(), "HELM_CACHE_HOME="+work, "HELM_CONFIG_HOME="+work, "HELM_DATA_HOME="+work)
	// As in CI: the commit and tag come from the environment, not from git.
	stepEnv := append(os.Environ(), "GITHUB_ACTIONS=true", "GITHUB_REF=refs/tags/v1.0.0", "GITHUB_SHA=c0ffee", "GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY=")
	step := filepath.Join(work, "kustomize-render")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", step, "./cmd/kustomize-render")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building kustomize-render: %v\n%s", err, out)
	}

	// helm create's chart, beside a spec of one environment.
	create := exec.Command(helm, "create", filepath.Join(work, "starter"))
	create.Env = helmEnv
	if out, err := create.CombinedOutput(); err != nil {
		return fmt.Errorf("helm create: %v\n%s", err, out)
	}
	starter := filepath.Join(work, "driftless.yaml")
	if err := os.WriteFile(starter, []byte(`apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: starter
image: {repository: 127.0.0.1:5000/starter, name: nginx, base: scratch}
environments:
  - name: prod
    namespace: starter
    chart: {path: starter, kubeVersion: v1.34.3, testHooks: drop, imageValues: {repository: image.repository, tag: image.tag}}
`), 0o644); err != nil {
		return err
	}
	cases := []chartCase{
		{"example/chart (prod)", filepath.Join(root, "example", "helm", "driftless.yaml"), "prod"},
		{"helm create", starter, "prod"},
	}
	image := "127.0.0.1:5000/pssp/api@sha256:" + fmt.Sprintf("%064x", 1)

	fmt.Printf("%d rounds; medians; ratio = time / helm template's\n\n", *rounds)
	fmt.Println("| chart | helm template | kustomize-render | ratio | RenderChart (in-process) | ratio |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, c := range cases {
		p, err := spec.Load(c.spec)
		if err != nil {
			return err
		}
		env, err := p.Environment(c.env)
		if err != nil {
			return err
		}
		ch := env.Chart
		repo, digest := image[:len(image)-72], image[len(image)-71:]
		args := []string{"template", render.ReleaseName(p, ch), p.Path(ch.Path), "--namespace", env.Namespace, "--kube-version", ch.KubeVersion, "--skip-tests"}
		for _, v := range ch.Values {
			args = append(args, "-f", p.Path(v))
		}
		if iv := ch.ImageValues; iv != nil {
			args = append(args, "--set", iv.Repository+"="+repo)
			if iv.Digest != "" {
				args = append(args, "--set", iv.Digest+"="+digest)
			}
		}
		out := filepath.Join(work, "out")
		var tHelm, tStep, tIn []time.Duration
		for i := range *rounds {
			runs := []func() error{
				func() error { return timed(&tHelm, helmEnv, helm, args...) },
				func() error {
					return timed(&tStep, stepEnv, step, "--spec", c.spec, "--env", c.env, "--image", image, "--release", "v1.0.0", "--git-sha", "c0ffee", "--config-revision", "sha256:0", "--out", out)
				},
				func() error {
					start := time.Now()
					if _, err := render.RenderChart(context.Background(), p, env, render.ChartInputs{Image: image}); err != nil {
						return err
					}
					tIn = append(tIn, time.Since(start))
					return nil
				},
			}
			if i%2 == 1 {
				slices.Reverse(runs)
			}
			for _, r := range runs {
				if err := r(); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
			}
		}
		h, s, in := median(tHelm), median(tStep), median(tIn)
		fmt.Printf("| %s | %s | %s | %.2f | %s | %.3f |\n", c.name, ms(h), ms(s), float64(s)/float64(h), ms(in), float64(in)/float64(h))
	}
	return nil
}

func timed(into *[]time.Duration, env []string, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", filepath.Base(bin), err, out)
	}
	*into = append(*into, time.Since(start))
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
