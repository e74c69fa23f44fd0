package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"checkpoint/credential/hc1test"
	"checkpoint/demo"
	"checkpoint/internal/sharedtest"
)

// runScan runs `checkpoint scan` in-process with stdin and returns the exit
// status, the JSON lines and standard error.
func runScan(t *testing.T, stdin string, args ...string) (int, []scanResult, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := dispatch(context.Background(), e, append([]string{"scan"}, args...))
	var res []scanResult
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r scanResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	return code, res, errb.String()
}

// TestScanBlackbox counts, per folder, the zxing blackbox images whose
// decoded text equals their .txt byte for byte, through `scan --json`.
func TestScanBlackbox(t *testing.T) {
	root := sharedtest.Path(t, "zxing-blackbox")
	code, res, errs := runScan(t, "", "--json", root)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := map[string]int{}
	images := map[string]int{}
	for _, r := range res {
		if r.Error != "" {
			t.Errorf("%s: %s", r.File, r.Error)
		}
		folder := filepath.Base(filepath.Dir(r.File))
		images[folder]++
		want, err := os.ReadFile(strings.TrimSuffix(r.File, filepath.Ext(r.File)) + ".txt")
		if err != nil {
			continue // multi-qrcode-1 has its expected texts elsewhere
		}
		for _, c := range r.Codes {
			if c.Text == string(want) {
				got[folder]++
				break
			}
		}
	}
	// Floors at the level reached; zxing's own 0° minimums in brackets
	// (derived/zxing-blackbox-expected.json).
	floors := map[string]struct{ floor, zxing, images int }{
		"qrcode-1": {20, 17, 20},
		"qrcode-2": {34, 32, 35},
		"qrcode-3": {42, 38, 42},
		"qrcode-4": {40, 36, 48},
		"qrcode-5": {19, 19, 19},
		"qrcode-6": {15, 15, 15},
	}
	names := make([]string, 0, len(floors))
	for k := range floors {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f := floors[k]
		t.Logf("%s: %d/%d exact (zxing minimum %d)", k, got[k], images[k], f.zxing)
		if images[k] != f.images {
			t.Errorf("%s: scanned %d images, want %d", k, images[k], f.images)
		}
		if got[k] < f.floor {
			t.Errorf("%s: %d exact, below the floor %d", k, got[k], f.floor)
		}
	}
	if n := len(res); n != 180 {
		t.Errorf("scanned %d images, want 180", n)
	}
}

func TestScanJSONContract(t *testing.T) {
	dir := t.TempDir()
	frames, err := demo.WriteFrames(filepath.Join(dir, "frames"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o600)
	green := frames[10] // the green person's code
	empty := frames[0]

	code, res, _ := runScan(t, "", "--json", green, bad, empty, filepath.Join(dir, "missing.jpg"))
	if code != exitFail {
		t.Errorf("exit %d with unreadable inputs, want 1", code)
	}
	if len(res) != 4 {
		t.Fatalf("got %d results, want one per input: %+v", len(res), res)
	}
	if r := res[0]; r.File != green || r.Error != "" || len(r.Codes) != 1 || r.MS <= 0 {
		t.Fatalf("green frame: %+v", r)
	}
	c := res[0].Codes[0]
	// No cache: the QID cannot be looked up, so the person is checked by hand.
	if c.Text != demo.GreenQR || c.Format != "vn1405" || c.Verdict != "yellow" || len(c.Reasons) == 0 {
		t.Errorf("green code: %+v", c)
	}
	if res[1].Error == "" || !strings.Contains(res[1].Error, "bad.png") || len(res[1].Codes) != 0 {
		t.Errorf("unreadable image: %+v", res[1])
	}
	if res[2].Error != "" || len(res[2].Codes) != 0 {
		t.Errorf("empty frame: %+v", res[2])
	}
	if res[3].Error == "" {
		t.Errorf("missing file: %+v", res[3])
	}
	// The raw JSON keeps its field names and an empty codes list, not null.
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	dispatch(context.Background(), e, []string{"scan", "--json", empty})
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"file", "ms", "codes"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON line lacks %q: %s", k, out.String())
		}
	}
	if codes, ok := raw["codes"].([]any); !ok || len(codes) != 0 {
		t.Errorf("codes of an empty frame = %v, want []", raw["codes"])
	}
}

func TestScanText(t *testing.T) {
	stdin := demo.RedQR + "\n\n" + demo.CCCD + "\r\nHELLO\n"
	code, res, errs := runScan(t, stdin, "--json", "--text", "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := []struct{ file, format, verdict string }{
		{"-:1", "vn1405", "yellow"},
		{"-:3", "cccd", "yellow"},
		{"-:4", "unknown", "red"},
	}
	if len(res) != len(want) {
		t.Fatalf("got %+v", res)
	}
	for i, w := range want {
		if res[i].File != w.file || res[i].Codes[0].Format != w.format || res[i].Codes[0].Verdict != w.verdict {
			t.Errorf("line %d: %+v, want %+v", i, res[i], w)
		}
	}
	if res[2].Codes[0].Reasons[0] != "invalid code" {
		t.Errorf("reasons of HELLO: %v", res[2].Codes[0].Reasons)
	}

	dir := t.TempDir()
	p := filepath.Join(dir, "payload.txt")
	os.WriteFile(p, []byte(demo.CCCD+"\n"), 0o600)
	code, res, _ = runScan(t, "", "--json", "--text", p, filepath.Join(dir, "nope.txt"))
	if code != exitFail || len(res) != 2 || res[0].Codes[0].Format != "cccd" || res[1].Error == "" {
		t.Errorf("text files: exit %d %+v", code, res)
	}
}

// TestScanJSONEscapesFormatCharacters: a payload carrying a right-to-left
// override reaches `scan --json` escaped (\u202e), never as the raw character
// that reverses a terminal's line; decoded, the text is the payload byte for byte.
func TestScanJSONEscapesFormatCharacters(t *testing.T) {
	payload := "******123456|NGUYEN\u202e VAN AN|1990-05-17|0|QBIDI\u2066\u200b|\U000e0041"
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(payload + "\n"), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := dispatch(context.Background(), e, []string{"scan", "--json", "--text", "-"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, r := range out.String() {
		if unicode.Is(unicode.Cf, r) {
			t.Errorf("scan --json wrote %U unescaped: %q", r, out.String())
		}
	}
	var res scanResult
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &res); err != nil {
		t.Fatalf("output %q is not JSON: %v", out.String(), err)
	}
	if len(res.Codes) != 1 || res.Codes[0].Text != payload {
		t.Errorf("decoded codes %+v, want the text %+q", res.Codes, payload)
	}
}

// TestScanHC1 judges signed certificates offline with --trust-cert and --at.
func TestScanHC1(t *testing.T) {
	is, err := hc1test.NewIssuer(hc1test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trust := filepath.Join(dir, "dsc.pem")
	os.WriteFile(trust, is.PEM(), 0o600)
	day := time.Date(2021, 9, 1, 0, 0, 0, 0, time.UTC)
	cert := is.MustIssue(hc1test.Vaccinated("URN:UVCI:01:VN:TEST1", 2, 2, day, day))
	stdin := cert + "\n"

	tests := []struct {
		name         string
		args         []string
		verdict, sig string
		expired      bool
	}{
		{"valid, 30 days after", []string{"--trust-cert", trust, "--at", "2021-10-01T08:00:00+07:00"}, "green", "valid", false},
		{"valid, 10 days after", []string{"--trust-cert", trust, "--at", "2021-09-11T08:00:00+07:00"}, "red", "valid", false},
		{"expired", []string{"--trust-cert", trust, "--at", "2023-01-01T00:00:00Z"}, "red", "valid", true},
		// Outside iat..exp counts as expired, as the EU DCC expiration check
		// (dgc-testdata common/CO16; issue 16 item 15).
		{"not yet valid", []string{"--trust-cert", trust, "--at", "2021-08-31T00:00:00Z"}, "red", "valid", true},
		{"no trust list", []string{"--at", "2021-10-01T08:00:00+07:00"}, "red", "unknown-signer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, res, errs := runScan(t, stdin, append([]string{"--json", "--text"}, append(tt.args, "-")...)...)
			if code != exitOK || len(res) != 1 {
				t.Fatalf("exit %d %+v %s", code, res, errs)
			}
			c := res[0].Codes[0]
			if c.Format != "hc1" || c.Verdict != tt.verdict || c.Signature != tt.sig || c.Expired == nil || *c.Expired != tt.expired {
				t.Errorf("got %+v (expired %v)", c, c.Expired)
			}
		})
	}
}

func TestScanUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--at", "yesterday", "x.png"},
		{"--bogus", "x.png"},
		{"--config", "/nonexistent/checkpoint.toml", "x.png"},
	} {
		if code, _, errs := runScan(t, "", args...); code != exitUsage || errs == "" {
			t.Errorf("scan %v: exit %d, stderr %q; want 2 with a message", args, code, errs)
		}
	}
}
