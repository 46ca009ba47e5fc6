package evidence

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Media and statement types of the evidence.
const (
	// StatementType is the in-toto Statement v1 _type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names driftless's "verified in an environment" predicate.
	PredicateType = "https://driftless.dev/attestations/verified/v1"
	// ArtifactType is the referrer manifest's artifactType, and the media
	// type of an unsigned statement layer and of a DSSE payload.
	ArtifactType = "application/vnd.in-toto+json"
	// DSSEMediaType is the media type of a signed statement layer.
	DSSEMediaType = "application/vnd.dsse.envelope.v1+json"
	// AnnotationEnvironment on the referrer manifest names the environment,
	// so a reader can skip other environments' evidence without fetching it.
	AnnotationEnvironment = "dev.driftless.environment"
	// AnnotationCreated is the OCI annotation for when the evidence was made.
	AnnotationCreated = "org.opencontainers.image.created"
)

// Statement is an in-toto Statement v1 about one image digest.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject is an in-toto resource descriptor: the image repository and its
// digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate says that the subject was deployed to Environment and passed
// the checks there.
type Predicate struct {
	// Environment is where the image was verified: test.
	Environment string `json:"environment"`
	// VerifiedAt is when the last check passed.
	VerifiedAt time.Time `json:"verifiedAt"`
	// Checks are the checks run, all passed.
	Checks []Check `json:"checks"`
	// GitSHA is the commit the image was built from.
	GitSHA string `json:"gitSha,omitempty"`
	// Version is the release (Git tag) deployed.
	Version string `json:"version,omitempty"`
	// ConfigRevision is the static configuration revision the service
	// reported.
	ConfigRevision string `json:"configRevision,omitempty"`
	// RunURL links to the CI run that verified it.
	RunURL string `json:"runUrl,omitempty"`
	// CI is the CI provider: github, gitlab or local.
	CI string `json:"ci,omitempty"`
}

// Check is one check smoke-test ran.
type Check struct {
	Name    string   `json:"name"`
	Passed  bool     `json:"passed"`
	Detail  string   `json:"detail,omitempty"`
	Latency Duration `json:"latency,omitempty"`
}

// Duration is a time.Duration written as "120ms" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("latency %s is not a duration string such as \"120ms\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("latency %q is not a duration such as \"120ms\"", s)
	}
	*d = Duration(v)
	return nil
}

// NewStatement returns the statement that subject (repo@sha256:…) passed the
// checks in p.Environment. VerifiedAt is stored in UTC.
func NewStatement(subject name.Digest, p Predicate) Statement {
	p.VerifiedAt = p.VerifiedAt.UTC()
	return Statement{
		Type: StatementType,
		Subject: []Subject{{
			Name:   subject.Context().Name(),
			Digest: map[string]string{"sha256": hexOf(subject)},
		}},
		PredicateType: PredicateType,
		Predicate:     p,
	}
}

// Names reports whether the statement is about the image digest d: one of
// its subjects carries d's sha256. The subject's name is not compared, so
// evidence stays valid when the image is copied to another registry.
func (s Statement) Names(d name.Digest) bool {
	want := hexOf(d)
	for _, sub := range s.Subject {
		if sub.Digest["sha256"] == want {
			return true
		}
	}
	return false
}

// check is what Attach requires before writing a statement about d.
func (s Statement) check(d name.Digest) error {
	var errs []error
	if s.Type != StatementType {
		errs = append(errs, fmt.Errorf("_type is %q, want %q", s.Type, StatementType))
	}
	if s.PredicateType != PredicateType {
		errs = append(errs, fmt.Errorf("predicateType is %q, want %q", s.PredicateType, PredicateType))
	}
	if !s.Names(d) {
		errs = append(errs, fmt.Errorf("no subject has the digest %s", d.DigestStr()))
	}
	if s.Predicate.Environment == "" {
		errs = append(errs, errors.New("predicate.environment is empty"))
	}
	if s.Predicate.VerifiedAt.IsZero() {
		errs = append(errs, errors.New("predicate.verifiedAt is not set"))
	}
	if failed := s.failed(); len(failed) > 0 {
		errs = append(errs, fmt.Errorf("checks failed (%s): evidence records passed checks only", strings.Join(failed, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("statement about %s is not verified-in-environment evidence: %w", d, err)
	}
	return nil
}

func (s Statement) failed() []string {
	var names []string
	for _, c := range s.Predicate.Checks {
		if !c.Passed {
			names = append(names, fmt.Sprintf("%q", c.Name))
		}
	}
	return names
}

func hexOf(d name.Digest) string {
	return strings.TrimPrefix(d.DigestStr(), "sha256:")
}
