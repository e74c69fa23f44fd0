package credential_test

import (
	"checkpoint/clocktest"
	"testing"

	"checkpoint/credential"
	"checkpoint/credential/hc1test"
)

func BenchmarkParse1405(b *testing.B) {
	p := &credential.Parser{}
	b.ReportAllocs()
	for b.Loop() {
		p.Parse("******123456|NGUYEN VAN AN|1990-05-17|0|0123456789ABCDEF|")
	}
}

func BenchmarkParseCCCD(b *testing.B) {
	p := &credential.Parser{}
	b.ReportAllocs()
	for b.Loop() {
		p.Parse("001099012345|123456789|Nguyễn Văn An|17051990|Nam|Số 1, Phường X, Quận Y, Hà Nội|01072021")
	}
}

func benchHC1(b *testing.B, o hc1test.Options) {
	is, err := hc1test.NewIssuer(o)
	if err != nil {
		b.Fatal(err)
	}
	text := is.MustIssue(hc1test.Vaccinated(uci, 2, 2, day0, issued))
	p := &credential.Parser{Trust: is.Pool(), Clock: clocktest.New(scanAt)}
	b.ReportAllocs()
	for b.Loop() {
		if c := p.Parse(text); c.Err != nil {
			b.Fatal(c.Err)
		}
	}
}

// BenchmarkParseHC1ES256 is a whole HC1 parse with an ES256 signature check.
func BenchmarkParseHC1ES256(b *testing.B) { benchHC1(b, hc1test.Options{}) }

// BenchmarkParseHC1PS256 is a whole HC1 parse with a PS256 signature check.
func BenchmarkParseHC1PS256(b *testing.B) { benchHC1(b, hc1test.Options{RSA: true}) }

// BenchmarkInflateBomb measures how fast a decompression bomb that fits in a
// QR code (2 MiB of zeros in about 2 KiB) is refused at the 64 KiB cap.
func BenchmarkInflateBomb(b *testing.B) {
	z := bomb(2 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := credential.Inflate(z, credential.MaxInflated); err == nil {
			b.Fatal("bomb inflated")
		}
	}
}
