// Package githubdeploy records deployments in GitHub's Deployments API, so the
// repository's Environments and Deployments pages show which release and
// digest runs where, with a link to the environment and to the CI run.
//
// apply-env creates a deployment for the environment (ref = the commit,
// payload = digest and version, no auto-merge, no required status checks)
// and moves its status: in_progress while it applies, then success or
// failure. smoke-test, which runs after apply-env, finds that deployment by
// commit, environment, Task and digest instead of creating a second one,
// and sets the final status. Every status carries auto_inactive, so older
// deployments to the environment turn inactive when a new one succeeds.
//
// Deployments driftless creates carry the task Task; a job that declares a
// GitHub environment also gets a deployment from GitHub itself (task
// "deploy", empty payload), which this package leaves alone.
package githubdeploy
