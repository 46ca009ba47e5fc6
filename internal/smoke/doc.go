// Package smoke runs HTTP checks against a deployed environment and verifies
// that the live service is the release that was just deployed.
//
// A Check is one request and what its answer must be: status, text in the
// body, JSON fields by dot path, response headers and a latency budget.
// Expectations may name the release being verified — ${version}, ${gitSha},
// ${digest}, ${configRevision} — and request headers may take values from
// environment variables (${TOKEN}), which Expand reports as secrets so the
// caller can mask them. VersionCheck is the check that is always run: GET
// /version must report the deployed version and configuration revision,
// several times in a row, so a stale pod behind the Service cannot pass.
//
// A Target is where the checks go: a base URL, or a Service reached through
// the Kubernetes API server's service proxy with the caller's cluster
// credentials. Credentials are only ever sent to the API server: a check
// whose path is an absolute URL goes out with the Runner's plain client.
//
// The Runner retries each check with backoff until the suite's deadline, as
// new pods may still be warming up, and reports every failure with what was
// expected and what came back. Its clock, sleep and HTTP client are fields,
// so tests run without waiting. The Report renders as Markdown for the step
// summary and as JUnit XML for GitLab's and GitHub's test reports.
//
// Recorded reads the release kustomize-render recorded on the live
// Deployment, the default for what the service must report.
package smoke
