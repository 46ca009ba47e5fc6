// Package smoketest is the smoke-test step: it runs HTTP checks against a deployed environment,
// verifies that the live service is the release just deployed, and records
// verified-in-environment evidence on the image digest. See
// docs/steps/smoke-test.md.
package smoketest
