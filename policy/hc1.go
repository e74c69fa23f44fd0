package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"checkpoint"
)

// DCC value-set codes the default profile uses.
const (
	DiseaseCOVID19 = "840539006"  // tg: COVID-19
	TestNAAT       = "LP6464-4"   // tt: nucleic acid amplification (PCR)
	TestRAT        = "LP217198-3" // tt: rapid antigen test
	NotDetected    = "260415000"  // tr: negative
)

// Reasons of HC1 verdicts. They are stable, short, and carry no personal data.
const (
	ReasonHC1BadSignature     = "HC1 signature invalid"
	ReasonHC1UnknownSigner    = "HC1 signer unknown"
	ReasonHC1SignerNotAllowed = "HC1 signer not allowed for this certificate"
	ReasonHC1Unsigned         = "HC1 not signed"
	ReasonHC1Revoked          = "HC1 certificate revoked"
	ReasonHC1RevocationError  = "revocation list unavailable: check manually"
	ReasonHC1Expired          = "HC1 certificate expired"
	ReasonHC1NotYetValid      = "HC1 certificate not yet valid"
	ReasonHC1NoRule           = "HC1 meets no rule"
	ReasonHC1ManyEntries      = "HC1 certificate has more than one entry"
)

// Profile is the HC1 rule profile: which vaccinations, recoveries and tests
// give green or yellow. A certificate (one entry) is judged by the greenest rule
// its entry meets; one that meets none is red. It is data: JSON from the feed or a file.
type Profile struct {
	// UTCOffset is the zone whole days are counted in, as "+07:00".
	UTCOffset    string            `json:"utc_offset,omitempty"`
	Vaccinations []VaccinationRule `json:"vaccinations,omitempty"`
	Recoveries   []RecoveryRule    `json:"recoveries,omitempty"`
	Tests        []TestRule        `json:"tests,omitempty"`
}

// VaccinationRule is met by a vaccination entry of Disease (any when empty)
// with one of Products (any when empty), dose number at least MinDose (and
// the series complete when Complete), given between MinDays and MaxDays
// whole days ago (no upper bound when MaxDays is 0).
type VaccinationRule struct {
	Name     string           `json:"name,omitempty"`    // used as the verdict reason
	NameVI   string           `json:"name_vi,omitempty"` // the reason in Vietnamese (else one made from the rule)
	Color    checkpoint.Color `json:"color"`
	Disease  string           `json:"disease,omitempty"`
	Products []string         `json:"products,omitempty"`
	Complete bool             `json:"complete,omitempty"` // dose n of m with n ≥ m
	MinDose  int              `json:"min_dose,omitempty"`
	MinDays  int              `json:"min_days,omitempty"`
	MaxDays  int              `json:"max_days,omitempty"`
}

// RecoveryRule is met by a recovery entry of Disease (any when empty) whose
// first positive test was between MinDays and MaxDays whole days ago, and,
// when WithinValidity, whose own validity window (df to du) holds today.
type RecoveryRule struct {
	Name           string           `json:"name,omitempty"`
	NameVI         string           `json:"name_vi,omitempty"`
	Color          checkpoint.Color `json:"color"`
	Disease        string           `json:"disease,omitempty"`
	MinDays        int              `json:"min_days,omitempty"`
	MaxDays        int              `json:"max_days"`
	WithinValidity bool             `json:"within_validity,omitempty"`
}

// TestRule is met by a test entry of Disease (any when empty), one of
// Types (any when empty), with Result, sampled at most MaxHours ago.
type TestRule struct {
	Name     string           `json:"name,omitempty"`
	NameVI   string           `json:"name_vi,omitempty"`
	Color    checkpoint.Color `json:"color"`
	Disease  string           `json:"disease,omitempty"`
	Types    []string         `json:"types,omitempty"`
	Result   string           `json:"result"`
	MaxHours int              `json:"max_hours"`
}

// DefaultProfile returns GUIDE's default HC1 rules: green for a complete
// vaccination at least 14 days ago or a recovery at most 180 days ago;
// yellow for a first dose at least 14 days ago or a negative test at most
// 72 hours old.
func DefaultProfile() Profile {
	return Profile{
		UTCOffset: "+07:00",
		Vaccinations: []VaccinationRule{
			{Name: "complete vaccination 14+ days ago", NameVI: "đã tiêm đủ liều từ 14 ngày trước", Color: checkpoint.Green, Disease: DiseaseCOVID19, Complete: true, MinDose: 1, MinDays: 14},
			{Name: "first dose 14+ days ago", NameVI: "đã tiêm mũi 1 từ 14 ngày trước", Color: checkpoint.Yellow, Disease: DiseaseCOVID19, MinDose: 1, MinDays: 14},
		},
		Recoveries: []RecoveryRule{
			{Name: "recovered within 180 days", NameVI: "đã khỏi bệnh trong vòng 180 ngày", Color: checkpoint.Green, Disease: DiseaseCOVID19, MaxDays: 180},
		},
		Tests: []TestRule{
			{Name: "negative test within 72 hours", NameVI: "xét nghiệm âm tính trong vòng 72 giờ", Color: checkpoint.Yellow, Disease: DiseaseCOVID19, Types: []string{TestNAAT, TestRAT}, Result: NotDetected, MaxHours: 72},
		},
	}
}

// MaxProfile is the largest rule profile accepted, in bytes.
const MaxProfile = 64 << 10

// ParseProfile reads a JSON rule profile and checks it. Errors name the
// line and the rule field that is wrong.
func ParseProfile(b []byte) (Profile, error) {
	var p Profile
	if len(b) > MaxProfile {
		return p, fmt.Errorf("rule profile is %d bytes, at most %d allowed", len(b), MaxProfile)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, jsonError(b, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Profile{}, fmt.Errorf("line %d: data after the rule profile", lineAt(b, dec.InputOffset()))
	}
	if err := p.Check(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// LoadProfile reads a JSON rule profile file (the --rules flag).
func LoadProfile(path string) (Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("read rules: %w", err)
	}
	p, err := ParseProfile(b)
	if err != nil {
		return Profile{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// jsonError turns a decoding error into one that names the line.
func jsonError(b []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("line %d: %v", lineAt(b, syn.Offset), syn)
	case errors.As(err, &typ):
		return fmt.Errorf("line %d: %s: %s is not a valid %s", lineAt(b, typ.Offset), typ.Field, typ.Value, typ.Type)
	case errors.Is(err, io.EOF):
		return errors.New("empty rule profile")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("rule profile ends early")
	}
	// Unknown fields and bad colours: encoding/json gives no offset.
	return err
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(b []byte, off int64) int {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return 1 + bytes.Count(b[:off], []byte("\n"))
}

// Check reports the first rule that cannot work, naming it.
func (p *Profile) Check() error {
	if _, err := p.zone(); err != nil {
		return err
	}
	color := func(where string, c checkpoint.Color) error {
		if c != checkpoint.Green && c != checkpoint.Yellow {
			return fmt.Errorf("%s.color: must be green or yellow (a certificate meeting no rule is red)", where)
		}
		return nil
	}
	days := func(where string, lo, hi int) error {
		switch {
		case lo < 0:
			return fmt.Errorf("%s.min_days: must not be negative", where)
		case hi < 0:
			return fmt.Errorf("%s.max_days: must not be negative", where)
		case hi != 0 && hi < lo:
			return fmt.Errorf("%s.max_days: %d is below min_days %d", where, hi, lo)
		}
		return nil
	}
	for i, r := range p.Vaccinations {
		w := fmt.Sprintf("vaccinations[%d]", i)
		if err := color(w, r.Color); err != nil {
			return err
		}
		if r.MinDose < 0 {
			return fmt.Errorf("%s.min_dose: must not be negative", w)
		}
		if err := days(w, r.MinDays, r.MaxDays); err != nil {
			return err
		}
	}
	for i, r := range p.Recoveries {
		w := fmt.Sprintf("recoveries[%d]", i)
		if err := color(w, r.Color); err != nil {
			return err
		}
		if r.MaxDays <= 0 {
			return fmt.Errorf("%s.max_days: required, and above 0", w)
		}
		if err := days(w, r.MinDays, r.MaxDays); err != nil {
			return err
		}
	}
	for i, r := range p.Tests {
		w := fmt.Sprintf("tests[%d]", i)
		if err := color(w, r.Color); err != nil {
			return err
		}
		if r.Result == "" {
			return fmt.Errorf("%s.result: required (%s is a negative result)", w, NotDetected)
		}
		if r.MaxHours <= 0 {
			return fmt.Errorf("%s.max_hours: required, and above 0", w)
		}
	}
	return nil
}

// zone returns the fixed zone days are counted in (UTC when unset).
func (p *Profile) zone() (*time.Location, error) {
	if p.UTCOffset == "" {
		return time.UTC, nil
	}
	t, err := time.Parse("-07:00", p.UTCOffset)
	if err != nil {
		return nil, fmt.Errorf("utc_offset: %q is not like +07:00", p.UTCOffset)
	}
	_, off := t.Zone()
	return time.FixedZone(p.UTCOffset, off), nil
}

// daysSince returns the whole calendar days from the date of d to the date
// of now in loc; d is a DCC date (midnight UTC).
func daysSince(d, now time.Time, loc *time.Location) int {
	y, m, dd := now.In(loc).Date()
	today := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
	day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	return int(today.Sub(day).Hours() / 24)
}

// Judge decides the colour of a certificate at now: the colour of the rules
// its entry meets (the greenest, where several rules fit), with that rule's
// name as the reason; red with ReasonHC1NoRule when none is met, and red with
// ReasonHC1ManyEntries for more than one entry (the EU DCC schema allows one:
// the greenest of several would let one signer's allowed type carry another).
func (p *Profile) Judge(c *checkpoint.Certificate, now time.Time) (checkpoint.Color, string) {
	loc, err := p.zone()
	if err != nil {
		loc = time.UTC
	}
	if c.Entries() > 1 {
		return checkpoint.Red, ReasonHC1ManyEntries
	}
	best, why, met := checkpoint.Red, ReasonHC1NoRule, false
	take := func(col checkpoint.Color, name string) {
		if !met || col > best {
			best, why, met = col, name, true
		}
	}
	for _, v := range c.Vaccinations {
		if v.Date.IsZero() {
			continue
		}
		d := daysSince(v.Date, now, loc)
		for _, r := range p.Vaccinations {
			if (r.Disease == "" || r.Disease == v.Disease) &&
				(len(r.Products) == 0 || slices.Contains(r.Products, v.Product)) &&
				v.Dose >= r.MinDose && (!r.Complete || (v.Of > 0 && v.Dose >= v.Of)) &&
				d >= r.MinDays && (r.MaxDays == 0 || d <= r.MaxDays) {
				take(r.Color, r.reason())
			}
		}
	}
	for _, rc := range c.Recoveries {
		if rc.FirstPositive.IsZero() {
			continue
		}
		d := daysSince(rc.FirstPositive, now, loc)
		for _, r := range p.Recoveries {
			if (r.Disease == "" || r.Disease == rc.Disease) && d >= r.MinDays && d <= r.MaxDays &&
				(!r.WithinValidity || withinDays(rc.ValidFrom, rc.ValidUntil, now, loc)) {
				take(r.Color, r.reason())
			}
		}
	}
	for _, t := range c.Tests {
		if t.Sampled.IsZero() || now.Before(t.Sampled) {
			continue
		}
		age := now.Sub(t.Sampled)
		for _, r := range p.Tests {
			if (r.Disease == "" || r.Disease == t.Disease) && (len(r.Types) == 0 || slices.Contains(r.Types, t.Type)) &&
				t.Result == r.Result && age <= time.Duration(r.MaxHours)*time.Hour {
				take(r.Color, r.reason())
			}
		}
	}
	return best, why
}

// withinDays reports whether today (in loc) lies in the dates from..until;
// a zero bound is open.
func withinDays(from, until, now time.Time, loc *time.Location) bool {
	return (from.IsZero() || daysSince(from, now, loc) >= 0) && (until.IsZero() || daysSince(until, now, loc) <= 0)
}

func (r VaccinationRule) reason() string { en, _ := r.reasons(); return en }
func (r RecoveryRule) reason() string    { en, _ := r.reasons(); return en }
func (r TestRule) reason() string        { en, _ := r.reasons(); return en }

// reasons returns the rule's reason in English and in Vietnamese: its
// names, else words made from the rule.
func (r VaccinationRule) reasons() (en, vi string) {
	en, vi = fmt.Sprintf("vaccination dose %d+", r.MinDose), fmt.Sprintf("đã tiêm mũi %d trở lên", r.MinDose)
	if r.Complete {
		en, vi = "complete vaccination", "đã tiêm đủ liều"
	}
	dEN, dVI := daysText(r.MinDays, r.MaxDays)
	return named(r.Name, r.NameVI, en+dEN, vi+dVI)
}

func (r RecoveryRule) reasons() (en, vi string) {
	dEN, dVI := daysText(r.MinDays, r.MaxDays)
	return named(r.Name, r.NameVI, "recovery"+dEN, "đã khỏi bệnh"+dVI)
}

func (r TestRule) reasons() (en, vi string) {
	en, vi = "test", "xét nghiệm"
	if r.Result == NotDetected {
		en, vi = "negative test", "xét nghiệm âm tính"
	}
	return named(r.Name, r.NameVI, fmt.Sprintf("%s within %d hours", en, r.MaxHours), fmt.Sprintf("%s trong vòng %d giờ", vi, r.MaxHours))
}

// named puts a rule's own names before the words made from it.
func named(name, nameVI, en, vi string) (string, string) {
	if name == "" {
		return en, vi
	}
	if nameVI == "" {
		return name, vi
	}
	return name, nameVI
}

// daysText describes a day window: " 14+ days ago", " 0-180 days ago", and
// in Vietnamese.
func daysText(lo, hi int) (en, vi string) {
	if hi == 0 {
		return fmt.Sprintf(" %d+ days ago", lo), fmt.Sprintf(" từ %d ngày trước", lo)
	}
	return fmt.Sprintf(" %d-%d days ago", lo, hi), fmt.Sprintf(" cách đây %d-%d ngày", lo, hi)
}

// vietnamese returns the Vietnamese of a reason one of the profile's rules gives.
func (p *Profile) vietnamese(reason string) (string, bool) {
	var rs []interface{ reasons() (string, string) }
	for _, r := range p.Vaccinations {
		rs = append(rs, r)
	}
	for _, r := range p.Recoveries {
		rs = append(rs, r)
	}
	for _, r := range p.Tests {
		rs = append(rs, r)
	}
	for _, r := range rs {
		if en, vi := r.reasons(); en == reason {
			return vi, true
		}
	}
	return "", false
}

// hc1 judges an HC1 certificate: the signature and signer, revocation, the
// CWT validity period, then the rule profile.
func (j *Judge) hc1(ctx context.Context, c checkpoint.Credential, now time.Time, v *checkpoint.Verdict) {
	red := func(why string) { v.Color, v.Reasons = checkpoint.Red, append(v.Reasons, why) }
	cert := c.Cert
	if cert == nil {
		red(ReasonInvalid)
		return
	}
	expired := !cert.Expires.IsZero() && now.After(cert.Expires)
	early := !cert.IssuedAt.IsZero() && now.Before(cert.IssuedAt)
	v.Expired = expired || early // outside iat..exp, as the EU DCC expiration check
	switch c.Signature {
	case checkpoint.SignatureValid:
	case checkpoint.SignatureInvalid:
		red(ReasonHC1BadSignature)
		return
	case checkpoint.SignerUnknown:
		red(ReasonHC1UnknownSigner)
		return
	case checkpoint.SignerNotAllowed:
		red(ReasonHC1SignerNotAllowed)
		return
	default:
		red(ReasonHC1Unsigned)
		return
	}
	if cert.Entries() > 1 {
		red(ReasonHC1ManyEntries) // the schema allows one entry
		return
	}
	revocationDown := false
	if j.Store != nil && len(cert.RevocationHashes) > 0 {
		revoked, err := j.Store.Revoked(ctx, cert.RevocationHashes)
		switch {
		case err != nil:
			j.storeError("revocation lookup", err)
			revocationDown = true
		case revoked:
			red(ReasonHC1Revoked)
			return
		}
	}
	switch {
	case expired:
		red(ReasonHC1Expired)
		return
	case early:
		red(ReasonHC1NotYetValid)
		return
	}
	col, why := j.Rules.HC1.Judge(cert, now)
	v.Color, v.Reasons = col, append(v.Reasons, why)
	if revocationDown && v.Color > checkpoint.Yellow {
		v.Color = checkpoint.Yellow
		v.Reasons = append(v.Reasons, ReasonHC1RevocationError)
	}
}
