// Package gate evaluates an environment's promotion gates before apply-env
// writes anything: evidence that the digest was verified in the previous
// environment (from), its age (soak), a release tag (gitTag), freeze windows
// (freeze) and the CI's environment protection (approval).
//
// Every configured gate is evaluated and reported, also after one refused,
// so the summary table shows everything that stands in the way at once. A
// gate that cannot find out what it needs (no API access, an unknown CI)
// refuses and says what to configure: gates fail closed.
//
// GitHub approval. A step cannot tell which GitHub environment its job runs
// in: GitHub exposes no variable or context for it (actions/runner#1369).
// So the environment is an input (Input.CIEnvironment, by default the
// driftless environment's name), and the gate reads that environment with
// the REST API: it must have a required_reviewers rule with at least one
// reviewer, and "Deployment branches and tags" set to selected branches and
// tags with a tag rule matching the release tag. "Protected branches only"
// is refused: GitHub does not let tags deploy to such an environment. A
// missing environment is refused too: GitHub creates one without any rules
// the first time a job names it. What binds the job to the environment is
// that its deployment credentials are environment secrets: a job that does
// not name the environment has no kubeconfig to apply with. The token needs
// `actions: read` to read environments and their policies.
//
// GitLab approval. The job must name the environment (CI_ENVIRONMENT_NAME,
// with action start) and run for a protected ref (CI_COMMIT_REF_PROTECTED).
// GitLab enforces the rest, and the job token cannot read it: the
// environment must be protected (Settings → CI/CD → Protected environments:
// allowed to deploy = maintainers or a deploy group, required approvals ≥ 1)
// and the release tags protected (Settings → Repository → Protected tags,
// v*), so that only maintainers create them and only their pipelines see
// the protected deployment variables.
package gate
