package credential

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"time"

	"checkpoint"
	"github.com/veraison/go-cose"
)

// The DCC extended key usages of a document signer certificate. A signer
// with some of them may sign only those types; one without extended key
// usages may sign every type. Each has an official OID and a variant some
// issuers use.
var (
	oidTest        = []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1}, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 1}}
	oidVaccination = []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2}, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 2}}
	oidRecovery    = []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 3}, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 3}}
)

// Verification is the outcome of checking an HC1 signature.
type Verification struct {
	// State is the credential's signature state.
	State checkpoint.SignatureState
	// Signer is the certificate whose key verified the signature; nil when
	// none did.
	Signer *x509.Certificate
	// InPeriod says the signer certificate was valid at the time checked.
	InPeriod bool
	// UsageOK says the signer's DCC key usages allow this certificate type.
	UsageOK bool
	// Reason says why State is not SignatureValid, without personal data.
	Reason string
}

// Verify checks the signature against the trust list's certificates for
// the KID, then the signer's validity period at `at` and its DCC key usages.
func (h *HC1) Verify(trust TrustStore, at time.Time) Verification {
	if len(h.KID) == 0 {
		return Verification{State: checkpoint.SignerUnknown, Reason: "no key ID"}
	}
	if trust == nil {
		return Verification{State: checkpoint.SignerUnknown, Reason: "no trust list"}
	}
	ders, err := trust.Signers(h.KID)
	if err != nil {
		return Verification{State: checkpoint.SignerUnknown, Reason: "trust list: " + err.Error()}
	}
	v := Verification{State: checkpoint.SignerUnknown, Reason: "unknown key ID"}
	for _, der := range ders {
		if !bytes.Equal(KID(der), h.KID) {
			continue // a store that returned a certificate for another KID
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		v = Verification{State: checkpoint.SignatureInvalid, Reason: "signature does not verify"}
		verifier, err := cose.NewVerifier(h.Algorithm, cert.PublicKey)
		if err != nil {
			v.Reason = "signer key does not fit the algorithm"
			continue
		}
		if h.verifySignature(verifier) != nil {
			continue
		}
		v = Verification{State: checkpoint.SignatureValid, Signer: cert}
		v.InPeriod = !at.Before(cert.NotBefore) && !at.After(cert.NotAfter)
		v.UsageOK = h.UsageAllowedBy(cert)
		switch {
		case !v.InPeriod:
			v.State, v.Reason = checkpoint.SignerNotAllowed, "signer certificate not valid at this time"
		case !v.UsageOK:
			v.State, v.Reason = checkpoint.SignerNotAllowed, "signer not allowed for this certificate type"
		}
		return v
	}
	return v
}

// verifySignature checks the signature with go-cose; when the algorithm is
// only in the unprotected header, which go-cose refuses, it builds the
// Sig_structure itself and hands it to go-cose's verifier.
func (h *HC1) verifySignature(v cose.Verifier) error {
	if h.AlgProtected {
		return h.msg.Verify(nil, v)
	}
	tbs, err := sigStructure(h.msg)
	if err != nil {
		return err
	}
	return v.Verify(tbs, h.msg.Signature)
}

// UsageAllowedBy reports whether a signer certificate's DCC extended key
// usages allow every entry's type (vaccination, test or recovery); a
// certificate without entries is allowed by none.
func (h *HC1) UsageAllowedBy(cert *x509.Certificate) bool {
	for _, k := range h.Kinds {
		if !usageAllows(cert, k) {
			return false
		}
	}
	return len(h.Kinds) > 0
}

// usageAllows reports whether the signer's extended key usages allow a
// certificate of kind "v", "t" or "r".
func usageAllows(cert *x509.Certificate, kind string) bool {
	has := func(oids []asn1.ObjectIdentifier) bool {
		for _, u := range cert.UnknownExtKeyUsage {
			for _, o := range oids {
				if u.Equal(o) {
					return true
				}
			}
		}
		return false
	}
	t, v, r := has(oidTest), has(oidVaccination), has(oidRecovery)
	if !t && !v && !r {
		// No DCC usage: a signer without extended key usages (or with
		// "any") may sign every type; one whose usages are all for other
		// purposes (an ICAO document signer, say) may sign none.
		if len(cert.UnknownExtKeyUsage) == 0 && len(cert.ExtKeyUsage) == 0 {
			return true
		}
		for _, u := range cert.ExtKeyUsage {
			if u == x509.ExtKeyUsageAny {
				return true
			}
		}
		return false
	}
	switch kind {
	case "v":
		return v
	case "t":
		return t
	case "r":
		return r
	}
	return false
}
