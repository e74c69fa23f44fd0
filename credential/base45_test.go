package credential

import (
	"bytes"
	"strings"
	"testing"
)

func TestBase45(t *testing.T) {
	// RFC 9285 section 4.
	for plain, enc := range map[string]string{
		"AB":       "BB8",
		"Hello!!":  "%69 VD92EX0",
		"base-45":  "UJCLQE7W581",
		"ietf!":    "QED8WEX0",
		"":         "",
		"\x00":     "00",
		"\xff\xff": "FGW",
	} {
		if got := EncodeBase45([]byte(plain)); got != enc {
			t.Errorf("EncodeBase45(%q) = %q, want %q", plain, got, enc)
		}
		got, err := DecodeBase45(enc)
		if err != nil || string(got) != plain {
			t.Errorf("DecodeBase45(%q) = %q, %v, want %q", enc, got, err, plain)
		}
	}
	for enc, why := range map[string]string{
		"GGW":     "out of range", // 65536
		"GGW0":    "1 modulo 3",   // bad length wins
		"::":      "final group",  // 44 + 44*45 > 255
		"A":       "1 modulo 3",
		"qed":     "not in the alphabet",
		"QED8W\n": "not in the alphabet",
		"QE\xff":  "not in the alphabet",
	} {
		_, err := DecodeBase45(enc)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("DecodeBase45(%q) err = %v, want %q", enc, err, why)
		}
	}
}

func FuzzBase45(f *testing.F) {
	for _, s := range []string{"BB8", "%69 VD92EX0", "QED8WEX0", "GGW", "FGW", "", "A", "NCFOXN%TS3DH"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase45(s)
		if err != nil {
			return
		}
		if len(b) > len(s) {
			t.Fatalf("decoded %d bytes from %d characters", len(b), len(s))
		}
		// Strict decoding is the inverse of encoding.
		if e := EncodeBase45(b); e != s {
			t.Fatalf("EncodeBase45(DecodeBase45(%q)) = %q", s, e)
		}
		if d, err := DecodeBase45(EncodeBase45(b)); err != nil || !bytes.Equal(d, b) {
			t.Fatalf("round trip of %x: %x, %v", b, d, err)
		}
	})
}
