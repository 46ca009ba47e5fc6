package apply

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/kube"
)

// TestDiagnoseCrashLoop deploys a release whose container crash-loops on a
// real node, printing a Secret's value: the rollout fails fast, the
// failure carries the container's last log lines with the value masked,
// the log shows them before the rollback, and the release before is
// restored.
func TestDiagnoseCrashLoop(t *testing.T) {
	t.Parallel()
	c := clustertest.SharedNode(t)
	ns := clustertest.Namespace(t, c)
	image := clustertest.GoImage(t, c, "./internal/cluster/testdata/hello")
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: ns}
	e.a = &Applier{C: clients, Logf: e.logf, PollInterval: 200 * time.Millisecond}

	const token = "s3cr3t-token-value"
	manifests := func(args string) []byte {
		return []byte(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: token, namespace: %[1]s}
stringData: {token: %[2]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
        - name: hello
          image: %[3]q
          args: %[4]s
          env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: token, key: token}}}]
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`, ns, token, image, args))
	}
	if _, err := e.a.Deploy(t.Context(), e.deployment(manifests("[]"))); err != nil {
		t.Fatalf("release 1: %v\n%s", err, e.log())
	}
	begin := time.Now()
	_, err = e.a.Deploy(t.Context(), e.deployment(manifests("[crash, TOKEN]")))
	var re *RolloutError
	if !errors.As(err, &re) {
		t.Fatalf("release 2: %v, want a RolloutError\n%s", err, e.log())
	}
	if took := time.Since(begin); took > 45*time.Second {
		t.Errorf("the crash loop took %s to fail the rollout (timeout 60s); it should fail fast", took)
	}
	if !re.RollbackOK || re.RolledBack != 1 {
		t.Errorf("rolled back to %d, ok %t: %v", re.RolledBack, re.RollbackOK, re.Rollback)
	}
	if len(re.Pods) == 0 {
		t.Fatalf("no pod reports:\n%s", e.log())
	}
	r := re.Pods[0]
	text := r.Text()
	if r.Workload != "Deployment/"+ns+"/hello" || !strings.Contains(r.State, "last run: Error, exit code 1") {
		t.Errorf("report of %s, state %q", r.Workload, r.State)
	}
	for _, want := range []string{"| hello: TOKEN=***", "| hello: crashing as asked", "BackOff"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%s", want, text)
		}
	}
	if log := e.log(); strings.Contains(text, token) || strings.Contains(log, token) {
		t.Errorf("the Secret's value is shown:\n%s\n%s", text, log)
	}
	log := e.log()
	if shown, rollback := strings.Index(log, "| hello: crashing as asked"), strings.Index(log, "rolling back to release 1"); shown < 0 || rollback < 0 || shown > rollback {
		t.Errorf("the log does not show the container's lines before the rollback:\n%s", log)
	}
}
