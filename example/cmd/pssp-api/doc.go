// Command pssp-api is the example service that driftless deploys in its own
// tests and demo: a small API portal whose static configuration (APIs,
// plans, groups, routing) is baked into its image, and whose subscriptions
// live in Redis.
//
// Usage:
//
//	pssp-api [serve]    serve the HTTP API (the default role)
//	pssp-api worker     decide queued subscriptions
//	pssp-api version    print the version; so does --version
//
// Environment:
//
//	PSSP_STATIC_DIR  static configuration directory (default /var/portal-api/static)
//	PSSP_ADDR        listen address of serve (default :8080)
//	REDIS_ADDR       host:port of Redis; required by worker, optional for serve
//	LOG_LEVEL        debug, info, warn or error (default info)
//	PSSP_VERSION     overrides the version set at build time
//	PSSP_GIT_SHA     overrides the Git commit set at build time
//
// Exit status is 0 after a clean shutdown, 2 for a bad command line and 1
// for anything else, including a static configuration that does not pass
// its checks.
package main
