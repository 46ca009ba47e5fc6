// Package examples holds the CI configurations users copy (GitLab CI here;
// the GitHub workflow lives in .github/workflows), and a test that keeps
// them true to the steps' inputs and outputs.
package examples
