package main

// Helpers shared by the daemon-level reliability, privacy and soak tests: a
// signed feed served over HTTP on 127.0.0.1, replay frames (the demo scene
// plus signed HC1 certificates), site configs, and the daemon run in-process
// with its output captured.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"checkpoint/config"
	"checkpoint/credential/hc1test"
	"checkpoint/demo"
	"checkpoint/policy"
)

// waitLimit bounds every wait for the daemon to reach a state: a guard
// against a hung test, not a timed assertion.
const waitLimit = 90 * time.Second

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Len returns the number of bytes written so far.
func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// Since returns what was written after offset n.
func (s *syncBuffer) Since(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.b.Len() {
		return ""
	}
	return string(s.b.Bytes()[n:])
}

// loopFeed is a feed directory built with `checkpoint feed init|publish` and
// served by a real HTTP server on 127.0.0.1. While down is set the server
// answers 503.
type loopFeed struct {
	dir  string // the authority's feed directory (keys, state, repo)
	in   string // where the input files are written (outside dir)
	srv  *httptest.Server
	down atomic.Bool
	n    int // files written
	// run executes a checkpoint subcommand (in-process or the binary).
	run func(t *testing.T, args ...string) (int, string, string)
}

// newLoopFeed creates and serves a feed; run executes checkpoint subcommands
// (in-process with runCmd, or the built binary).
func newLoopFeed(t *testing.T, run func(t *testing.T, args ...string) (int, string, string)) *loopFeed {
	t.Helper()
	base := t.TempDir()
	f := &loopFeed{dir: filepath.Join(base, "feed"), in: filepath.Join(base, "inputs"), run: run}
	if err := os.MkdirAll(f.in, 0o700); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(t, "feed", "init", f.dir); code != exitOK {
		t.Fatalf("feed init: exit %d\n%s%s", code, out, errs)
	}
	files := http.FileServer(http.Dir(filepath.Join(f.dir, "repo")))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "feed down for the test", http.StatusServiceUnavailable)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the feed's base URL.
func (f *loopFeed) URL() string { return f.srv.URL }

// Root is the provisioned root.json.
func (f *loopFeed) Root() string { return filepath.Join(f.dir, "repo", "root.json") }

// write stores an input file and returns its path.
func (f *loopFeed) write(t *testing.T, name string, b []byte) string {
	t.Helper()
	f.n++
	p := filepath.Join(f.in, fmt.Sprintf("%03d-%s", f.n, name))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// publish publishes the status rows ("qid,status,valid_until"), with the
// side files given as flag/content pairs (e.g. "--trust-list", pem).
func (f *loopFeed) publish(t *testing.T, rows []string, side ...string) {
	t.Helper()
	f.publishCSV(t, "qid,status,valid_until\n"+strings.Join(rows, "\n")+"\n", side...)
}

// publishCSV publishes a whole status file, header included.
func (f *loopFeed) publishCSV(t *testing.T, csv string, side ...string) {
	t.Helper()
	args := []string{"feed", "publish", f.dir, "--statuses", f.write(t, "statuses.csv", []byte(csv))}
	for i := 0; i+1 < len(side); i += 2 {
		args = append(args, side[i], f.write(t, strings.TrimPrefix(side[i], "--"), []byte(side[i+1])))
	}
	if code, out, errs := f.run(t, args...); code != exitOK {
		t.Fatalf("feed publish: exit %d\n%s%s", code, out, errs)
	}
}

// demoRows are the demo people's statuses (from demo.Statuses) and a green
// status for the demo CCCD's ID number.
func demoRows(t *testing.T) []string {
	t.Helper()
	var rows []string
	sc := bufio.NewScanner(bytes.NewReader(demo.Statuses))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "qid,") {
			continue
		}
		rows = append(rows, l)
	}
	return append(rows, strings.Split(demo.CCCD, "|")[0]+",green,")
}

// rulesJSON is the default HC1 rule profile with the first rule renamed,
// so a publish carrying it is a rule change the daemon reloads.
func rulesJSON(t *testing.T, name string) string {
	t.Helper()
	p := policy.DefaultProfile()
	p.Vaccinations[0].Name = name
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hc1Holder is the invented person on the test HC1 certificates: every
// field is distinctive so a search for it finds nothing by chance.
var hc1Holder = struct {
	Fn, Fnt, Gn, Gnt, Dob, UCI string
}{
	Fn: "Trịnh", Fnt: "TRINH", Gn: "Thị Hạnh", Gnt: "THI<HANH",
	Dob: "1966-09-23", UCI: "URN:UVCI:01:VN:PRIV4CY7E5T#Q",
}

// hc1Cert issues a complete vaccination 30 days before now for hc1Holder.
func hc1Cert(t *testing.T, is *hc1test.Issuer, now time.Time) string {
	t.Helper()
	day := now.AddDate(0, 0, -30).UTC().Truncate(24 * time.Hour)
	c := hc1test.Vaccinated(hc1Holder.UCI, 2, 2, day, day)
	c.DCC.Nam = hc1test.Name{Fn: hc1Holder.Fn, Fnt: hc1Holder.Fnt, Gn: hc1Holder.Gn, Gnt: hc1Holder.Gnt}
	c.DCC.Dob = hc1Holder.Dob
	return is.MustIssue(c)
}

// writeFrames writes replay frames into dir and returns dir: the whole demo
// scene when all is set, else two frames of each scene (enough for every
// demo code to give verdicts in a loop, and far quicker to render); then,
// when hc1 is set, three frames showing that certificate and an empty one.
func writeFrames(t *testing.T, dir string, all bool, hc1 string) string {
	t.Helper()
	var n int
	if all {
		paths, err := demo.WriteFrames(dir)
		if err != nil {
			t.Fatal(err)
		}
		n = len(paths)
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		scenes, first := demo.Scenes(), 0
		for _, s := range scenes {
			for k := range min(2, s.Frames) {
				img, err := demo.Render(scenes, first+k)
				if err != nil {
					t.Fatal(err)
				}
				writePNG(t, filepath.Join(dir, fmt.Sprintf("frame-%03d.png", n)), img)
				n++
			}
			first += s.Frames
		}
	}
	if hc1 == "" {
		return dir
	}
	for k := range 4 {
		img := demo.Background(demo.Width, demo.Height, uint64(1000+k))
		if k < 3 {
			p := demo.Placement{Text: hc1, Module: 3.5, CX: 0.5 + 0.004*float64(k), CY: 0.5, Rotate: float64(k)}
			if err := demo.Draw(img, p, uint64(k)); err != nil {
				t.Fatal(err)
			}
		}
		writePNG(t, filepath.Join(dir, fmt.Sprintf("frame-%03d.png", n+k)), img)
	}
	return dir
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(fh, img); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// binRunner runs subcommands of the checkpoint binary bin, as newLoopFeed
// takes them: exit status, stdout, stderr.
func binRunner(bin string) func(t *testing.T, args ...string) (int, string, string) {
	return func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		var out, errs bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errs
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String(), errs.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errs.String()
	}
}

// freeAddr returns a free 127.0.0.1 port for web.listen.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// site is what differs between the tests' gate configs.
type site struct {
	Frames   string
	FPS      float64
	Loop     bool
	Cache    string
	MaxAge   string // cache.max_age; "" for the default
	Feed     *loopFeed
	Interval string // feed.interval
	Listen   string
	LogLevel string
	GPIO     string // driver
	Token    string // web.token
	Extra    string // more TOML at the end
}

// toml renders the site as a config file.
func (s site) toml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gate = \"reliability\"\nlog_level = %q\n", orDefault(s.LogLevel, "info"))
	fmt.Fprintf(&b, "[camera]\nsource = \"replay\"\npath = %q\nloop = %v\nfps = %g\n", s.Frames, s.Loop, s.FPS)
	b.WriteString("[decode]\nworkers = 1\n")
	fmt.Fprintf(&b, "[cache]\npath = %q\n", s.Cache)
	if s.MaxAge != "" {
		fmt.Fprintf(&b, "max_age = %q\n", s.MaxAge)
	}
	if s.Feed != nil {
		fmt.Fprintf(&b, "[feed]\nurl = %q\nroot = %q\ninterval = %q\ntimeout = \"5s\"\n", s.Feed.URL(), s.Feed.Root(), orDefault(s.Interval, "1s"))
	}
	// A code held in view gives a verdict on every frame, so a looped
	// replay keeps producing verdicts.
	b.WriteString("[policy]\ncooldown = \"1ms\"\n")
	fmt.Fprintf(&b, "[gpio]\ndriver = %q\n", orDefault(s.GPIO, "terminal"))
	fmt.Fprintf(&b, "[web]\nlisten = %q\ntoken = %q\n", s.Listen, s.Token)
	b.WriteString(s.Extra)
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeConfig writes the site's config file and returns its path.
func writeConfig(t *testing.T, s site) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "site.toml")
	if err := os.WriteFile(p, []byte(s.toml()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// daemonRun is `checkpoint run --config` running in-process.
type daemonRun struct {
	t      *testing.T
	out    *syncBuffer // stdout (the terminal outputs)
	errs   *syncBuffer // stderr (the log)
	web    string      // base URL of the operator screen
	token  string      // web.token
	cancel context.CancelFunc
	done   chan int
	code   int
	exited bool
}

// startDaemon loads the config file, as `run --config` does, and runs the
// daemon with o until stop.
func startDaemon(t *testing.T, cfgPath string, o daemonOptions) *daemonRun {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemonRun{t: t, out: &syncBuffer{}, errs: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	if cfg.Web.Listen != "" {
		d.web, d.token = "http://"+cfg.Web.Listen, cfg.Web.Token
	}
	e := &env{stdin: strings.NewReader(""), stdout: d.out, stderr: d.errs, getenv: func(string) string { return "" }}
	go func() { d.done <- report(e, "run", daemon(ctx, e, cfg, o)) }()
	t.Cleanup(func() { d.stop() })
	return d
}

// stop ends the daemon (as SIGTERM does) and returns its exit status.
func (d *daemonRun) stop() int {
	if !d.exited {
		d.cancel()
		d.code = <-d.done
		d.exited = true
	}
	return d.code
}

// logs returns stdout and stderr for failure messages.
func (d *daemonRun) logs() string {
	return "--- stdout:\n" + tail(d.out.String(), 3000) + "\n--- stderr:\n" + tail(d.errs.String(), 6000)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// waitFor polls cond until it holds; it fails the test after waitLimit or
// when the daemon exits.
func (d *daemonRun) waitFor(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		select {
		case code := <-d.done:
			d.exited, d.code = true, code
			d.t.Fatalf("daemon exited (status %d) while waiting for %s\n%s", code, what, d.logs())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("no %s within %v\n%s", what, waitLimit, d.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics scrapes /metrics into series → value ("name" or `name{labels}`).
func (d *daemonRun) metrics() map[string]float64 {
	return scrape(d.web, d.token)
}

// scrape reads a Prometheus text page (with the web token when set); it returns nil when the server does
// not answer (yet).
func scrape(base, token string) map[string]float64 {
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		return nil
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			m[l[:i]] = v
		}
	}
	return m
}

// metric returns one series, or -1 when absent.
func (d *daemonRun) metric(name string) float64 {
	v, ok := d.metrics()[name]
	if !ok {
		return -1
	}
	return v
}

// idle returns the idle mode /metrics reports ("" when unknown).
func (d *daemonRun) idle() string {
	m := d.metrics()
	for _, mode := range []string{"ready", "stale", "fault"} {
		if m[`checkpoint_idle_mode{mode="`+mode+`"}`] == 1 {
			return mode
		}
	}
	return ""
}

// verdictLine is one "verdict" log line of the scanner.
type verdictLine struct {
	Verdict, Format, Reasons string
}

// verdicts parses the scanner's verdict lines from a log excerpt.
func verdicts(log string) []verdictLine {
	var out []verdictLine
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "msg=verdict ") {
			continue
		}
		out = append(out, verdictLine{Verdict: logField(l, "verdict"), Format: logField(l, "format"), Reasons: logField(l, "reasons")})
	}
	return out
}

// logField returns the value of key in a slog text line (quotes removed).
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.QuotedPrefix(v); err == nil {
			u, _ := strconv.Unquote(s)
			return u
		}
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// waitVerdict waits for a verdict logged after offset from, of the format,
// whose colour and reasons match (empty: any), and returns it.
func (d *daemonRun) waitVerdict(from int, format, color, reason string) verdictLine {
	d.t.Helper()
	var got verdictLine
	d.waitFor(fmt.Sprintf("%s verdict %q with reason %q", format, color, reason), func() bool {
		for _, v := range verdicts(d.errs.Since(from)) {
			if v.Format == format && (color == "" || v.Verdict == color) && strings.Contains(v.Reasons, reason) {
				got = v
				return true
			}
		}
		return false
	})
	return got
}

// offsetClock is the wall clock shifted by an offset the test moves: the
// clock jumping while the daemon runs.
type offsetClock struct{ off atomic.Int64 }

// Now returns the system time plus the offset.
func (c *offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// Jump sets the offset from the true time.
func (c *offsetClock) Jump(d time.Duration) { c.off.Store(int64(d)) }
