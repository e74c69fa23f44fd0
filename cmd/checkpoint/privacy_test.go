package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"checkpoint/credential/hc1test"
	"checkpoint/demo"
)

// TestPrivacyNoPersonalDataAtRest runs the daemon with debug logging on the
// demo codes and a signed HC1 certificate, with a sync of two feed versions,
// then searches everything the gate and the feed leave behind (the log, the
// terminal output, the event log export, the cache file and its -wal and
// -shm, the device's feed state, every file of the feed directory with its
// gzip members opened) for every QID, document number, name, birth date and
// address of the inputs, in every form they could take.
func TestPrivacyNoPersonalDataAtRest(t *testing.T) {
	now := time.Now()
	is, err := hc1test.NewIssuer(hc1test.Options{Usages: []string{"v"}})
	if err != nil {
		t.Fatal(err)
	}
	frames := writeFrames(t, filepath.Join(t.TempDir(), "frames"), false, hc1Cert(t, is, now))
	f := newLoopFeed(t, runCmd)
	f.publish(t, demoRows(t), "--trust-list", string(is.PEM()), "--rules", rulesJSON(t, "complete vaccination"),
		"--revocations", "hashtype,hash\nUCI,"+strings.Repeat("ab", 32)+"\n")

	gate := filepath.Join(t.TempDir(), "gate")
	os.MkdirAll(gate, 0o700)
	db := filepath.Join(gate, "cache.db")
	// A token on loopback: requests without it are refused and logged at debug level.
	cfg := writeConfig(t, site{Frames: frames, FPS: 30, Loop: true, Cache: db, Feed: f, Listen: freeAddr(t), LogLevel: "debug", Token: "privacy-test-token"})
	d := startDaemon(t, cfg, daemonOptions{})

	d.waitFor("feed version 1", func() bool { return d.metric("checkpoint_feed_version") == 1 })
	from := d.errs.Len()
	d.waitVerdict(from, "hc1", "green", "complete vaccination")
	// Every demo person, each judged from the synced cache.
	d.waitVerdict(from, "vn1405", "green", "status from cache")
	d.waitVerdict(from, "vn1405", "yellow", "status from cache")
	d.waitVerdict(from, "vn1405", "red", "status from cache")
	d.waitVerdict(from, "vn1405", "yellow", "not in cache")
	d.waitVerdict(from, "cccd", "green", "status from cache")
	d.waitVerdict(from, "unknown", "red", "invalid code")

	// A second version: the delta path, and a person whose status changed.
	f.publish(t, append(demoRows(t), strings.Split(demo.UnknownQR, "|")[4]+",green,2099-12-31"))
	d.waitFor("feed version 2", func() bool { return d.metric("checkpoint_feed_version") == 2 })
	from = d.errs.Len()
	d.waitVerdict(from, "vn1405", "green", "status from cache")
	d.waitVerdict(from, "hc1", "green", "")
	for _, p := range []string{"/", "/state", "/healthz", "/metrics", "/app.js", "/state?token=wrong"} {
		for _, tok := range []string{"", d.token} {
			req, _ := http.NewRequest("GET", d.web+p, nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	// The cache as it is while the daemon runs: the WAL holds the newest pages.
	hay := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(db + suffix); err == nil {
			hay["cache"+suffix+" (running)"] = b
		}
	}
	if code := d.stop(); code != exitOK {
		t.Fatalf("daemon exit %d\n%s", code, d.logs())
	}
	hay["daemon log (stderr)"] = []byte(d.errs.String())
	if !strings.Contains(d.errs.String(), "level=DEBUG") {
		t.Errorf("no debug line in the log: log_level = \"debug\" not in effect\n%s", d.logs())
	}
	hay["terminal outputs (stdout)"] = []byte(d.out.String())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(db + suffix); err == nil {
			hay["cache"+suffix+" (stopped)"] = b
		}
	}
	code, out, errs := runCmd(t, "events", "export", "--since", "24h", "--db", db)
	if code != exitOK || !strings.Contains(out, `"format":"hc1"`) || !strings.Contains(out, `"format":"vn1405"`) {
		t.Fatalf("events export: exit %d\n%s%s", code, out, errs)
	}
	hay["events export"], hay["events export stderr"] = []byte(out), []byte(errs)
	code, out, errs = runCmd(t, "events", "export", "--since", "24h", "--hourly", "--db", db)
	if code != exitOK {
		t.Fatalf("events export --hourly: exit %d\n%s", code, errs)
	}
	hay["events export --hourly"] = []byte(out + errs)
	addTree(t, hay, "feed directory", f.dir)
	addTree(t, hay, "device feed state", db+".feed")

	needles := personalData(t)
	if len(needles) < 40 {
		t.Fatalf("only %d search forms: the inputs were not read", len(needles))
	}
	// The search must be able to fail: the inputs hold every needle.
	var inputs bytes.Buffer
	for _, s := range []string{demo.GreenQR, demo.YellowQR, demo.RedQR, demo.UnknownQR, demo.CCCD, demo.Damaged} {
		inputs.WriteString(s + "\n")
	}
	h := hc1Holder
	inputs.WriteString(strings.Join([]string{h.Fn, h.Fnt, h.Gn, h.Gnt, h.Dob, h.UCI,
		h.Fn + " " + h.Gn, h.Gn + " " + h.Fn, strings.ReplaceAll(h.Gnt, "<", " ")}, "\n"))
	for _, n := range needles {
		if n.src == "raw" && !n.in(inputs.Bytes()) {
			t.Errorf("self-check: %s not found in the inputs", n)
		}
	}
	searched := 0
	for name, b := range hay {
		searched += len(b)
		for _, n := range needles {
			if n.in(b) {
				t.Errorf("%s holds %s: %q", name, n, n.context(b))
			}
		}
	}
	t.Logf("searched %d places, %d bytes, for %d forms of personal data", len(hay), searched, len(needles))
}

// addTree adds every file under dir; gzip files are added opened too.
func addTree(t *testing.T, hay map[string][]byte, label, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hay[label+": "+rel] = b
		n++
		if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			plain, err := io.ReadAll(io.LimitReader(zr, 64<<20))
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			hay[label+": "+rel+" (gunzipped)"] = plain
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s %s is empty", label, dir)
	}
}

// needle is one form of one piece of personal data.
type needle struct {
	what string // e.g. "name of GreenQR"
	src  string // "raw" for the value as given, else the form's name
	s    string
	fold bool           // match case-insensitively
	re   *regexp.Regexp // for digit strings: not inside a longer number
	bin  bool           // raw bytes (a hex value decoded)
}

func (n needle) String() string { return fmt.Sprintf("%s (%s %q)", n.what, n.src, n.s) }

func (n needle) in(b []byte) bool { return n.index(b) >= 0 }

func (n needle) index(b []byte) int {
	switch {
	case n.re != nil:
		if m := n.re.FindIndex(b); m != nil {
			return m[0]
		}
		return -1
	case n.fold:
		return bytes.Index(bytes.ToLower(b), []byte(strings.ToLower(n.s)))
	}
	return bytes.Index(b, []byte(n.s))
}

// context returns the bytes around the match, for the failure message.
func (n needle) context(b []byte) []byte {
	i := n.index(b)
	return b[max(0, i-60):min(len(b), i+len(n.s)+60)]
}

var onlyDigits = regexp.MustCompile(`^[0-9]+$`)

// forms returns the needles for one value: as given and case-folded;
// without diacritics; with ICAO '<' for spaces and without spaces (names);
// digit strings only where no longer number contains them.
func forms(what, v string, name bool) []needle {
	var out []needle
	add := func(src, s string) {
		for _, o := range out {
			if strings.EqualFold(o.s, s) {
				return
			}
		}
		n := needle{what: what, src: src, s: s, fold: true}
		if onlyDigits.MatchString(s) {
			n.fold = false
			n.re = regexp.MustCompile(`(^|[^0-9])` + s + `([^0-9]|$)`)
		}
		out = append(out, n)
	}
	add("raw", v)
	plain := foldDiacritics(v)
	add("without diacritics", plain)
	if name {
		for _, s := range []string{v, plain} {
			add("ICAO", strings.ReplaceAll(s, " ", "<"))
			add("no spaces", strings.ReplaceAll(s, " ", ""))
		}
	}
	return out
}

// foldDiacritics removes combining marks: "Nguyễn" → "Nguyen", "Đ" → "D".
func foldDiacritics(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	r, _, _ := transform.String(t, s)
	return strings.NewReplacer("Đ", "D", "đ", "d").Replace(r)
}

// dateForms returns the needles for a birth date given as YYYY-MM-DD (parts
// may be masked with **): ISO, DDMMYYYY (CCCD), YYYYMMDD, and with / . -
// separators in both orders.
func dateForms(what, iso string) []needle {
	p := strings.Split(iso, "-")
	y, m, d := p[0], p[1], p[2]
	vals := []string{iso}
	if !strings.Contains(iso, "*") {
		vals = append(vals, d+m+y, y+m+d, d+"/"+m+"/"+y, d+"-"+m+"-"+y, d+"."+m+"."+y, m+"/"+d+"/"+y, y+"/"+m+"/"+d, y+"."+m+"."+d)
	}
	var out []needle
	for i, v := range vals {
		src := "raw"
		if i > 0 {
			src = "date form"
		}
		for _, n := range forms(what, v, false) {
			n.src = src
			out = append(out, n)
		}
	}
	return out
}

// personalData lists every form of the personal data in the demo payloads
// and on the HC1 certificate.
func personalData(t *testing.T) []needle {
	t.Helper()
	var out []needle
	for _, p := range []struct{ name, payload string }{
		{"GreenQR", demo.GreenQR}, {"YellowQR", demo.YellowQR}, {"RedQR", demo.RedQR},
		{"UnknownQR", demo.UnknownQR}, {"Damaged", demo.Damaged},
	} {
		f := strings.Split(p.payload, "|")
		if len(f) < 5 {
			t.Fatalf("%s is not a 1405 payload", p.name)
		}
		doc, name, dob, qid := f[0], f[1], f[2], f[4]
		out = append(out, forms("document number of "+p.name, doc, false)...)
		if tail := strings.TrimLeft(doc, "*"); tail != doc {
			out = append(out, forms("unmasked part of the document number of "+p.name, tail, false)...)
		}
		out = append(out, forms("name of "+p.name, name, true)...)
		out = append(out, dateForms("birth date of "+p.name, dob)...)
		out = append(out, forms("QID of "+p.name, qid, false)...)
		if raw, err := hex.DecodeString(qid); err == nil {
			out = append(out, needle{what: "QID of " + p.name, src: "hex-decoded bytes", s: string(raw), bin: true})
		}
	}
	c := strings.Split(demo.CCCD, "|")
	out = append(out, forms("CCCD number", c[0], false)...)
	out = append(out, forms("old ID number on the CCCD", c[1], false)...)
	out = append(out, forms("name on the CCCD", c[2], true)...)
	out = append(out, dateForms("birth date on the CCCD", c[3][4:]+"-"+c[3][2:4]+"-"+c[3][:2])...)
	out = append(out, forms("address on the CCCD", c[5], false)...)
	h := hc1Holder
	out = append(out, forms("HC1 family name", h.Fn, true)...)
	out = append(out, forms("HC1 given names", h.Gn, true)...)
	out = append(out, forms("HC1 full name", h.Fn+" "+h.Gn, true)...)
	out = append(out, forms("HC1 full name", h.Gn+" "+h.Fn, true)...)
	out = append(out, forms("HC1 transliterated family name", h.Fnt, true)...)
	out = append(out, forms("HC1 transliterated given names", h.Gnt, true)...)
	out = append(out, forms("HC1 transliterated given names", strings.ReplaceAll(h.Gnt, "<", " "), true)...)
	out = append(out, dateForms("HC1 birth date", h.Dob)...)
	out = append(out, forms("HC1 certificate identifier", h.UCI, false)...)
	out = append(out, forms("HC1 certificate identifier", strings.TrimPrefix(h.UCI, "URN:UVCI:"), false)...)
	return out
}

// TestPrivacyFeedPasswordNotLogged: a feed URL may carry a password (HTTP
// basic authentication), a secret the provisioning keeps off the boot
// partition; the daemon's log must not repeat it when a sync fails.
func TestPrivacyFeedPasswordNotLogged(t *testing.T) {
	f := newLoopFeed(t, runCmd)
	f.publish(t, demoRows(t))
	f.down.Store(true)
	const password = "s3cret-feed-pa55"
	frames := writeFrames(t, filepath.Join(t.TempDir(), "frames"), false, "")
	s := site{Frames: frames, FPS: 30, Loop: true, Cache: filepath.Join(t.TempDir(), "cache.db"), Feed: f, Listen: freeAddr(t), LogLevel: "debug"}
	cfgText := strings.Replace(s.toml(), "url = \"http://", "url = \"http://gate:"+password+"@", 1)
	cfg := filepath.Join(t.TempDir(), "site.toml")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg, daemonOptions{})
	d.waitFor("two failed syncs", func() bool { return strings.Count(d.errs.String(), "feed sync failed") >= 2 })
	d.stop()
	if strings.Contains(d.errs.String(), password) || strings.Contains(d.out.String(), password) {
		t.Errorf("the feed password is in the log:\n%s", d.logs())
	}
}
