package credential_test

import (
	"bytes"
	"checkpoint/clocktest"
	"compress/zlib"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/credential"
	"checkpoint/credential/hc1test"
)

var (
	day0   = time.Date(2021, 9, 1, 0, 0, 0, 0, time.UTC)
	issued = time.Date(2021, 9, 20, 8, 0, 0, 0, time.UTC)
	scanAt = time.Date(2021, 10, 1, 12, 0, 0, 0, time.UTC)
)

const uci = "URN:UVCI:01:VN:TEST0001#X"

func newIssuer(t testing.TB, o hc1test.Options) *hc1test.Issuer {
	t.Helper()
	is, err := hc1test.NewIssuer(o)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// errStore is a trust store that fails.
type errStore struct{}

func (errStore) Signers([]byte) ([][]byte, error) { return nil, errors.New("database is locked") }

func TestParseHC1Signature(t *testing.T) {
	es := newIssuer(t, hc1test.Options{Usages: []string{"v"}})
	ps := newIssuer(t, hc1test.Options{RSA: true})
	testOnly := newIssuer(t, hc1test.Options{Usages: []string{"t"}})
	icao := newIssuer(t, hc1test.Options{OtherUsage: true})
	old := newIssuer(t, hc1test.Options{NotAfter: time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)})
	young := newIssuer(t, hc1test.Options{NotBefore: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)})
	all := &credential.CertPool{}
	for _, is := range []*hc1test.Issuer{es, ps, testOnly, icao, old, young} {
		if err := all.AddDER(is.DER); err != nil {
			t.Fatal(err)
		}
	}
	vac := hc1test.Vaccinated(uci, 2, 2, day0, issued)
	with := func(f func(*hc1test.Cert)) hc1test.Cert { c := vac; f(&c); return c }
	tests := []struct {
		name  string
		is    *hc1test.Issuer
		cert  hc1test.Cert
		trust credential.TrustStore
		want  checkpoint.SignatureState
	}{
		{"ES256", es, vac, all, checkpoint.SignatureValid},
		{"PS256", ps, vac, all, checkpoint.SignatureValid},
		{"float iat and exp", es, with(func(c *hc1test.Cert) { c.FloatTimes = true }), all, checkpoint.SignatureValid},
		{"KID unprotected", es, with(func(c *hc1test.Cert) { c.KIDUnprotected = true }), all, checkpoint.SignatureValid},
		{"algorithm unprotected", ps, with(func(c *hc1test.Cert) { c.AlgUnprotected = true }), all, checkpoint.SignatureValid},
		{"CWT tag 61", es, with(func(c *hc1test.Cert) { c.CWTTag = true }), all, checkpoint.SignatureValid},
		{"tampered payload", es, with(func(c *hc1test.Cert) { c.TamperPayload = true }), all, checkpoint.SignatureInvalid},
		{"wrong KID", es, with(func(c *hc1test.Cert) { c.WrongKID = []byte("12345678") }), all, checkpoint.SignerUnknown},
		{"signer not in trust list", es, vac, ps.Pool(), checkpoint.SignerUnknown},
		{"no trust list", es, vac, nil, checkpoint.SignerUnknown},
		{"trust list fails", es, vac, errStore{}, checkpoint.SignerUnknown},
		{"signer for tests only", testOnly, vac, all, checkpoint.SignerNotAllowed},
		{"signer for other purposes", icao, vac, all, checkpoint.SignerNotAllowed},
		{"signer expired", old, vac, all, checkpoint.SignerNotAllowed},
		{"signer not yet valid", young, vac, all, checkpoint.SignerNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.is.MustIssue(tt.cert)
			p := &credential.Parser{Trust: tt.trust, Clock: clocktest.New(scanAt)}
			c := p.Parse(text)
			if c.Err != nil {
				t.Fatalf("Parse: %v", c.Err)
			}
			if c.Format != checkpoint.FormatHC1 || c.Signature != tt.want {
				t.Fatalf("format %s signature %s, want hc1 %s", c.Format, c.Signature, tt.want)
			}
			if c.Key != uci || c.Cert == nil || c.Cert.UCI != uci {
				t.Fatalf("key and UCI not the certificate's")
			}
		})
	}
}

func TestParseHC1Content(t *testing.T) {
	es := newIssuer(t, hc1test.Options{})
	cert := hc1test.Vaccinated(uci, 2, 2, day0, issued)
	cert.FloatTimes = true
	text := es.MustIssue(cert)
	c := (&credential.Parser{Trust: es.Pool(), Clock: clocktest.New(scanAt)}).Parse(text)
	if c.Err != nil || c.Signature != checkpoint.SignatureValid {
		t.Fatalf("Parse: %v %s", c.Err, c.Signature)
	}
	want := checkpoint.Holder{Initials: "NVA", BirthDay: 17, BirthMonth: 5, FullName: "Nguyễn Văn An"}
	if c.Holder != want {
		t.Errorf("holder %+v, want %+v", c.Holder, want)
	}
	ct := c.Cert
	if ct.Issuer != "VN" || !ct.IssuedAt.Equal(issued) || !ct.Expires.Equal(issued.AddDate(1, 0, 0)) {
		t.Errorf("claims iss %q iat %v exp %v", ct.Issuer, ct.IssuedAt, ct.Expires)
	}
	if len(ct.Vaccinations) != 1 || len(ct.Tests) != 0 || len(ct.Recoveries) != 0 {
		t.Fatalf("entries %d/%d/%d", len(ct.Vaccinations), len(ct.Tests), len(ct.Recoveries))
	}
	v := ct.Vaccinations[0]
	if v.Dose != 2 || v.Of != 2 || !v.Date.Equal(day0) || v.Product != "EU/1/20/1528" || v.Disease != "840539006" || v.Country != "VN" {
		t.Errorf("vaccination %+v", v)
	}

	h, err := credential.DecodeHC1(text)
	if err != nil {
		t.Fatal(err)
	}
	sig := h.Signature()
	if len(sig) != 64 {
		t.Fatalf("ES256 signature is %d bytes", len(sig))
	}
	sum := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	for typ, want := range map[string][]byte{
		"UCI":            sum([]byte(uci)),
		"COUNTRYCODEUCI": sum([]byte("VN" + uci)),
		"SIGNATURE":      sum(sig[:32]),
	} {
		if got := hashesOf(ct.RevocationHashes, typ); len(got) != 1 || !bytes.Equal(got[0], want) {
			t.Errorf("revocation hash %s = %x, want %x", typ, got, want)
		}
	}

	// PS256: the SIGNATURE hash covers the whole signature.
	ps := newIssuer(t, hc1test.Options{RSA: true})
	h, err = credential.DecodeHC1(ps.MustIssue(cert))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hashesOf(h.Cert.RevocationHashes, "SIGNATURE"), sum(h.Signature()); len(got) != 1 || !bytes.Equal(got[0], want) || len(h.Signature()) != 256 {
		t.Errorf("PS256 SIGNATURE hash %x, want %x", got, want)
	}
}

// hashesOf returns the revocation hashes of one type.
func hashesOf(hs []checkpoint.RevocationHash, typ string) [][]byte {
	var out [][]byte
	for _, h := range hs {
		if h.Type == typ {
			out = append(out, h.Hash)
		}
	}
	return out
}

// TestHC1EveryEntryChecked: a certificate holding a test and a recovery
// (the schema allows one entry) is checked entry by entry: a signer for
// tests only may not sign it, and each entry's identifier is hashed for the
// revocation lists.
func TestHC1EveryEntryChecked(t *testing.T) {
	testOnly := newIssuer(t, hc1test.Options{Usages: []string{"t"}})
	two := hc1test.Cert{IssuedAt: issued, Expires: issued.AddDate(0, 6, 0), DCC: hc1test.DCC{
		Ver: "1.3.0", Nam: hc1test.Name{Fnt: "TRAN", Gnt: "THI<BINH"}, Dob: "1985-01-02",
		T: []hc1test.Test{{Tg: "840539006", Tt: "LP6464-4", Sc: "2021-09-30T07:15:00+07:00", Tr: "260415000", Co: "VN", Is: "MoH", Ci: "URN:UVCI:T1"}},
		R: []hc1test.Recovery{{Tg: "840539006", Fr: "2021-08-01", Df: "2021-08-12", Du: "2022-01-28", Co: "VN", Is: "MoH", Ci: "URN:UVCI:R1"}},
	}}
	text := testOnly.MustIssue(two)
	c := (&credential.Parser{Trust: testOnly.Pool(), Clock: clocktest.New(scanAt)}).Parse(text)
	if c.Signature != checkpoint.SignerNotAllowed {
		t.Errorf("signature %s, want %s: the recovery entry is not the signer's to sign", c.Signature, checkpoint.SignerNotAllowed)
	}
	h, err := credential.DecodeHC1(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Kinds) != 2 || h.Kinds[0] != "t" || h.Kinds[1] != "r" {
		t.Errorf("kinds %q, want [t r]", h.Kinds)
	}
	sum := func(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }
	for _, want := range []struct{ typ, in string }{
		{"UCI", "URN:UVCI:T1"}, {"UCI", "URN:UVCI:R1"},
		{"COUNTRYCODEUCI", "VNURN:UVCI:T1"}, {"COUNTRYCODEUCI", "VNURN:UVCI:R1"},
	} {
		found := false
		for _, got := range hashesOf(h.Cert.RevocationHashes, want.typ) {
			found = found || bytes.Equal(got, sum(want.in))
		}
		if !found {
			t.Errorf("no %s hash of %s", want.typ, want.in)
		}
	}
	all := newIssuer(t, hc1test.Options{Usages: []string{"t", "r"}})
	if c := (&credential.Parser{Trust: all.Pool(), Clock: clocktest.New(scanAt)}).Parse(all.MustIssue(two)); c.Signature != checkpoint.SignatureValid {
		t.Errorf("signer for tests and recoveries: %s", c.Signature)
	}
}

// TestParseHC1NameFormatCharacters: a signed name carrying a right-to-left
// override (or any other format character) reaches the screen without it.
func TestParseHC1NameFormatCharacters(t *testing.T) {
	es := newIssuer(t, hc1test.Options{})
	cert := hc1test.Vaccinated(uci, 2, 2, day0, issued)
	cert.DCC.Nam = hc1test.Name{Fn: "Nguy\u202eễn", Fnt: "NGUY\u202eEN", Gn: "Văn\u2067 An\u200f", Gnt: "VAN<AN"}
	c := (&credential.Parser{Trust: es.Pool(), Clock: clocktest.New(scanAt)}).Parse(es.MustIssue(cert))
	if c.Err != nil || c.Signature != checkpoint.SignatureValid {
		t.Fatalf("Parse: %v %s", c.Err, c.Signature)
	}
	if want := (checkpoint.Holder{Initials: "NVA", BirthDay: 17, BirthMonth: 5, FullName: "Nguyễn Văn An"}); c.Holder != want {
		t.Errorf("holder %q %q, want %q", c.Holder.Initials, c.Holder.FullName, want.FullName)
	}
}

func TestParseHC1TestAndRecovery(t *testing.T) {
	es := newIssuer(t, hc1test.Options{Usages: []string{"t", "r"}})
	test := hc1test.Cert{IssuedAt: issued, Expires: issued.AddDate(0, 0, 3), DCC: hc1test.DCC{
		Ver: "1.3.0", Nam: hc1test.Name{Fnt: "TRAN", Gnt: "THI<BINH"}, Dob: "1985-XX-XX",
		T: []hc1test.Test{{Tg: "840539006", Tt: "LP6464-4", Sc: "2021-09-30T07:15:00+07:00", Tr: "260415000", Co: "VN", Is: "MoH", Ci: "URN:UVCI:T1"}},
	}}
	c := (&credential.Parser{Trust: es.Pool(), Clock: clocktest.New(scanAt)}).Parse(es.MustIssue(test))
	if c.Err != nil || c.Signature != checkpoint.SignatureValid {
		t.Fatalf("test: %v %s", c.Err, c.Signature)
	}
	if h := c.Holder; h.Initials != "TTB" || h.BirthDay != 0 || h.BirthMonth != 0 || h.FullName != "TRAN THI BINH" {
		t.Errorf("holder %+v", h)
	}
	if len(c.Cert.Tests) != 1 || !c.Cert.Tests[0].Sampled.Equal(time.Date(2021, 9, 30, 0, 15, 0, 0, time.UTC)) || c.Cert.Tests[0].Result != "260415000" || c.Cert.Tests[0].Type != "LP6464-4" {
		t.Errorf("tests %+v", c.Cert.Tests)
	}
	rec := hc1test.Cert{IssuedAt: issued, Expires: issued.AddDate(0, 6, 0), DCC: hc1test.DCC{
		Ver: "1.3.0", Nam: hc1test.Name{Fn: "Lê", Gn: "Bình"}, Dob: "1960-03",
		R: []hc1test.Recovery{{Tg: "840539006", Fr: "2021-08-01", Df: "2021-08-12", Du: "2022-01-28", Co: "VN", Is: "MoH", Ci: "URN:UVCI:R1"}},
	}}
	c = (&credential.Parser{Trust: es.Pool(), Clock: clocktest.New(scanAt)}).Parse(es.MustIssue(rec))
	if c.Err != nil || c.Signature != checkpoint.SignatureValid || c.Key != "URN:UVCI:R1" {
		t.Fatalf("recovery: %v %s", c.Err, c.Signature)
	}
	if h := c.Holder; h.Initials != "LB" || h.BirthMonth != 3 || h.FullName != "Lê Bình" {
		t.Errorf("holder %+v", h)
	}
	r := c.Cert.Recoveries[0]
	if !r.FirstPositive.Equal(time.Date(2021, 8, 1, 0, 0, 0, 0, time.UTC)) || !r.ValidUntil.Equal(time.Date(2022, 1, 28, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("recovery %+v", r)
	}
}

// bomb returns zlib data that inflates to n zero bytes.
func bomb(n int) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write(make([]byte, n))
	w.Close()
	return b.Bytes()
}

func TestDecodeHC1Steps(t *testing.T) {
	es := newIssuer(t, hc1test.Options{})
	good := es.MustIssue(hc1test.Vaccinated(uci, 1, 2, day0, issued))
	z, _ := credential.DecodeBase45(strings.TrimPrefix(good, "HC1:"))
	tests := []struct {
		name string
		text string
		step credential.Step
		is   error
	}{
		{"other context", "HC2:" + good[4:], credential.StepPrefix, nil},
		{"no context", good[4:], credential.StepPrefix, nil},
		{"lower-case base45", "HC1:" + strings.ToLower(good[4:]), credential.StepBase45, nil},
		{"base45 length", good + strings.Repeat("0", (4-(len(good)-4)%3)%3), credential.StepBase45, nil},
		{"base45 out of range", "HC1:GGW", credential.StepBase45, nil},
		{"not compressed", "HC1:" + credential.EncodeBase45([]byte("plain bytes")), credential.StepZlib, nil},
		{"truncated zlib", "HC1:" + credential.EncodeBase45(z[:len(z)-6]), credential.StepZlib, nil},
		{"bad checksum", "HC1:" + credential.EncodeBase45(append(z[:len(z)-1:len(z)-1], z[len(z)-1]^1)), credential.StepZlib, nil},
		{"bytes after the stream", "HC1:" + credential.EncodeBase45(append(bytes.Clone(z), 0)), credential.StepZlib, nil},
		{"bomb", "HC1:" + credential.EncodeBase45(bomb(10<<20)), credential.StepZlib, credential.ErrInflatedTooLarge},
		{"not COSE", hc1test.Encode([]byte{0x01, 0x02}), credential.StepCOSE, nil},
		{"COSE of garbage", hc1test.Encode([]byte{0xd2, 0x84, 0x40, 0xa0, 0x41, 0x00, 0x40}), credential.StepCOSE, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := credential.DecodeHC1(tt.text)
			var se *credential.StepError
			if !errors.As(err, &se) || se.Step != tt.step {
				t.Fatalf("err = %v, want a %s step error", err, tt.step)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
		})
	}
}

func TestParseHC1Errors(t *testing.T) {
	p := &credential.Parser{}
	// A bomb that fits in a QR code: 2 MiB of zeros compress to about 2 KiB.
	b := bomb(2 << 20)
	text := "HC1:" + credential.EncodeBase45(b)
	if len(text) > credential.MaxPayload {
		t.Fatalf("bomb text is %d bytes", len(text))
	}
	c := p.Parse(text)
	if c.Format != checkpoint.FormatHC1 || !errors.Is(c.Err, credential.ErrInflatedTooLarge) || c.Key != "" || c.Cert != nil {
		t.Fatalf("bomb: %+v", c)
	}
	c = p.Parse("HC1:%%%")
	if c.Format != checkpoint.FormatHC1 || c.Err == nil {
		t.Fatalf("bad base45: %+v", c)
	}
}

func TestErrorsCarryNoPersonalData(t *testing.T) {
	es := newIssuer(t, hc1test.Options{})
	cert := hc1test.Vaccinated(uci, 1, 2, day0, issued)
	cert.DCC.V[0].Dt = "not a date"
	// A DCC whose dose is text fails in the DCC step; the error must not
	// echo the payload.
	h, err := credential.DecodeHC1(es.MustIssue(cert))
	if err != nil || !h.Cert.Vaccinations[0].Date.IsZero() {
		t.Fatalf("unreadable date: %v", err)
	}
	text := hc1test.Encode([]byte("\xd2\x84\x43\xa1\x01\x26\xa0\x58\x20NGUYEN VAN AN 1990-05-17 URN:UVC\x40"))
	_, err = credential.DecodeHC1(text)
	if err == nil {
		t.Fatal("garbage decoded")
	}
	for _, s := range []string{"NGUYEN", "1990", "URN"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

func TestCertPoolFiles(t *testing.T) {
	a := newIssuer(t, hc1test.Options{})
	b := newIssuer(t, hc1test.Options{RSA: true})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b64 := []byte(strings.TrimSpace(string(a.PEM()[len("-----BEGIN CERTIFICATE-----\n") : len(a.PEM())-len("-----END CERTIFICATE-----\n")])))
	for name, tc := range map[string]struct {
		data []byte
		n    int
	}{
		"one.pem":  {a.PEM(), 1},
		"two.pem":  {append(append([]byte("comment\n"), a.PEM()...), b.PEM()...), 2},
		"one.der":  {a.DER, 1},
		"one.b64":  {b64, 1},
		"dupe.pem": {append(a.PEM(), a.PEM()...), 1},
	} {
		p, err := credential.LoadTrustFile(write(name, tc.data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Len() != tc.n {
			t.Errorf("%s: %d certificates, want %d", name, p.Len(), tc.n)
		}
		got, _ := p.Signers(a.KID())
		if len(got) != 1 || !bytes.Equal(got[0], a.DER) {
			t.Errorf("%s: Signers(kid) = %d certificates", name, len(got))
		}
	}
	for name, data := range map[string][]byte{
		"empty.pem":   nil,
		"key.pem":     []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"garbage.der": {0x30, 0x03, 0x01, 0x02},
		"text.txt":    []byte("not a certificate"),
	} {
		if _, err := credential.LoadTrustFile(write(name, data)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
	if _, err := credential.LoadTrustFile(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing file loaded")
	}
	if got, _ := (&credential.CertPool{}).Signers([]byte{1, 2, 3}); got != nil {
		t.Error("short KID matched")
	}
}

func TestTrustStores(t *testing.T) {
	a := newIssuer(t, hc1test.Options{})
	b := newIssuer(t, hc1test.Options{RSA: true})
	both := credential.TrustStores{errStore{}, a.Pool(), b.Pool()}
	for _, is := range []*hc1test.Issuer{a, b} {
		c := (&credential.Parser{Trust: both, Clock: clocktest.New(scanAt)}).Parse(is.MustIssue(hc1test.Vaccinated(uci, 2, 2, day0, issued)))
		if c.Err != nil || c.Signature != checkpoint.SignatureValid {
			t.Errorf("signer in the second or third store: %v %s", c.Err, c.Signature)
		}
	}
	if _, err := (credential.TrustStores{errStore{}}).Signers(a.KID()); err == nil {
		t.Error("a failing store alone gave no error")
	}
	if got, err := (credential.TrustStores{a.Pool()}).Signers(b.KID()); err != nil || len(got) != 0 {
		t.Errorf("unknown KID: %d, %v", len(got), err)
	}
}
