// Command apply compares apply-env with `kubectl apply --server-side`
// side by side in one run, against the same local control plane, on -n
// objects (ConfigMaps, Secrets, Services, Deployments): the first apply
// and an unchanged re-apply, in fresh namespaces each round. apply-env also
// waits for health, prunes and records the release; kubectl does none of
// that.
//
//	go run ./bench/apply -n 500 -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/internal/cluster"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/apply:", err)
		os.Exit(1)
	}
}

func objects(ns string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)
	for i := 0; i < n-1; i++ {
		b.WriteString("---\n")
		switch i % 10 {
		case 0, 1, 2, 3:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\ndata: {LOG_LEVEL: info, INDEX: \"%d\"}\n", i, ns, i)
		case 4, 5:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata: {name: s-%d, namespace: %s}\nstringData: {key: value-%d}\n", i, ns, i)
		case 6, 7, 8:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: %s}\nspec: {selector: {app: a-%d}, ports: [{port: 80, targetPort: 8080}]}\n", i, ns, i)
		case 9:
			fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata: {name: d-%[1]d, namespace: %[2]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: a-%[1]d}}
  template:
    metadata: {labels: {app: a-%[1]d}}
    spec: {containers: [{name: app, image: "registry.example.com/app@sha256:%[3]s"}]}
`, i, ns, strings.Repeat("a", 64))
		}
	}
	return b.String()
}

func timed(name string, args ...string) (time.Duration, error) {
	start := time.Now()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return time.Since(start), nil
}

func run() error {
	n := flag.Int("n", 500, "objects per apply")
	rounds := flag.Int("rounds", 3, "rounds, each in fresh namespaces")
	flag.Parse()
	root, err := testtool.FindRoot(".")
	if err != nil {
		return err
	}
	kubectl, err := testtool.Build(root, "kubectl")
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-apply-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	applyEnv := filepath.Join(work, "apply-env")
	if out, err := exec.Command("go", "build", "-o", applyEnv, "./cmd/apply-env").CombinedOutput(); err != nil {
		return fmt.Errorf("building apply-env: %v\n%s", err, out)
	}
	c, err := cluster.Start(context.Background(), cluster.WithDir(filepath.Join(work, "cluster")))
	if err != nil {
		return err
	}
	defer c.Stop()
	os.MkdirAll(filepath.Join(work, "k"), 0o755)
	os.WriteFile(filepath.Join(work, "k", "kustomization.yaml"), []byte("resources: []\n"), 0o644)

	var dFirst, dAgain, kFirst, kAgain, kWait []time.Duration
	for r := range *rounds {
		dns, kns := fmt.Sprintf("driftless-%d", r), fmt.Sprintf("kubectl-%d", r)
		spec := filepath.Join(work, "driftless.yaml")
		os.WriteFile(spec, []byte(fmt.Sprintf("apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: bench\nimage: {repository: registry.example.com/app, base: scratch}\nenvironments: [{name: bench, overlay: k, namespace: %s, timeout: 5m}]\n", dns)), 0o644)
		dm, km := filepath.Join(work, "d.yaml"), filepath.Join(work, "k.yaml")
		os.WriteFile(dm, []byte(objects(dns, *n)), 0o644)
		os.WriteFile(km, []byte(objects(kns, *n)), 0o644)
		// The manifests run the pipeline's image at this digest; apply-env
		// refuses manifests whose image it cannot tie to what runs.
		image := "registry.example.com/app@sha256:" + strings.Repeat("a", 64)
		da := []string{"--spec", spec, "--env", "bench", "--manifests", dm, "--image", image, "--kubeconfig", c.Kubeconfig()}
		ka := []string{"--kubeconfig", c.Kubeconfig(), "apply", "--server-side", "--field-manager", "bench", "-f", km}
		// What a careful user adds to kubectl apply so a broken rollout fails
		// the job: wait until every Deployment is Available.
		kw := []string{"--kubeconfig", c.Kubeconfig(), "wait", "--for=condition=Available", "--timeout=5m", "-n", kns, "deployment", "--all"}
		for _, step := range []struct {
			into *[]time.Duration
			bin  string
			args []string
		}{{&dFirst, applyEnv, da}, {&kFirst, kubectl, ka}, {&kWait, kubectl, kw}, {&dAgain, applyEnv, da}, {&kAgain, kubectl, ka}} {
			d, err := timed(step.bin, step.args...)
			if err != nil {
				return err
			}
			*step.into = append(*step.into, d)
		}
	}
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	fmt.Printf("%d objects, median of %d rounds, one local control plane\n", *n, *rounds)
	fmt.Printf("first apply, no wait: apply-env %v   kubectl apply --server-side %v   ratio %.2f\n", med(dFirst).Round(time.Millisecond), med(kFirst).Round(time.Millisecond), float64(med(dFirst))/float64(med(kFirst)))
	withWait := make([]time.Duration, len(kFirst))
	for i := range kFirst {
		withWait[i] = kFirst[i] + kWait[i]
	}
	fmt.Printf("first apply, healthy: apply-env %v   kubectl apply --server-side + kubectl wait %v   ratio %.2f\n", med(dFirst).Round(time.Millisecond), med(withWait).Round(time.Millisecond), float64(med(dFirst))/float64(med(withWait)))
	fmt.Printf("re-apply:       apply-env %v   kubectl apply --server-side %v   ratio %.2f\n", med(dAgain).Round(time.Millisecond), med(kAgain).Round(time.Millisecond), float64(med(dAgain))/float64(med(kAgain)))
	return nil
}
