// Package hc1test issues EU DCC "HC1:" certificates signed by a throw-away
// document signer, for tests and the demo set. It never holds a real key.
package hc1test

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"checkpoint/credential"
	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Options describe the document signer certificate.
type Options struct {
	RSA       bool      // PS256 with a 2048-bit RSA key; else ES256 on P-256
	NotBefore time.Time // zero: 2021-01-01
	NotAfter  time.Time // zero: 2031-01-01
	// Usages are the DCC extended key usages: any of "v", "t", "r"; none
	// gives a certificate without extended key usages.
	Usages []string
	// OtherUsage adds an extended key usage for another purpose.
	OtherUsage bool
	Country    string // subject C; zero: "VN"
}

// Issuer is a document signer: its certificate and private key.
type Issuer struct {
	Cert *x509.Certificate
	DER  []byte
	Key  crypto.Signer
	Alg  cose.Algorithm
}

var usageOID = map[string]asn1.ObjectIdentifier{
	"t": {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1},
	"v": {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2},
	"r": {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 3},
}

// NewIssuer creates a self-signed document signer.
func NewIssuer(o Options) (*Issuer, error) {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Country == "" {
		o.Country = "VN"
	}
	is := &Issuer{}
	var err error
	if o.RSA {
		is.Key, err = rsa.GenerateKey(rand.Reader, 2048)
		is.Alg = cose.AlgorithmPS256
	} else {
		is.Key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		is.Alg = cose.AlgorithmES256
	}
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "checkpoint test DSC", Country: []string{o.Country}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	for _, u := range o.Usages {
		oid, ok := usageOID[u]
		if !ok {
			return nil, fmt.Errorf("unknown usage %q (want v, t or r)", u)
		}
		tmpl.UnknownExtKeyUsage = append(tmpl.UnknownExtKeyUsage, oid)
	}
	if o.OtherUsage {
		tmpl.UnknownExtKeyUsage = append(tmpl.UnknownExtKeyUsage, asn1.ObjectIdentifier{2, 23, 136, 1, 1, 14, 2})
	}
	is.DER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, is.Key.Public(), is.Key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	if is.Cert, err = x509.ParseCertificate(is.DER); err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return is, nil
}

// KID returns the signer's DCC key ID.
func (is *Issuer) KID() []byte { return credential.KID(is.DER) }

// PEM returns the certificate in PEM.
func (is *Issuer) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.DER})
}

// Pool returns a trust store holding only this signer.
func (is *Issuer) Pool() *credential.CertPool {
	p := &credential.CertPool{}
	if err := p.AddDER(is.DER); err != nil {
		panic(err) // the certificate was just created
	}
	return p
}

// Name is the DCC nam object.
type Name struct {
	Fn  string `cbor:"fn,omitempty"`
	Fnt string `cbor:"fnt,omitempty"`
	Gn  string `cbor:"gn,omitempty"`
	Gnt string `cbor:"gnt,omitempty"`
}

// Vaccination is a DCC v entry.
type Vaccination struct {
	Tg string `cbor:"tg"`
	Vp string `cbor:"vp"`
	Mp string `cbor:"mp"`
	Ma string `cbor:"ma"`
	Dn int    `cbor:"dn"`
	Sd int    `cbor:"sd"`
	Dt string `cbor:"dt"`
	Co string `cbor:"co"`
	Is string `cbor:"is"`
	Ci string `cbor:"ci"`
}

// Test is a DCC t entry.
type Test struct {
	Tg string `cbor:"tg"`
	Tt string `cbor:"tt"`
	Sc string `cbor:"sc"`
	Tr string `cbor:"tr"`
	Tc string `cbor:"tc,omitempty"`
	Co string `cbor:"co"`
	Is string `cbor:"is"`
	Ci string `cbor:"ci"`
}

// Recovery is a DCC r entry.
type Recovery struct {
	Tg string `cbor:"tg"`
	Fr string `cbor:"fr"`
	Co string `cbor:"co"`
	Is string `cbor:"is"`
	Df string `cbor:"df"`
	Du string `cbor:"du"`
	Ci string `cbor:"ci"`
}

// DCC is the health certificate payload.
type DCC struct {
	Ver string        `cbor:"ver"`
	Nam Name          `cbor:"nam"`
	Dob string        `cbor:"dob"`
	V   []Vaccination `cbor:"v,omitempty"`
	T   []Test        `cbor:"t,omitempty"`
	R   []Recovery    `cbor:"r,omitempty"`
}

// Cert is what to issue and how to encode it.
type Cert struct {
	Issuer   string // CWT iss; zero: "VN"
	IssuedAt time.Time
	Expires  time.Time
	DCC      DCC

	FloatTimes     bool // iat and exp as floats, as some issuers write them
	KIDUnprotected bool // KID in the unprotected header only
	AlgUnprotected bool // algorithm (and KID) in the unprotected header only
	CWTTag         bool // wrap tag 18 in CWT tag 61
	WrongKID       []byte
	TamperPayload  bool // change the payload after signing
}

// Vaccinated returns a certificate of a complete vaccination (dose n of n)
// on day, valid for a year from issued.
func Vaccinated(uci string, dose, of int, day, issued time.Time) Cert {
	return Cert{
		IssuedAt: issued, Expires: issued.AddDate(1, 0, 0),
		DCC: DCC{
			Ver: "1.3.0",
			Nam: Name{Fn: "Nguyễn", Fnt: "NGUYEN", Gn: "Văn An", Gnt: "VAN<AN"},
			Dob: "1990-05-17",
			V: []Vaccination{{Tg: "840539006", Vp: "1119349007", Mp: "EU/1/20/1528", Ma: "ORG-100030215",
				Dn: dose, Sd: of, Dt: day.Format(time.DateOnly), Co: "VN", Is: "Ministry of Health", Ci: uci}},
		},
	}
}

// Issue signs c and returns the "HC1:" text.
func (is *Issuer) Issue(c Cert) (string, error) {
	if c.Issuer == "" {
		c.Issuer = "VN"
	}
	var iat, exp any = c.IssuedAt.Unix(), c.Expires.Unix()
	if c.FloatTimes {
		iat, exp = float64(c.IssuedAt.Unix()), float64(c.Expires.Unix())
	}
	payload, err := cbor.Marshal(map[int]any{
		1:    c.Issuer,
		4:    exp,
		6:    iat,
		-260: map[int]any{1: c.DCC},
	})
	if err != nil {
		return "", fmt.Errorf("encode CWT: %w", err)
	}
	kid := is.KID()
	if c.WrongKID != nil {
		kid = c.WrongKID
	}
	msg := cose.NewSign1Message()
	msg.Payload = payload
	if c.KIDUnprotected || c.AlgUnprotected {
		msg.Headers.Unprotected[cose.HeaderLabelKeyID] = kid
	} else {
		msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
	}
	signer, err := cose.NewSigner(is.Alg, is.Key)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	if c.AlgUnprotected {
		// go-cose insists on a protected algorithm: sign the
		// Sig_structure of an empty protected header by hand.
		tbs, err := cbor.Marshal([]any{"Signature1", []byte{}, []byte{}, payload})
		if err != nil {
			return "", err
		}
		sig, err := signer.Sign(rand.Reader, tbs)
		if err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
		msg.Headers.Unprotected[cose.HeaderLabelAlgorithm] = is.Alg
		msg.Headers.RawProtected = []byte{0x40}
		msg.Signature = sig
	} else {
		msg.Headers.Protected.SetAlgorithm(is.Alg)
		if err := msg.Sign(rand.Reader, nil, signer); err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
	}
	if c.TamperPayload {
		msg.Payload = bytes.Replace(msg.Payload, []byte(c.DCC.Dob), []byte("1900-01-01"), 1)
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("encode COSE: %w", err)
	}
	if c.CWTTag {
		raw, err = cbor.Marshal(cbor.RawTag{Number: 61, Content: raw})
		if err != nil {
			return "", err
		}
	}
	return Encode(raw), nil
}

// Encode compresses a COSE message and returns it as "HC1:" text.
func Encode(cose []byte) string {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(cose)
	w.Close()
	return credential.HC1Prefix + credential.EncodeBase45(z.Bytes())
}

// MustIssue is Issue for tests: it panics on error.
func (is *Issuer) MustIssue(c Cert) string {
	s, err := is.Issue(c)
	if err != nil {
		panic(err)
	}
	return s
}
