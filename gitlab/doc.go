// Package gitlab holds the GitLab CI configuration users copy (the GitHub
// workflows live in .github/workflows), and a test that keeps it true to
// the steps' inputs and outputs. (example/ is the service driftless
// deploys in its tests and demo.)
package gitlab
