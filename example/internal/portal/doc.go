// Package portal is the HTTP API of pssp-api: the static configuration,
// read-only, and subscriptions, stored through a Subscriptions store.
//
// Every response carries the configuration revision in the
// X-Config-Revision header, so any single request shows which static
// configuration answered it.
package portal
