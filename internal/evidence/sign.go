package evidence

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Signer signs statements into DSSE envelopes with an ed25519 or ECDSA P-256
// private key.
type Signer struct {
	key   crypto.Signer
	keyID string
}

// Verifier checks DSSE signatures against one or more public keys (several
// while keys rotate).
type Verifier struct {
	keys []publicKey
}

type publicKey struct {
	key crypto.PublicKey
	id  string
}

const keyHelp = "an ed25519 or ECDSA P-256 key, e.g. from `openssl genpkey -algorithm ed25519 -out evidence.key` and `openssl pkey -in evidence.key -pubout -out evidence.pub`"

// LoadSigner reads a PEM-encoded PKCS#8 private key ("BEGIN PRIVATE KEY")
// from path.
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the evidence signing key: %w", err)
	}
	return ParseSigner(b, path)
}

// ParseSigner parses a PEM-encoded PKCS#8 private key; source names where it
// came from in errors (a file, an input).
func ParseSigner(pemBytes []byte, source string) (*Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("evidence signing key %s is not PEM: want a PKCS#8 \"PRIVATE KEY\" block, %s", source, keyHelp)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("evidence signing key %s holds a %q PEM block: want an unencrypted PKCS#8 \"PRIVATE KEY\" (convert with `openssl pkcs8 -topk8 -nocrypt -in KEY`), %s", source, block.Type, keyHelp)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("evidence signing key %s: parsing the PKCS#8 private key: %w", source, err)
	}
	var s crypto.Signer
	switch k := k.(type) {
	case ed25519.PrivateKey:
		s = k
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("evidence signing key %s is ECDSA on %s: want P-256 or ed25519", source, k.Curve.Params().Name)
		}
		s = k
	default:
		return nil, fmt.Errorf("evidence signing key %s is a %T: want %s", source, k, keyHelp)
	}
	id, err := KeyID(s.Public())
	if err != nil {
		return nil, fmt.Errorf("evidence signing key %s: %w", source, err)
	}
	return &Signer{key: s, keyID: id}, nil
}

// KeyID identifies the signing key: the hex SHA-256 of its public key's
// PKIX (DER) encoding.
func (s *Signer) KeyID() string { return s.keyID }

// Public returns the public key that verifies this signer's signatures.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// LoadVerifier reads PEM-encoded PKIX public keys ("BEGIN PUBLIC KEY"), one
// or more per file.
func LoadVerifier(paths ...string) (*Verifier, error) {
	var keys []crypto.PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading the evidence public key: %w", err)
		}
		ks, err := parsePublicKeys(b, p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	return NewVerifier(keys...)
}

// ParseVerifier parses one or more PEM-encoded PKIX public keys; source
// names where they came from in errors.
func ParseVerifier(pemBytes []byte, source string) (*Verifier, error) {
	keys, err := parsePublicKeys(pemBytes, source)
	if err != nil {
		return nil, err
	}
	return NewVerifier(keys...)
}

func parsePublicKeys(b []byte, source string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			hint := ""
			if strings.Contains(block.Type, "PRIVATE") {
				hint = " (that is a private key: give the public half, `openssl pkey -in KEY -pubout`)"
			}
			return nil, fmt.Errorf("evidence public key %s: PEM block %d is %q, want a PKIX \"PUBLIC KEY\"%s", source, n, block.Type, hint)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("evidence public key %s: PEM block %d: %w", source, n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("evidence public key %s holds no PEM \"PUBLIC KEY\" block: want %s", source, keyHelp)
	}
	return keys, nil
}

// NewVerifier trusts signatures by any of keys (ed25519.PublicKey or
// *ecdsa.PublicKey on P-256). The same key given twice counts once.
func NewVerifier(keys ...crypto.PublicKey) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("an evidence verifier needs at least one public key")
	}
	v := &Verifier{}
	for i, k := range keys {
		switch k := k.(type) {
		case ed25519.PublicKey:
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("evidence public key %d is ECDSA on %s: want P-256 or ed25519", i+1, k.Curve.Params().Name)
			}
		default:
			return nil, fmt.Errorf("evidence public key %d is a %T: want %s", i+1, k, keyHelp)
		}
		id, err := KeyID(k)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(v.keys, func(p publicKey) bool { return p.id == id }) {
			v.keys = append(v.keys, publicKey{key: k, id: id})
		}
	}
	return v, nil
}

// KeyIDs lists the trusted keys' IDs.
func (v *Verifier) KeyIDs() []string {
	ids := make([]string, len(v.keys))
	for i, k := range v.keys {
		ids[i] = k.id
	}
	return ids
}

// KeyID is the hex SHA-256 of the public key's PKIX (DER) encoding, the
// keyid driftless writes into DSSE signatures.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding the public key to compute its key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// sign wraps payload (an in-toto statement) in a DSSE envelope.
func (s *Signer) sign(ctx context.Context, payload []byte) (*dsse.Envelope, error) {
	es, err := dsse.NewEnvelopeSigner(dsseKey{pub: publicKey{key: s.key.Public(), id: s.keyID}, priv: s.key})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, ArtifactType, payload)
	if err != nil {
		return nil, fmt.Errorf("signing the statement with key %s: %w", s.keyID, err)
	}
	return env, nil
}

// verify checks env's signatures and returns the payload and the key that
// signed it, or why the envelope is not trusted.
func (v *Verifier) verify(ctx context.Context, env *dsse.Envelope) (payload []byte, keyID string, reason string) {
	if len(env.Signatures) == 0 {
		return nil, "", "the DSSE envelope carries no signature"
	}
	vs := make([]dsse.Verifier, len(v.keys))
	for i, k := range v.keys {
		vs[i] = dsseKey{pub: k}
	}
	ev, err := dsse.NewEnvelopeVerifier(vs...)
	if err != nil {
		return nil, "", err.Error()
	}
	accepted, body, err := ev.VerifyAndDecode(ctx, env)
	if err == nil && len(accepted) > 0 {
		return body, accepted[0].KeyID, ""
	}
	var claimed []string
	known := false
	for _, s := range env.Signatures {
		claimed = append(claimed, cmp.Or(s.KeyID, "(no keyid)"))
		known = known || s.KeyID == "" || slices.Contains(v.KeyIDs(), s.KeyID)
	}
	if !known {
		return nil, "", fmt.Sprintf("signed by key %s, which is not a trusted evidence public key (trusted: %s)", strings.Join(claimed, ", "), strings.Join(v.KeyIDs(), ", "))
	}
	return nil, "", fmt.Sprintf("the signature by key %s does not verify: the statement was changed after signing, or the signature is corrupt", strings.Join(claimed, ", "))
}

// dsseKey adapts a key pair (or a public key alone) to the dsse package.
// ECDSA signs the SHA-256 of the pre-authentication encoding, ASN.1-encoded,
// as cosign and in-toto do; ed25519 signs the encoding itself.
type dsseKey struct {
	pub  publicKey
	priv crypto.Signer
}

func (k dsseKey) KeyID() (string, error)   { return k.pub.id, nil }
func (k dsseKey) Public() crypto.PublicKey { return k.pub.key }

func (k dsseKey) Sign(_ context.Context, data []byte) ([]byte, error) {
	switch p := k.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(p, data), nil
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(data)
		return ecdsa.SignASN1(rand.Reader, p, sum[:])
	}
	return nil, fmt.Errorf("unsupported signing key %T", k.priv)
}

func (k dsseKey) Verify(_ context.Context, data, sig []byte) error {
	switch p := k.pub.key.(type) {
	case ed25519.PublicKey:
		if ed25519.Verify(p, data, sig) {
			return nil
		}
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(data)
		if ecdsa.VerifyASN1(p, sum[:], sig) {
			return nil
		}
	}
	return errors.New("signature does not verify")
}
