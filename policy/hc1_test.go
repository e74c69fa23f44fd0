package policy_test

import (
	"checkpoint/clocktest"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/credential"
	"checkpoint/credential/hc1test"
	"checkpoint/policy"
)

// revStore is an in-memory policy.Store holding statuses by key and
// revocation hashes (the first 16 bytes, as the lists compare them).
type revStore struct {
	statuses map[string]checkpoint.StatusEntry
	revoked  map[string]bool // hash type + hex of the first 16 bytes
	err      error
	asked    int
}

func (s *revStore) Status(_ context.Context, key string) (checkpoint.StatusEntry, bool, error) {
	e, ok := s.statuses[key]
	return e, ok, nil
}

func (s *revStore) Revoked(_ context.Context, hashes []checkpoint.RevocationHash) (bool, error) {
	s.asked++
	if s.err != nil {
		return false, s.err
	}
	for _, h := range hashes {
		if len(h.Hash) >= 16 && s.revoked[h.Type+string(h.Hash[:16])] {
			return true, nil
		}
	}
	return false, nil
}

func (s *revStore) KeyHash(string) string { return "hash" }

// at returns the instant of a wall time in Vietnam (UTC+7).
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, time.FixedZone("ICT", 7*3600))
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func vac(dose, of int, dt time.Time) *checkpoint.Certificate {
	return &checkpoint.Certificate{Vaccinations: []checkpoint.Vaccination{{Disease: policy.DiseaseCOVID19, Product: "EU/1/20/1528", Dose: dose, Of: of, Date: dt}}}
}

func rec(fr time.Time) *checkpoint.Certificate {
	return &checkpoint.Certificate{Recoveries: []checkpoint.Recovery{{Disease: policy.DiseaseCOVID19, FirstPositive: fr, ValidFrom: fr.AddDate(0, 0, 11), ValidUntil: fr.AddDate(0, 0, 180)}}}
}

func test(typ, result string, sc time.Time) *checkpoint.Certificate {
	return &checkpoint.Certificate{Tests: []checkpoint.Test{{Disease: policy.DiseaseCOVID19, Type: typ, Result: result, Sampled: sc}}}
}

func TestDefaultProfileBoundaries(t *testing.T) {
	d0 := date(2021, 9, 1)
	sc := time.Date(2021, 9, 10, 8, 30, 0, 0, time.UTC)
	p := policy.DefaultProfile()
	tests := []struct {
		name string
		cert *checkpoint.Certificate
		now  time.Time
		want checkpoint.Color
		why  string
	}{
		{"complete, 13 days", vac(2, 2, d0), at(2021, 9, 14, 23, 59), checkpoint.Red, policy.ReasonHC1NoRule},
		{"complete, 14 days", vac(2, 2, d0), at(2021, 9, 15, 0, 0), checkpoint.Green, "complete vaccination 14+ days ago"},
		{"complete, 14 days counted in UTC+7", vac(2, 2, d0), time.Date(2021, 9, 14, 17, 0, 0, 0, time.UTC), checkpoint.Green, "complete vaccination 14+ days ago"},
		{"complete, a year", vac(2, 2, d0), at(2022, 9, 1, 12, 0), checkpoint.Green, "complete vaccination 14+ days ago"},
		{"booster 3 of 3", vac(3, 3, d0), at(2021, 9, 15, 12, 0), checkpoint.Green, "complete vaccination 14+ days ago"},
		{"single-dose 1 of 1", vac(1, 1, d0), at(2021, 9, 15, 12, 0), checkpoint.Green, "complete vaccination 14+ days ago"},
		{"first dose, 13 days", vac(1, 2, d0), at(2021, 9, 14, 12, 0), checkpoint.Red, policy.ReasonHC1NoRule},
		{"first dose, 14 days", vac(1, 2, d0), at(2021, 9, 15, 12, 0), checkpoint.Yellow, "first dose 14+ days ago"},
		{"dose of 0", vac(1, 0, d0), at(2021, 9, 15, 12, 0), checkpoint.Yellow, "first dose 14+ days ago"},
		{"vaccination in the future", vac(2, 2, d0), at(2021, 8, 1, 12, 0), checkpoint.Red, policy.ReasonHC1NoRule},
		{"other disease", &checkpoint.Certificate{Vaccinations: []checkpoint.Vaccination{{Disease: "123", Dose: 2, Of: 2, Date: d0}}}, at(2021, 10, 1, 12, 0), checkpoint.Red, policy.ReasonHC1NoRule},
		{"unreadable date", vac(2, 2, time.Time{}), at(2021, 10, 1, 12, 0), checkpoint.Red, policy.ReasonHC1NoRule},

		{"recovered, 180 days", rec(d0), at(2022, 2, 28, 23, 59), checkpoint.Green, "recovered within 180 days"},
		{"recovered, 181 days", rec(d0), at(2022, 3, 1, 0, 0), checkpoint.Red, policy.ReasonHC1NoRule},
		{"recovered, day 0", rec(d0), at(2021, 9, 1, 8, 0), checkpoint.Green, "recovered within 180 days"},

		{"PCR negative, 72 h", test(policy.TestNAAT, policy.NotDetected, sc), sc.Add(72 * time.Hour), checkpoint.Yellow, "negative test within 72 hours"},
		{"PCR negative, 72 h and a second", test(policy.TestNAAT, policy.NotDetected, sc), sc.Add(72*time.Hour + time.Second), checkpoint.Red, policy.ReasonHC1NoRule},
		{"RAT negative, 71 h", test(policy.TestRAT, policy.NotDetected, sc), sc.Add(71 * time.Hour), checkpoint.Yellow, "negative test within 72 hours"},
		{"PCR positive", test(policy.TestNAAT, "260373001", sc), sc.Add(time.Hour), checkpoint.Red, policy.ReasonHC1NoRule},
		{"other test type", test("LP0000-0", policy.NotDetected, sc), sc.Add(time.Hour), checkpoint.Red, policy.ReasonHC1NoRule},
		{"sampled in the future", test(policy.TestNAAT, policy.NotDetected, sc), sc.Add(-time.Minute), checkpoint.Red, policy.ReasonHC1NoRule},

		{"no entries", &checkpoint.Certificate{}, at(2021, 10, 1, 12, 0), checkpoint.Red, policy.ReasonHC1NoRule},
		{"two entries", &checkpoint.Certificate{
			Vaccinations: vac(1, 2, d0).Vaccinations,
			Recoveries:   rec(d0.AddDate(0, 0, 10)).Recoveries,
		}, at(2021, 10, 1, 12, 0), checkpoint.Red, policy.ReasonHC1ManyEntries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col, why := p.Judge(tt.cert, tt.now)
			if col != tt.want || why != tt.why {
				t.Errorf("Judge = %s %q, want %s %q", col, why, tt.want, tt.why)
			}
		})
	}
}

func TestProfileRules(t *testing.T) {
	d0 := date(2021, 9, 1)
	p := policy.Profile{
		Vaccinations: []policy.VaccinationRule{
			{Color: checkpoint.Green, Products: []string{"EU/1/20/1528"}, MinDose: 3, MinDays: 7, MaxDays: 270},
		},
		Recoveries: []policy.RecoveryRule{{Color: checkpoint.Yellow, MinDays: 11, MaxDays: 365, WithinValidity: true}},
		Tests:      []policy.TestRule{{Color: checkpoint.Green, Result: policy.NotDetected, MaxHours: 24}},
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cert *checkpoint.Certificate
		now  time.Time
		want checkpoint.Color
		why  string
	}{
		{"dose 3, 7 days", vac(3, 3, d0), date(2021, 9, 8), checkpoint.Green, "vaccination dose 3+ 7-270 days ago"},
		{"dose 3, 6 days", vac(3, 3, d0), date(2021, 9, 7), checkpoint.Red, policy.ReasonHC1NoRule},
		{"dose 3, 271 days", vac(3, 3, d0), d0.AddDate(0, 0, 271), checkpoint.Red, policy.ReasonHC1NoRule},
		{"dose 2", vac(2, 2, d0), date(2021, 10, 1), checkpoint.Red, policy.ReasonHC1NoRule},
		{"other product", &checkpoint.Certificate{Vaccinations: []checkpoint.Vaccination{{Product: "X", Dose: 3, Of: 3, Date: d0}}}, date(2021, 10, 1), checkpoint.Red, policy.ReasonHC1NoRule},
		{"recovery, day 10", rec(d0), d0.AddDate(0, 0, 10), checkpoint.Red, policy.ReasonHC1NoRule},
		{"recovery, day 11", rec(d0), d0.AddDate(0, 0, 11), checkpoint.Yellow, "recovery 11-365 days ago"},
		{"recovery, past du", rec(d0), d0.AddDate(0, 0, 181), checkpoint.Red, policy.ReasonHC1NoRule},
		{"any test type, 24 h", test("LP0000-0", policy.NotDetected, d0), d0.Add(24 * time.Hour), checkpoint.Green, "negative test within 24 hours"},
	} {
		if col, why := p.Judge(tt.cert, tt.now); col != tt.want || why != tt.why {
			t.Errorf("%s: Judge = %s %q, want %s %q", tt.name, col, why, tt.want, tt.why)
		}
	}
}

func TestParseProfile(t *testing.T) {
	b, err := json.MarshalIndent(policy.DefaultProfile(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.ParseProfile(b)
	if err != nil {
		t.Fatalf("default profile: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(p, policy.DefaultProfile()) {
		t.Fatalf("round trip changed the profile:\n%+v", p)
	}
	if !strings.Contains(string(b), `"color": "green"`) {
		t.Errorf("colours are not words:\n%s", b)
	}
	for _, tt := range []struct{ name, json, err string }{
		{"empty", ``, "empty rule profile"},
		{"syntax", "{\n  \"tests\": [\n    {,}\n  ]\n}", "line 3:"},
		{"type", "{\n\"vaccinations\": [{\"color\": \"green\", \"min_days\": \"14\"}]}", "line 2: vaccinations.min_days: string is not a valid int"},
		{"unknown field", `{"vaccinations": [{"color": "green", "min_dayz": 14}]}`, `unknown field "min_dayz"`},
		{"bad colour", `{"vaccinations": [{"color": "blue"}]}`, `unknown colour "blue"`},
		{"red rule", `{"vaccinations": [{"color": "red"}]}`, "vaccinations[0].color: must be green or yellow"},
		{"no colour", `{"tests": [{"result": "260415000", "max_hours": 72}]}`, "tests[0].color: must be green or yellow"},
		{"negative dose", `{"vaccinations": [{"color": "green"}, {"color": "yellow", "min_dose": -1}]}`, "vaccinations[1].min_dose: must not be negative"},
		{"window", `{"vaccinations": [{"color": "green", "min_days": 20, "max_days": 10}]}`, "vaccinations[0].max_days: 10 is below min_days 20"},
		{"recovery without window", `{"recoveries": [{"color": "green"}]}`, "recoveries[0].max_days: required"},
		{"test without result", `{"tests": [{"color": "yellow", "max_hours": 72}]}`, "tests[0].result: required"},
		{"test without hours", `{"tests": [{"color": "yellow", "result": "260415000"}]}`, "tests[0].max_hours: required"},
		{"offset", `{"utc_offset": "ICT"}`, `utc_offset: "ICT" is not like +07:00`},
		{"trailing data", "{}\n{}", "line 2: data after the rule profile"},
		{"too large", `{"utc_offset": "` + strings.Repeat(" ", policy.MaxProfile) + `"}`, "at most 65536"},
	} {
		_, err := policy.ParseProfile([]byte(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.json")
	os.WriteFile(path, []byte(`{"tests": [{"color": "yellow"}]}`), 0o600)
	if _, err := policy.LoadProfile(path); err == nil || !strings.Contains(err.Error(), path+": tests[0].result") {
		t.Errorf("LoadProfile err = %v, want the path and the field", err)
	}
	if _, err := policy.LoadProfile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadProfile of a missing file succeeded")
	}
	os.WriteFile(path, b, 0o600)
	if p, err := policy.LoadProfile(path); err != nil || !reflect.DeepEqual(p, policy.DefaultProfile()) {
		t.Errorf("LoadProfile: %v", err)
	}
}

// TestJudgeHC1 runs issued certificates through the real parser and judge.
func TestJudgeHC1(t *testing.T) {
	is, err := hc1test.NewIssuer(hc1test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d0 := date(2021, 9, 1)
	issued := time.Date(2021, 9, 2, 0, 0, 0, 0, time.UTC)
	now := at(2021, 10, 1, 9, 0)
	full := hc1test.Vaccinated("URN:UVCI:V1", 2, 2, d0, issued)
	first := hc1test.Vaccinated("URN:UVCI:V2", 1, 2, d0, issued)
	expired := full
	expired.Expires = now.Add(-time.Second)
	early := full
	early.IssuedAt = now.Add(time.Hour)
	tampered := full
	tampered.TamperPayload = true

	revokedText := is.MustIssue(full)
	h, err := credential.DecodeHC1(revokedText)
	if err != nil {
		t.Fatal(err)
	}
	byType := func(typ string) *revStore {
		for _, rh := range h.Cert.RevocationHashes {
			if rh.Type == typ {
				return &revStore{revoked: map[string]bool{typ + string(rh.Hash[:16]): true}}
			}
		}
		t.Fatalf("no %s hash", typ)
		return nil
	}

	other, _ := hc1test.NewIssuer(hc1test.Options{})
	// One certificate holding a negative test and a recovery: the EU DCC
	// schema allows exactly one entry.
	testOnly, err := hc1test.NewIssuer(hc1test.Options{Usages: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	twoEntries := hc1test.Cert{IssuedAt: issued, Expires: issued.AddDate(0, 6, 0), DCC: hc1test.DCC{
		Ver: "1.3.0", Nam: hc1test.Name{Fn: "Nguyễn", Fnt: "NGUYEN", Gn: "Văn An", Gnt: "VAN<AN"}, Dob: "1990-05-17",
		T: []hc1test.Test{{Tg: policy.DiseaseCOVID19, Tt: policy.TestNAAT, Sc: now.Add(-time.Hour).Format(time.RFC3339), Tr: policy.NotDetected, Co: "VN", Is: "MoH", Ci: "URN:UVCI:T9"}},
		R: []hc1test.Recovery{{Tg: policy.DiseaseCOVID19, Fr: "2021-09-01", Df: "2021-09-12", Du: "2022-02-28", Co: "VN", Is: "MoH", Ci: "URN:UVCI:R9"}},
	}}
	twoVaccinations := full
	twoVaccinations.DCC.V = append(slices.Clone(full.DCC.V), full.DCC.V[0])
	twoVaccinations.DCC.V[1].Ci = "URN:UVCI:V9"
	for _, tt := range []struct {
		name    string
		text    string
		trust   credential.TrustStore
		store   *revStore
		want    checkpoint.Color
		reasons []string
		sig     checkpoint.SignatureState
		expired bool
	}{
		{"green", is.MustIssue(full), is.Pool(), &revStore{}, checkpoint.Green, []string{"complete vaccination 14+ days ago"}, checkpoint.SignatureValid, false},
		{"yellow", is.MustIssue(first), is.Pool(), &revStore{}, checkpoint.Yellow, []string{"first dose 14+ days ago"}, checkpoint.SignatureValid, false},
		{"bad signature", is.MustIssue(tampered), is.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1BadSignature}, checkpoint.SignatureInvalid, false},
		{"unknown signer", is.MustIssue(full), other.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1UnknownSigner}, checkpoint.SignerUnknown, false},
		{"revoked by UCI", revokedText, is.Pool(), byType("UCI"), checkpoint.Red, []string{policy.ReasonHC1Revoked}, checkpoint.SignatureValid, false},
		{"revoked by country and UCI", revokedText, is.Pool(), byType("COUNTRYCODEUCI"), checkpoint.Red, []string{policy.ReasonHC1Revoked}, checkpoint.SignatureValid, false},
		{"revoked by signature", revokedText, is.Pool(), byType("SIGNATURE"), checkpoint.Red, []string{policy.ReasonHC1Revoked}, checkpoint.SignatureValid, false},
		{"revocation list down", is.MustIssue(full), is.Pool(), &revStore{err: errors.New("disk I/O error")}, checkpoint.Yellow,
			[]string{"complete vaccination 14+ days ago", policy.ReasonHC1RevocationError}, checkpoint.SignatureValid, false},
		{"expired", is.MustIssue(expired), is.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1Expired}, checkpoint.SignatureValid, true},
		{"expired and badly signed", is.MustIssue(func() hc1test.Cert { c := expired; c.TamperPayload = true; return c }()), is.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1BadSignature}, checkpoint.SignatureInvalid, true},
		{"not yet valid", is.MustIssue(early), is.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1NotYetValid}, checkpoint.SignatureValid, true},
		{"test and recovery from a test-only signer", testOnly.MustIssue(twoEntries), testOnly.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1SignerNotAllowed}, checkpoint.SignerNotAllowed, false},
		{"test and recovery", is.MustIssue(twoEntries), is.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1ManyEntries}, checkpoint.SignatureValid, false},
		{"two vaccinations", is.MustIssue(twoVaccinations), is.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonHC1ManyEntries}, checkpoint.SignatureValid, false},
		{"unreadable", "HC1:GGW", is.Pool(), &revStore{}, checkpoint.Red, []string{policy.ReasonInvalid}, checkpoint.Unsigned, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := (&credential.Parser{Trust: tt.trust, Clock: clocktest.New(now)}).Parse(tt.text)
			j := &policy.Judge{Store: tt.store, Rules: policy.DefaultRules()}
			v := j.Judge(context.Background(), c, now)
			if v.Color != tt.want || !reflect.DeepEqual(v.Reasons, tt.reasons) || v.Signature != tt.sig || v.Expired != tt.expired {
				t.Fatalf("verdict %s %q signature %s expired %v; want %s %q %s %v",
					v.Color, v.Reasons, v.Signature, v.Expired, tt.want, tt.reasons, tt.sig, tt.expired)
			}
			if v.Format != checkpoint.FormatHC1 && c.Err == nil {
				t.Errorf("format %q", v.Format)
			}
			if c.Err == nil && (v.Holder.Initials != "NVA" || v.Holder.FullName != "") {
				t.Errorf("holder %+v: want initials and no full name", v.Holder)
			}
		})
	}

	// The full name shows only where the site allows it.
	rules := policy.DefaultRules()
	rules.ShowFullName = true
	c := (&credential.Parser{Trust: is.Pool(), Clock: clocktest.New(now)}).Parse(is.MustIssue(full))
	v := (&policy.Judge{Rules: rules}).Judge(context.Background(), c, now)
	if v.Color != checkpoint.Green || v.Holder.FullName != "Nguyễn Văn An" || v.Holder.BirthDay != 17 || v.Holder.BirthMonth != 5 {
		t.Errorf("verdict %s holder %+v", v.Color, v.Holder)
	}
	// A stale cache caps green at the stale colour.
	j := &policy.Judge{Rules: policy.DefaultRules(), Stale: func(time.Time) bool { return true }}
	if v := j.Judge(context.Background(), c, now); v.Color != checkpoint.Yellow {
		t.Errorf("stale cache: %s", v.Color)
	}
}

func FuzzParseProfile(f *testing.F) {
	b, _ := json.Marshal(policy.DefaultProfile())
	f.Add(b)
	f.Add([]byte(`{"utc_offset":"-03:30","tests":[{"color":"green","result":"x","max_hours":1,"types":[]}]}`))
	f.Add([]byte(`{"recoveries":[{"color":"yellow","min_days":11,"max_days":180,"within_validity":true}]}`))
	f.Add([]byte(`{"vaccinations":[{"color":"red"}]}`))
	f.Add([]byte(`[]`))
	cert := &checkpoint.Certificate{
		Vaccinations: vac(2, 2, date(2021, 9, 1)).Vaccinations,
		Recoveries:   rec(date(2021, 9, 1)).Recoveries,
		Tests:        test(policy.TestNAAT, policy.NotDetected, date(2021, 9, 30)).Tests,
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := policy.ParseProfile(b)
		if err != nil {
			return
		}
		if err := p.Check(); err != nil {
			t.Fatalf("parsed profile fails Check: %v", err)
		}
		if col, why := p.Judge(cert, at(2021, 10, 1, 12, 0)); why == "" || col > checkpoint.Green {
			t.Fatalf("Judge = %s %q", col, why)
		}
	})
}
