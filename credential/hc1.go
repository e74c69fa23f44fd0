package credential

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"checkpoint"
	"github.com/veraison/go-cose"
)

// HC1Prefix starts every EU DCC payload.
const HC1Prefix = "HC1:"

// Step names a stage of HC1 decoding.
type Step string

// The stages of HC1 decoding, in order.
const (
	StepPrefix Step = "prefix" // the "HC1:" context identifier
	StepBase45 Step = "base45" // base45 decoding
	StepZlib   Step = "zlib"   // decompression
	StepCOSE   Step = "cose"   // the COSE_Sign1 structure and its headers
	StepCWT    Step = "cwt"    // the CWT claims
	StepDCC    Step = "dcc"    // the health certificate payload
)

// StepError says at which stage an HC1 payload could not be read.
type StepError struct {
	Step Step
	Err  error
}

// Error implements error.
func (e *StepError) Error() string { return "hc1: " + string(e.Step) + " step: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// HC1 is a decoded, not yet verified, EU DCC certificate.
type HC1 struct {
	// COSE is the inflated COSE message (possibly inside CWT tag 61).
	COSE []byte
	// KID is the key ID from the protected header, else the unprotected
	// one; nil when neither has one.
	KID []byte
	// KIDProtected says the KID came from the protected header.
	KIDProtected bool
	// Algorithm is the COSE signature algorithm: from the protected header,
	// else from the unprotected one (which the signature does not cover).
	Algorithm cose.Algorithm
	// AlgProtected says the algorithm came from the protected header.
	AlgProtected bool
	// Cert is the certificate content; its RevocationHashes are filled.
	Cert checkpoint.Certificate
	// Holder is what the operator may see of the holder.
	Holder checkpoint.Holder
	// Kinds are the kinds of the entries: "v", "t" or "r" each. The schema
	// allows one entry; the signer must be allowed for every kind listed.
	Kinds []string

	msg *cose.Sign1Message
}

// Unprefix removes the "HC1:" context identifier.
func Unprefix(text string) (string, error) {
	if strings.HasPrefix(text, HC1Prefix) {
		return text[len(HC1Prefix):], nil
	}
	ctx, _, ok := strings.Cut(text, ":")
	if !ok || len(ctx) > 4 {
		return "", errors.New("no context identifier (want HC1:)")
	}
	return "", fmt.Errorf("context identifier %q is not supported (want HC1:)", ctx+":")
}

// DecodeHC1 decodes an HC1 payload (with its prefix) up to the certificate
// content, without verifying the signature. Errors are *StepError.
func DecodeHC1(text string) (*HC1, error) {
	b45, err := Unprefix(text)
	if err != nil {
		return nil, &StepError{StepPrefix, err}
	}
	z, err := DecodeBase45(b45)
	if err != nil {
		return nil, &StepError{StepBase45, err}
	}
	c, err := Inflate(z, MaxInflated)
	if err != nil {
		return nil, &StepError{StepZlib, err}
	}
	return DecodeCOSE(c)
}

// DecodeCOSE decodes a COSE_Sign1 message holding a DCC CWT: tag 18,
// possibly inside CWT tag 61, or untagged. Errors are *StepError.
func DecodeCOSE(b []byte) (*HC1, error) {
	msg, err := unmarshalSign1(b)
	if err != nil {
		return nil, &StepError{StepCOSE, err}
	}
	h := &HC1{COSE: b, msg: msg}
	h.KID, h.KIDProtected, err = keyID(msg)
	if err != nil {
		return nil, &StepError{StepCOSE, err}
	}
	h.Algorithm, h.AlgProtected, err = algorithm(msg)
	if err != nil {
		return nil, &StepError{StepCOSE, err}
	}
	claims, err := decodeCWT(msg.Payload)
	if err != nil {
		return nil, &StepError{StepCWT, err}
	}
	d, err := decodeDCC(claims.hcert)
	if err != nil {
		return nil, &StepError{StepDCC, err}
	}
	h.Cert = d.certificate()
	h.Cert.Issuer = claims.iss
	h.Cert.IssuedAt = claims.iat
	h.Cert.Expires = claims.exp
	h.Holder = d.holder()
	h.Kinds = d.kinds()
	h.Cert.RevocationHashes = revocationHashes(h.Cert.Issuer, d.identifiers(), h.Algorithm, msg.Signature)
	return h, nil
}

// Signature returns the COSE signature bytes.
func (h *HC1) Signature() []byte { return h.msg.Signature }

// revocationHashes computes the EU DCC revocation hashes (full SHA-256; the
// revocation lists compare the first 16 bytes): UCI and COUNTRYCODEUCI for
// each entry's identifier, and SIGNATURE.
func revocationHashes(iss string, ucis []string, alg cose.Algorithm, sig []byte) []checkpoint.RevocationHash {
	hs := make([]checkpoint.RevocationHash, 0, 2*len(ucis)+1)
	sum := func(typ string, b []byte) {
		h := sha256.Sum256(b)
		hs = append(hs, checkpoint.RevocationHash{Type: typ, Hash: h[:]})
	}
	for _, uci := range ucis {
		sum("UCI", []byte(uci))
		sum("COUNTRYCODEUCI", []byte(iss+uci))
	}
	if len(sig) > 0 {
		s := sig
		switch alg {
		case cose.AlgorithmES256, cose.AlgorithmES384, cose.AlgorithmES512:
			s = sig[:len(sig)/2] // r of r||s
		}
		sum("SIGNATURE", s)
	}
	return hs
}

// ValidAt checks the CWT issued-at and expiry claims at t: an error says
// the certificate is not yet valid or has expired.
func ValidAt(c *checkpoint.Certificate, t time.Time) error {
	switch {
	case !c.IssuedAt.IsZero() && t.Before(c.IssuedAt):
		return errors.New("certificate not yet valid")
	case !c.Expires.IsZero() && t.After(c.Expires):
		return errors.New("certificate expired")
	}
	return nil
}

// parseHC1 parses and verifies an HC1 payload.
func (p *Parser) parseHC1(t string) checkpoint.Credential {
	h, err := DecodeHC1(t)
	if err != nil {
		return checkpoint.Credential{Format: checkpoint.FormatHC1, Err: err}
	}
	var now time.Time
	if p.Clock != nil {
		now = p.Clock.Now()
	} else {
		now = time.Now()
	}
	v := h.Verify(p.Trust, now)
	cert := h.Cert
	return checkpoint.Credential{
		Format:    checkpoint.FormatHC1,
		Key:       h.Cert.UCI,
		Holder:    h.Holder,
		Signature: v.State,
		Cert:      &cert,
	}
}
