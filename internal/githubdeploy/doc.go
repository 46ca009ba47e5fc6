// Package githubdeploy records deployments in GitHub's Deployments API, so the
// repository's Environments and Deployments pages show which release and
// digest runs where, with a link to the environment and to the CI run.
//
// One Deployment per environment and run. A job that declares a GitHub
// environment already has one, which GitHub Actions made (task "deploy",
// empty payload, statuses linking the job): apply-env and smoke-test find
// it through the run's ID in its statuses and add theirs to it (in_progress,
// then success or failure). Only when the run has none (no environment:,
// deployment: false, a run by hand or on GitLab) does apply-env create one
// (ref = the commit, task Task, payload = digest and version, no
// auto-merge, no required status checks), which smoke-test then finds by
// commit, environment, Task and digest. Every status carries
// auto_inactive, so older deployments to the environment turn inactive
// when a new one succeeds. GitHub writes the last status of its own
// Deployment when the job ends, with the workflow's environment.url.
package githubdeploy
