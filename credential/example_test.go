package credential_test

import (
	"fmt"
	"time"

	"checkpoint/clocktest"
	"checkpoint/credential"
	"checkpoint/credential/hc1test"
)

// A 1405 personal QR code: the QID is the key the status cache is looked up
// by; the operator sees initials and the birth day and month only.
func ExampleParser_Parse() {
	p := &credential.Parser{}
	c := p.Parse("******123456|NGUYEN VAN AN|1990-05-17|0|QID0001|")
	fmt.Println(c.Format, c.Key, c.Holder.Initials, c.Holder.BirthDay, c.Holder.BirthMonth)
	// Output: vn1405 QID0001 NVA 17 5
}

// An EU DCC certificate is verified against the trust list at the parser's
// clock.
func ExampleParser_Parse_hc1() {
	issuer, err := hc1test.NewIssuer(hc1test.Options{})
	if err != nil {
		panic(err)
	}
	day := time.Date(2021, 9, 1, 0, 0, 0, 0, time.UTC)
	text := issuer.MustIssue(hc1test.Vaccinated("URN:UVCI:01:VN:EXAMPLE", 2, 2, day, day.AddDate(0, 0, 1)))
	p := &credential.Parser{Trust: issuer.Pool(), Clock: clocktest.New(day.AddDate(0, 1, 0))}
	c := p.Parse(text)
	fmt.Println(c.Format, c.Signature, len(c.Cert.Vaccinations), c.Cert.Vaccinations[0].Dose)
	// Output: hc1 valid 1 2
}
