// Package evidence records that an image digest was verified in an
// environment, on the digest itself, and finds that record again.
//
// After smoke-test passes in environment E for digest D it attaches an
// in-toto Statement v1 (predicate type PredicateType) to D as an OCI
// referrer: an image manifest with artifactType application/vnd.in-toto+json,
// the empty config, one layer holding the statement (or a DSSE envelope
// around it when a Signer is given) and subject D. apply-env for an
// environment promoted from E then finds that evidence before it deploys D.
// The record travels with the image, works in any CI and outlives the CI's
// log retention.
//
// Registries with the OCI referrers API list referrers themselves; for the
// others (CNCF Distribution 2.8, registries that predate OCI 1.1) writing and
// reading go through go-containerregistry's referrers tag schema: an image
// index tagged sha256-<hex> that lists D's referrers.
//
// Find trusts nothing it reads until it has checked it: the statement must
// name D, be for the environment asked about, record only passed checks and,
// when a Verifier is given, carry a DSSE signature by one of its keys.
// Evidence that fails these checks is reported as Rejected, with the reason.
package evidence
