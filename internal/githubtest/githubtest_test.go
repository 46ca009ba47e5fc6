package githubtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func do(t *testing.T, method, url, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode, resp.Header, v
}

func TestServer(t *testing.T) {
	t.Parallel()
	s := New(t, "o", "r", "s3cret")
	sha := strings.Repeat("a", 40)

	code, _, body := do(t, "GET", s.URL+"/repos/o/r/environments/prod", "")
	if diff := cmp.Diff(map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/deployments/environments#get-an-environment", "status": "404"}, body); code != 404 || diff != "" {
		t.Errorf("missing environment: %d (-want +got):\n%s", code, diff)
	}

	code, _, body = do(t, "POST", s.URL+"/repos/o/r/deployments", `{"environment":"prod"}`)
	if code != 422 || body["message"] != "Validation Failed" {
		t.Errorf("deployment without ref: %d %v", code, body)
	}
	code, _, body = do(t, "POST", s.URL+"/repos/o/r/deployments", `{"ref":"main","environment":"prod"}`)
	if code != 422 || body["message"] != "No ref found for: main" {
		t.Errorf("deployment of an unknown ref: %d %v", code, body)
	}

	// Like GitHub, the first deployment to an environment creates it,
	// without protection rules.
	code, _, body = do(t, "POST", s.URL+"/repos/o/r/deployments", `{"ref":"`+sha+`","environment":"prod","payload":{"digest":"sha256:1"}}`)
	if code != 201 || body["sha"] != sha || body["task"] != "deploy" || body["environment"] != "prod" {
		t.Errorf("create deployment: %d %v", code, body)
	}
	code, _, env := do(t, "GET", s.URL+"/repos/o/r/environments/prod", "")
	if code != 200 || env["deployment_branch_policy"] != nil || len(env["protection_rules"].([]any)) != 0 {
		t.Errorf("environment created by a deployment: %d %v", code, env)
	}

	id := int64(body["id"].(float64))
	code, _, body = do(t, "POST", s.URL+"/repos/o/r/deployments/"+jsonNumber(id)+"/statuses", `{"state":"done"}`)
	if code != 422 {
		t.Errorf("status with an invalid state: %d %v", code, body)
	}
	code, _, body = do(t, "POST", s.URL+"/repos/o/r/deployments/"+jsonNumber(id)+"/statuses", `{"state":"success","log_url":"https://ci/run/1"}`)
	if code != 201 || body["target_url"] != "https://ci/run/1" {
		t.Errorf("status: %d %v", code, body)
	}

	for range 3 {
		s.AddDeployment(Deployment{SHA: sha, Ref: sha, Task: "deploy", Environment: "test"})
	}
	code, h, _ := do(t, "GET", s.URL+"/repos/o/r/deployments?environment=test&per_page=2", "")
	if want := `page=2&per_page=2>; rel="next"`; code != 200 || !strings.Contains(h.Get("Link"), want) {
		t.Errorf("list page 1: %d, Link %q, want it to contain %q", code, h.Get("Link"), want)
	}

	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/repos/o/r/deployments", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("request without the token: %d, want 401", resp.StatusCode)
	}
	if n := len(s.Requests()); n != 9 {
		t.Errorf("recorded %d requests, want 9", n)
	}
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
