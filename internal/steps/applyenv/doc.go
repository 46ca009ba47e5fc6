// Package applyenv is the apply-env step: it applies a rendered environment to a cluster: staged
// server-side apply, health, prune, release history and rollback. See
// docs/steps/apply-env.md.
package applyenv
