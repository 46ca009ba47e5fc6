// Package githubtest fakes the part of the GitHub REST API that promotion
// gates and GitHub Deployments use — environments with their protection
// rules and deployment branch policies, deployments and deployment
// statuses — with an httptest server in the style of go-github's own tests.
//
// It answers with the JSON shapes GitHub documents (201 with the created
// object, 404 {"message":"Not Found","documentation_url":…}, 422
// "Validation Failed", Link headers on lists), keeps its state in memory,
// and records every request (method, path, query, Authorization, body) so a
// test can assert exactly what a step asked for. Like GitHub, creating a
// deployment for an environment that does not exist creates the
// environment, without protection rules.
package githubtest
