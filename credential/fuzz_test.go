package credential_test

import (
	"bytes"
	"checkpoint/clocktest"
	"compress/zlib"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"checkpoint"
	"checkpoint/credential"
	"checkpoint/credential/hc1test"
)

// fuzzIssuer signs the generated seeds.
var fuzzIssuer = func() *hc1test.Issuer {
	is, err := hc1test.NewIssuer(hc1test.Options{})
	if err != nil {
		panic(err)
	}
	return is
}()

// hc1Seeds are HC1 payloads covering the encodings the decoder handles.
func hc1Seeds() []string {
	c := hc1test.Vaccinated(uci, 2, 2, day0, issued)
	var out []string
	for _, f := range []func(*hc1test.Cert){
		func(*hc1test.Cert) {},
		func(c *hc1test.Cert) { c.FloatTimes = true },
		func(c *hc1test.Cert) { c.KIDUnprotected = true },
		func(c *hc1test.Cert) { c.AlgUnprotected = true },
		func(c *hc1test.Cert) { c.CWTTag = true },
		func(c *hc1test.Cert) { c.TamperPayload = true },
		func(c *hc1test.Cert) {
			c.DCC.V = nil
			c.DCC.T = []hc1test.Test{{Tg: "840539006", Tt: "LP217198-3", Sc: "2021-09-30T07:15:00Z", Tr: "260415000", Ci: "U1"}}
		},
		func(c *hc1test.Cert) {
			c.DCC.V = nil
			c.DCC.R = []hc1test.Recovery{{Tg: "840539006", Fr: "2021-08-01", Df: "2021-08-12", Du: "2022-01-28", Ci: "U2"}}
		},
	} {
		cc := c
		f(&cc)
		out = append(out, fuzzIssuer.MustIssue(cc))
	}
	return out
}

// testdataSeeds returns a few PREFIX values of the shared dgc test data
// when it is present.
func testdataSeeds(f *testing.F) []string {
	dir := os.Getenv("CHECKPOINT_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "testdata")
	}
	var out []string
	for _, c := range []string{"common/2DCode/raw/CO1.json", "common/2DCode/raw/CO20.json", "common/2DCode/raw/CO28.json",
		"common/2DCode/raw/CBO1.json", "common/2DCode/raw/Z1.json", "ES/2DCode/raw/1101.json", "CH/2DCode/raw/1.json"} {
		b, err := os.ReadFile(filepath.Join(dir, "dgc-testdata", c))
		if err != nil {
			continue
		}
		var v struct{ PREFIX string }
		if json.Unmarshal(b, &v) == nil && v.PREFIX != "" {
			out = append(out, v.PREFIX)
		}
	}
	return out
}

func FuzzInflate(f *testing.F) {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(bytes.Repeat([]byte("checkpoint"), 100))
	w.Close()
	f.Add(z.Bytes())
	f.Add(bomb(1 << 20))
	f.Add([]byte{0x78, 0xda})
	f.Add([]byte{})
	const limit = 4096
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := credential.Inflate(b, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("inflated %d bytes past the cap", len(out))
		}
	})
}

func FuzzDecodeCOSE(f *testing.F) {
	for _, s := range append(hc1Seeds(), testdataSeeds(f)...) {
		z, err := credential.DecodeBase45(s[4:])
		if err != nil {
			continue
		}
		if c, err := credential.Inflate(z, credential.MaxInflated); err == nil {
			f.Add(c)
		}
	}
	garbage, _ := hex.DecodeString("d8 3d d2 84 40 a0 41 00 40")
	f.Add(garbage)
	pool := fuzzIssuer.Pool()
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := credential.DecodeCOSE(b)
		if err != nil {
			if h != nil {
				t.Fatal("error with a result")
			}
			return
		}
		v := h.Verify(pool, scanAt)
		if v.State == checkpoint.SignatureValid && v.Signer == nil {
			t.Fatal("valid without a signer")
		}
		_ = credential.ValidAt(&h.Cert, scanAt)
	})
}

func FuzzParseHC1(f *testing.F) {
	for _, s := range append(hc1Seeds(), testdataSeeds(f)...) {
		f.Add(s)
	}
	f.Add("HC1:")
	f.Add("HC1:GGW")
	p := &credential.Parser{Trust: fuzzIssuer.Pool(), Clock: clocktest.New(scanAt)}
	f.Fuzz(func(t *testing.T, text string) {
		c := p.Parse(text)
		if c.Err != nil {
			if c.Key != "" || c.Cert != nil {
				t.Fatal("failed parse kept content")
			}
			return
		}
		if c.Format == checkpoint.FormatHC1 && (c.Cert == nil || c.Key != c.Cert.UCI) {
			t.Fatal("HC1 without its certificate")
		}
	})
}
