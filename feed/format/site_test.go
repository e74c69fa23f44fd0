package format

import (
	"strings"
	"testing"

	"checkpoint/cache"
)

func TestParseSiteListCSV(t *testing.T) {
	rows, err := ParseSiteListCSV(strings.NewReader("\ufeffqid,until\r\nQ-1,\r\n079201001234,2021-12-31\r\n\r\nQ-3\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Key != "Q-1" || rows[0].Until != 0 || rows[1].Key != "079201001234" || rows[1].Until == 0 || rows[2].Line != 5 {
		t.Errorf("rows %+v", rows)
	}
	if rows, err := ParseSiteListCSV(strings.NewReader("cccd\n079201001234\n")); err != nil || len(rows) != 1 {
		t.Errorf("cccd header: %v %v", rows, err)
	}
	for _, tt := range []struct{ csv, want string }{
		{"", "no rows"},
		{"qid,until\n", "no rows"},
		{"Q1,green,\n", "line 1: 3 fields, want qid,until (a site list carries no status)"},
		{"Q1,\nQ2,someday\n", "line 2: until"},
		{"Q1,\nQ2,green\n", "line 2: a site list carries no status"},
		{"Q1\n,\n", "line 2: empty qid"},
		{"ma_nv,han\nQ1,\n", `line 1: header "ma_nv,han" not recognised: want qid,until (or cccd,until)`},
		{"Q1\nQ2", "line 2: last line does not end in a newline"},
	} {
		if _, err := ParseSiteListCSV(strings.NewReader(tt.csv)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSiteListCSV(%q) = %v, want %q", tt.csv, err, tt.want)
		}
	}
}

func TestSiteNamesAndPaths(t *testing.T) {
	for _, ok := range []string{"a", "factory-7", "x0123456789012345678901234567890"} {
		if err := CheckSiteName(ok); err != nil {
			t.Errorf("CheckSiteName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "A", "a/b", "a*", "a.b", strings.Repeat("a", 33)} {
		if CheckSiteName(bad) == nil {
			t.Errorf("CheckSiteName(%q) accepted", bad)
		}
	}
	if err := CheckSitePaths("a", []string{SiteListTarget("a"), "sites/a/extra.txt"}); err != nil {
		t.Error(err)
	}
	for _, p := range []string{"manifest.json", "revocations.bin.gz", "rules.json", "trustlist.pem", "v3/snapshot-0.bin.gz", "sites/b/people.bin.gz", "sites/a/x/y", "sites/a/", "sites/a/../b/people.bin.gz"} {
		if CheckSitePaths("a", []string{p}) == nil {
			t.Errorf("site a may publish %q", p)
		}
	}
}

func TestSiteListRoundTrip(t *testing.T) {
	recs := []cache.Record{{Hash: [16]byte{1}, ValidUntil: 1700000000}, {Hash: [16]byte{2}}, {Hash: [16]byte{3, 4}, ValidUntil: 5}}
	b, err := EncodeSiteList(recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSiteList(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != recs[0] || got[1] != recs[1] || got[2] != recs[2] {
		t.Errorf("round trip: %+v", got)
	}
	// A status chunk is not a site list, nor the other way round.
	var sb strings.Builder
	EncodeChunk(&sb, KindSnapshot, recs, 1)
	if _, err := DecodeSiteList([]byte(sb.String())); err == nil {
		t.Error("a snapshot chunk decoded as a site list")
	}
	if _, err := DecodeChunk(strings.NewReader(string(b)), KindSnapshot, nil, 10); err == nil {
		t.Error("a site list decoded as a snapshot chunk")
	}
	if _, err := ParseSiteListInfo([]byte(`{"key_id":"0123456789abcdef","entries":3}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{``, `{}`, `{"key_id":"01","entries":3}`, `{"key_id":"0123456789abcdef","entries":-1}`} {
		if _, err := ParseSiteListInfo([]byte(bad)); err == nil {
			t.Errorf("ParseSiteListInfo(%q) accepted", bad)
		}
	}
}
