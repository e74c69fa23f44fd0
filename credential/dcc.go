package credential

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"checkpoint"
	"github.com/fxamacker/cbor/v2"
)

// dcc is the EU DCC payload (hcert claim -260, key 1), the parts we use.
type dcc struct {
	Ver string   `cbor:"ver"`
	Nam dccName  `cbor:"nam"`
	Dob string   `cbor:"dob"`
	V   []dccVac `cbor:"v"`
	T   []dccTst `cbor:"t"`
	R   []dccRec `cbor:"r"`
}

type dccName struct {
	Fn  string `cbor:"fn"`
	Fnt string `cbor:"fnt"`
	Gn  string `cbor:"gn"`
	Gnt string `cbor:"gnt"`
}

type dccVac struct {
	Tg string  `cbor:"tg"`
	Mp string  `cbor:"mp"`
	Dn dccUint `cbor:"dn"`
	Sd dccUint `cbor:"sd"`
	Dt string  `cbor:"dt"`
	Co string  `cbor:"co"`
	Ci string  `cbor:"ci"`
}

type dccTst struct {
	Tg string `cbor:"tg"`
	Tt string `cbor:"tt"`
	Sc string `cbor:"sc"`
	Tr string `cbor:"tr"`
	Co string `cbor:"co"`
	Ci string `cbor:"ci"`
}

type dccRec struct {
	Tg string `cbor:"tg"`
	Fr string `cbor:"fr"`
	Df string `cbor:"df"`
	Du string `cbor:"du"`
	Co string `cbor:"co"`
	Ci string `cbor:"ci"`
}

// dccUint is a dose number: an unsigned integer, or a float with an
// integral value as some issuers encode it.
type dccUint int

// UnmarshalCBOR implements cbor.Unmarshaler.
func (n *dccUint) UnmarshalCBOR(b []byte) error {
	var v any
	if err := payloadMode.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case int64:
		if x < 0 || x > 1000 {
			return errors.New("dose number out of range")
		}
		*n = dccUint(x)
	case float64:
		if x < 0 || x > 1000 || x != math.Trunc(x) {
			return errors.New("dose number out of range")
		}
		*n = dccUint(x)
	case nil:
		*n = 0
	default:
		return fmt.Errorf("dose number is %T", v)
	}
	return nil
}

// decodeDCC decodes the DCC map.
func decodeDCC(raw cbor.RawMessage) (*dcc, error) {
	var d dcc
	if err := payloadMode.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	if len(d.V)+len(d.T)+len(d.R) == 0 {
		return nil, errors.New("no vaccination, test or recovery entry")
	}
	return &d, nil
}

// kinds returns the kind of every entry: "v", "t" or "r", in that order.
// The schema allows one entry; the signer's usages are checked for each.
func (d *dcc) kinds() []string {
	k := make([]string, 0, len(d.V)+len(d.T)+len(d.R))
	for range d.V {
		k = append(k, "v")
	}
	for range d.T {
		k = append(k, "t")
	}
	for range d.R {
		k = append(k, "r")
	}
	return k
}

// identifiers returns every entry's certificate identifier (ci), in entry
// order, skipping empty ones.
func (d *dcc) identifiers() []string {
	var ids []string
	add := func(ci string) {
		if ci != "" {
			ids = append(ids, ci)
		}
	}
	for _, v := range d.V {
		add(v.Ci)
	}
	for _, t := range d.T {
		add(t.Ci)
	}
	for _, r := range d.R {
		add(r.Ci)
	}
	return ids
}

// certificate converts the DCC into the domain type.
func (d *dcc) certificate() checkpoint.Certificate {
	var c checkpoint.Certificate
	for _, v := range d.V {
		c.Vaccinations = append(c.Vaccinations, checkpoint.Vaccination{
			Disease: v.Tg, Product: v.Mp, Dose: int(v.Dn), Of: int(v.Sd), Date: parseDay(v.Dt), Country: v.Co,
		})
	}
	for _, t := range d.T {
		c.Tests = append(c.Tests, checkpoint.Test{
			Disease: t.Tg, Type: t.Tt, Result: t.Tr, Sampled: parseInstant(t.Sc), Country: t.Co,
		})
	}
	for _, r := range d.R {
		c.Recoveries = append(c.Recoveries, checkpoint.Recovery{
			Disease: r.Tg, FirstPositive: parseDay(r.Fr), ValidFrom: parseDay(r.Df), ValidUntil: parseDay(r.Du), Country: r.Co,
		})
	}
	if ids := d.identifiers(); len(ids) > 0 {
		c.UCI = ids[0]
	}
	return c
}

// holder returns initials (family names first, as Vietnamese names are
// written), birth day and month, and the full name.
func (d *dcc) holder() checkpoint.Holder {
	fam, giv := d.Nam.Fnt, d.Nam.Gnt
	if fam == "" && giv == "" {
		fam, giv = d.Nam.Fn, d.Nam.Gn
	}
	h := checkpoint.Holder{Initials: initials(repairText(fam + " " + giv))}
	fn, gn := d.Nam.Fn, d.Nam.Gn
	if fn == "" && gn == "" {
		fn, gn = strings.ReplaceAll(d.Nam.Fnt, "<", " "), strings.ReplaceAll(d.Nam.Gnt, "<", " ")
	}
	h.FullName = cleanName(repairText(fn + " " + gn))
	dob := d.Dob
	if len(dob) > 10 {
		dob = dob[:10] // some issuers append a time
	}
	if b, err := parseISOBirth(dob); err == nil {
		h.BirthDay, h.BirthMonth = b.Day, b.Month
	}
	return h
}

// parseDay parses a DCC date (YYYY-MM-DD, possibly followed by a time);
// zero when it cannot be read.
func parseDay(s string) time.Time {
	if len(s) > 10 {
		s = s[:10]
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// instantLayouts are the date-time forms seen in test sampling times.
var instantLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02",
}

// parseInstant parses a DCC date-time; zero when it cannot be read. Times
// without a zone are UTC.
func parseInstant(s string) time.Time {
	for _, l := range instantLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
