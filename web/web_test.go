package web

import (
	"bufio"
	"bytes"
	"checkpoint/clocktest"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"checkpoint"
)

// rig is a server with fake parts, healthy at the start.
type rig struct {
	s     *Server
	clock *clocktest.Clock
	scan  *fakeScanner
	cam   *fakeCamera
	cache *fakeCache
	logs  *bytes.Buffer
}

// newRig starts a Server on fakes; base gives Listen, Token and Preview.
func newRig(t *testing.T, base Options, edit func(*Options)) *rig {
	t.Helper()
	r := &rig{clock: newFakeClock(), scan: &fakeScanner{}, logs: &bytes.Buffer{}}
	now := r.clock.Now()
	r.scan.set(checkpoint.ScannerStats{Frames: 42, Symbols: 5, Repeats: 3, LastFrame: now.Add(-100 * time.Millisecond)})
	r.cam = &fakeCamera{st: checkpoint.SourceStats{Frames: 50, Dropped: 7, Restarts: 2, LastFrame: now, Width: 1280, Height: 720}}
	r.cache = &fakeCache{feed: now.Add(-2 * time.Hour), maxAge: 24 * time.Hour}
	opts := Options{
		Listen:  base.Listen,
		Token:   base.Token,
		Preview: base.Preview,
		Gate:    "gate-1",
		Scanner: r.scan,
		Camera:  r.cam,
		Cache:   r.cache,
		Sync: func() SyncStats {
			return SyncStats{Version: 12, Errors: 3, LastSuccess: now.Add(-2 * time.Hour), Firmware: "firmware 1.4.2: rolled back", FirmwareFailures: 1}
		},
		Clock:  r.clock,
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.s = s
	return r
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", "http://127.0.0.1:8080"+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func greenEvent() checkpoint.Event {
	return checkpoint.Event{Verdict: checkpoint.Verdict{
		Color:   checkpoint.Green,
		Reasons: []string{"status green until 2021-12-31"},
		Format:  checkpoint.FormatVN1405,
		Holder:  checkpoint.Holder{Initials: "NVA", BirthDay: 7, BirthMonth: 3},
	}}
}

func TestNewListenRules(t *testing.T) {
	for _, tc := range []struct {
		listen, token string
		ok            bool
	}{
		{"127.0.0.1:8080", "", true},
		{"localhost:8080", "", true},
		{"[::1]:8080", "", true},
		{"", "", true}, // the default, 127.0.0.1:8080
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"[::]:8080", "", false},
		{"192.168.1.20:80", "", false},
		{"gate.local:8080", "", false},
		{"0.0.0.0:8080", "s3cret", true},
		{"8080", "", false},
	} {
		_, err := New(Options{Listen: tc.listen, Token: tc.token})
		if (err == nil) != tc.ok {
			t.Errorf("New(listen %q, token %q): err = %v, want ok %v", tc.listen, tc.token, err, tc.ok)
		}
		if err != nil && tc.listen != "8080" && !strings.Contains(err.Error(), "token") {
			t.Errorf("New(listen %q): error %q does not say a token is needed", tc.listen, err)
		}
	}
	s, err := New(Options{})
	if err != nil || s.Addr() != DefaultListen {
		t.Errorf("New(empty) = %v, %v; want %s", s, err, DefaultListen)
	}
}

// fakeListener claims an address beyond loopback without opening one.
type fakeListener struct{ closed bool }

func (l *fakeListener) Accept() (net.Conn, error) { return nil, errors.New("fake") }
func (l *fakeListener) Close() error              { l.closed = true; return nil }
func (l *fakeListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8080}
}

func TestServeRefusesListenerBeyondLoopbackWithoutToken(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln := &fakeListener{}
	err = s.Serve(t.Context(), ln)
	if err == nil || !strings.Contains(err.Error(), "without a token") {
		t.Fatalf("Serve beyond loopback without token: err = %v", err)
	}
	if !ln.closed {
		t.Error("listener left open")
	}
}

// TestTokenRealServer runs the server on 127.0.0.1 with a token and checks
// every way of presenting it.
func TestTokenRealServer(t *testing.T) {
	const token = "s3cret token; with \"odd\" bytes"
	r := newRig(t, Options{Listen: "127.0.0.1:0", Token: token}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	do := func(c *http.Client, path, auth string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name, path, auth string
		want             int
	}{
		{"none", "/healthz", "", 401},
		{"none page", "/", "", 401},
		{"none metrics", "/metrics", "", 401},
		{"wrong bearer", "/healthz", "Bearer nope", 401},
		{"basic", "/healthz", "Basic " + token, 401},
		{"right bearer", "/healthz", "Bearer " + token, 200},
		{"right bearer metrics", "/metrics", "Bearer " + token, 200},
		{"wrong query", "/state?token=nope", "", 401},
		{"right query", "/state?token=" + urlQuery(token), "", 200},
	} {
		resp := do(noRedirect, tc.path, tc.auth)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.path, resp.StatusCode, tc.want)
		}
		if tc.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}

	// The browser: /?token= sets an HttpOnly cookie and redirects to a URL
	// without the token; the cookie then opens the page and the events.
	resp := do(noRedirect, "/?token="+urlQuery(token), "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("GET /?token= = %d Location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].Name != cookieName {
		t.Fatalf("cookies = %+v, want one HttpOnly %s", cookies, cookieName)
	}
	if strings.Contains(cookies[0].Value, "s3cret") {
		t.Errorf("cookie carries the token itself: %q", cookies[0].Value)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if resp := do(browser, "/?token="+urlQuery(token), ""); resp.StatusCode != 200 {
		t.Fatalf("browser GET /?token= = %d, want 200 after redirect", resp.StatusCode)
	}
	if resp := do(browser, "/state", ""); resp.StatusCode != 200 {
		t.Errorf("GET /state with cookie = %d, want 200", resp.StatusCode)
	}
	if strings.Contains(r.logs.String(), "s3cret") {
		t.Errorf("token in logs:\n%s", r.logs)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", ";", "%3B", "\"", "%22", "&", "%26", "+", "%2B").Replace(s)
}

func TestNoTokenOnLoopbackIsOpen(t *testing.T) {
	r := newRig(t, Options{}, nil)
	for _, p := range []string{"/", "/app.js", "/app.css", "/state", "/healthz", "/metrics"} {
		if w := get(t, r.s.Handler(), p); w.Code != 200 {
			t.Errorf("GET %s = %d, want 200", p, w.Code)
		}
	}
}

// TestNoTokenRefusesForeignHost: without a token, a page on another site
// whose name was rebound to 127.0.0.1 (DNS rebinding) must not read the
// screen: the server answers only requests naming a loopback host.
func TestNoTokenRefusesForeignHost(t *testing.T) {
	r := newRig(t, Options{}, nil)
	r.s.Verdict(greenEvent())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, 200},
		{"localhost:" + port, 200},
		{"LOCALHOST", 200},
		{"127.0.0.1", 200},
		{"127.9.9.9:" + port, 200},
		{"[::1]:" + port, 200},
		{"evil.example:" + port, 403},
		{"evil.example", 403},
		{"localhost.evil.example:" + port, 403},
		{"127.0.0.1.nip.io:" + port, 403},
		{"192.168.1.20:" + port, 403},
		{"[::ffff:8.8.8.8]:" + port, 403},
	} {
		for _, path := range []string{"/state", "/", "/events", "/metrics"} {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+ln.Addr().String()+path, nil)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET %s with Host %s: %v", path, tc.host, err)
			}
			b := make([]byte, 512)
			n, _ := io.ReadFull(resp.Body, b)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("GET %s with Host %q = %d, want %d", path, tc.host, resp.StatusCode, tc.want)
			}
			if tc.want == 403 {
				if bytes.Contains(b[:n], []byte("NVA")) || bytes.Contains(b[:n], []byte("green")) {
					t.Errorf("refused answer carries the verdict: %q", b[:n])
				}
				if !bytes.Contains(b[:n], []byte("loopback")) {
					t.Errorf("refused answer does not say why: %q", b[:n])
				}
			}
		}
	}
}

// readEvent reads one SSE event's data.
func readEvent(t *testing.T, sc *bufio.Scanner) State {
	t.Helper()
	var event, data string
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "event: "):
			event = l[7:]
		case strings.HasPrefix(l, "data: "):
			data = l[6:]
		case l == "" && data != "":
			if event != "state" {
				t.Fatalf("event %q, want state", event)
			}
			var st State
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			return st
		}
	}
	t.Fatalf("event stream ended: %v", sc.Err())
	return State{}
}

func TestEventsDeliverVerdict(t *testing.T) {
	r := newRig(t, Options{}, nil)
	srv := httptest.NewServer(r.s.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	first := readEvent(t, sc)
	if first.Verdict != nil || first.Device.Camera != "ok" || first.Gate != "gate-1" || first.Boot == "" {
		t.Fatalf("first event = %+v, want no verdict, camera ok, gate-1", first)
	}

	r.clock.Add(time.Second)
	r.s.Verdict(greenEvent())
	r.clock.Add(1500 * time.Millisecond)
	var st State
	for st.Verdict == nil { // a heartbeat may come first
		st = readEvent(t, sc)
	}
	v := st.Verdict
	if v.Color != "green" || v.Initials != "NVA" || v.BirthDay != 7 || v.BirthMonth != 3 || v.Name != "" ||
		len(v.Reasons) != 1 || v.Format != "vn1405" || v.ID != 1 {
		t.Errorf("verdict = %+v", v)
	}
	if v.AgeMS < 0 || v.AgeMS > 1500 {
		t.Errorf("age_ms = %d, want 0..1500 by the fake clock", v.AgeMS)
	}
	if st.Boot != first.Boot {
		t.Errorf("boot changed within one server")
	}

	red := checkpoint.Event{Verdict: checkpoint.Verdict{Color: checkpoint.Red, Reasons: []string{"invalid code"},
		Holder: checkpoint.Holder{FullName: "NGUYEN VAN A"}}}
	r.s.Verdict(red)
	for st.Verdict.ID != 2 {
		st = readEvent(t, sc)
	}
	if st.Verdict.Color != "red" || st.Verdict.Name != "NGUYEN VAN A" {
		t.Errorf("second verdict = %+v, want red with the allowed full name", st.Verdict)
	}
	if strings.Contains(r.logs.String(), "NGUYEN") || strings.Contains(r.logs.String(), "NVA") {
		t.Errorf("personal data in logs:\n%s", r.logs)
	}
}

// TestEventsKeepSlotsForLoopback: remote clients, even with the token,
// cannot take every event stream: the loopback kiosk still gets one. The
// server is real, on 127.0.0.1; requests marked X-Test-Remote are made to
// look as if from another machine (their RemoteAddr rewritten), since every
// connection a test may open comes from loopback.
func TestEventsKeepSlotsForLoopback(t *testing.T) {
	const token = "kiosk-test-token"
	r := newRig(t, Options{Listen: "127.0.0.1:0", Token: token}, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if a := req.Header.Get("X-Test-Remote"); a != "" {
			req.RemoteAddr = a
		}
		r.s.Handler().ServeHTTP(w, req)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	open := func(remote string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if remote != "" {
			req.Header.Set("X-Test-Remote", remote)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /events: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
		} else {
			t.Cleanup(func() { resp.Body.Close() })
		}
		return resp.StatusCode
	}
	accepted := 0
	for i := range maxStreams + 4 {
		if open(fmt.Sprintf("192.0.2.%d:4000", i+1)) == http.StatusOK {
			accepted++
		}
	}
	if accepted >= maxStreams {
		t.Fatalf("remote clients hold all %d event streams", accepted)
	}
	for i := range maxStreams - accepted {
		if code := open(""); code != http.StatusOK {
			t.Fatalf("loopback stream %d refused (%d) with %d remote streams open", i+1, code, accepted)
		}
	}
	if code := open(""); code != http.StatusServiceUnavailable {
		t.Errorf("stream beyond the cap of %d = %d, want 503", maxStreams, code)
	}
	if n := r.s.streams(); n != maxStreams {
		t.Errorf("%d streams open, want %d", n, maxStreams)
	}
}

func TestStateIdle(t *testing.T) {
	r := newRig(t, Options{}, nil)
	r.s.Idle(checkpoint.IdleStale)
	w := get(t, r.s.Handler(), "/state")
	var st State
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	d := st.Device
	if d.Idle != "stale" || d.Camera != "ok" || d.FeedAgeMS != (2*time.Hour).Milliseconds() || d.Stale ||
		d.Version != 12 || d.Firmware != "firmware 1.4.2: rolled back" || d.Dropped != 7 || d.Width != 1280 || !d.Cache || st.HoldMS != DefaultHold.Milliseconds() {
		t.Errorf("state = %+v", st)
	}
	r.clock.Add(10 * time.Second)
	json.Unmarshal(get(t, r.s.Handler(), "/state").Body.Bytes(), &st)
	if st.Device.Camera != "stalled" {
		t.Errorf("camera after 10s without frames = %q, want stalled", st.Device.Camera)
	}
}

func TestHealthz(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Options)
		after time.Duration
		code  int
		want  string
	}{
		{"healthy", nil, 0, 200, "ok\ncamera: last frame 100ms ago\ncache: open, feed 2h0m0s old\n"},
		{"stalled", nil, 6 * time.Second, 503, "camera: no frame for 6.1s (limit 5s)"},
		{"stall limit", func(o *Options) { o.Stall = 10 * time.Second }, 6 * time.Second, 200, "ok\n"},
		{"no cache", func(o *Options) { o.Cache = nil }, 0, 503, "cache: not open\n"},
		{"closed cache", func(o *Options) {
			o.Cache = &fakeCache{pingErr: errors.New("sql: database is closed")}
		}, 0, 503, "cache: not open: sql: database is closed"},
		{"no camera", func(o *Options) { o.Scanner, o.Camera = nil, nil }, 0, 503, "camera: not running"},
		{"camera only", func(o *Options) { o.Scanner = nil }, 0, 200, "camera: last frame 0s ago"},
		{"never synced", func(o *Options) { o.Cache = &fakeCache{maxAge: time.Hour} }, 0, 200, "cache: open, never synced\ncache: stale\n"},
	} {
		r := newRig(t, Options{}, tc.edit)
		r.clock.Add(tc.after)
		w := get(t, r.s.Handler(), "/healthz")
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: /healthz = %d %q, want %d containing %q", tc.name, w.Code, w.Body, tc.code, tc.want)
		}
		if tc.code == 503 && !strings.HasPrefix(w.Body.String(), "unhealthy\n") {
			t.Errorf("%s: 503 body %q does not start with unhealthy", tc.name, w.Body)
		}
	}
}

// TestReadyz: alive is not ready. A gate that syncs a feed is ready once it
// has synced and while its cache is not stale (issue 16 item 9).
func TestReadyz(t *testing.T) {
	never := func() SyncStats { return SyncStats{} }
	for _, tc := range []struct {
		name    string
		edit    func(*Options)
		healthz int
		readyz  int
		want    string
	}{
		{"synced", nil, 200, 200, "ok\n"},
		{"feed never synced", func(o *Options) { o.Sync, o.Cache = never, &fakeCache{maxAge: 100 * time.Hour} }, 200, 503, "feed: never synced"},
		{"stale", func(o *Options) {
			o.Cache = &fakeCache{maxAge: time.Hour, feed: time.Date(2021, 8, 1, 0, 0, 0, 0, time.UTC)}
		}, 200, 503, "cache: stale"},
		{"no feed configured", func(o *Options) {
			o.Sync = nil
			o.Cache = &fakeCache{version: 9, maxAge: time.Hour, feed: time.Date(2021, 9, 1, 7, 30, 0, 0, time.UTC)}
		}, 200, 200, "ok\n"},
		{"not alive", func(o *Options) { o.Cache = nil }, 503, 503, "cache: not open"},
	} {
		r := newRig(t, Options{}, tc.edit)
		h, rd := get(t, r.s.Handler(), "/healthz"), get(t, r.s.Handler(), "/readyz")
		if h.Code != tc.healthz || rd.Code != tc.readyz || !strings.Contains(rd.Body.String(), tc.want) {
			t.Errorf("%s: /healthz %d, /readyz %d %q; want %d, %d containing %q", tc.name, h.Code, rd.Code, rd.Body, tc.healthz, tc.readyz, tc.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	r := newRig(t, Options{}, nil)
	r.scan.set(checkpoint.ScannerStats{Frames: 42, Symbols: 5, Repeats: 3, Faults: 1,
		LastFrame: r.clock.Now().Add(-500 * time.Millisecond), Idle: checkpoint.IdleStale})
	f := &checkpoint.Frame{Width: 4, Height: 4, Stride: 4, Y: make([]byte, 16)}
	r.s.Frame(f, nil, 3*time.Millisecond)
	r.s.Frame(f, nil, 30*time.Millisecond)
	r.s.Verdict(greenEvent())
	r.s.Verdict(greenEvent())
	r.s.Verdict(checkpoint.Event{Verdict: checkpoint.Verdict{Color: checkpoint.Red}})
	body := get(t, r.s.Handler(), "/metrics").Body.String()
	for _, want := range []string{
		"checkpoint_frames_total 42",
		"checkpoint_symbols_total 5",
		"checkpoint_repeats_total 3",
		"checkpoint_camera_faults_total 1",
		"checkpoint_frame_age_seconds 0.5",
		`checkpoint_idle_mode{mode="stale"} 1`,
		`checkpoint_idle_mode{mode="ready"} 0`,
		"checkpoint_camera_frames_total 50",
		"checkpoint_camera_dropped_frames_total 7",
		"checkpoint_camera_restarts_total 2",
		`checkpoint_decode_seconds_bucket{le="0.004"} 1`,
		`checkpoint_decode_seconds_bucket{le="0.032"} 2`,
		"checkpoint_decode_seconds_count 2",
		`checkpoint_verdicts_total{color="green"} 2`,
		`checkpoint_verdicts_total{color="yellow"} 0`,
		`checkpoint_verdicts_total{color="red"} 1`,
		"checkpoint_feed_version 12",
		"checkpoint_feed_age_seconds 7200",
		"checkpoint_cache_stale 0",
		"checkpoint_sync_errors_total 3",
		"checkpoint_firmware_rolled_back 1",
		"checkpoint_sync_last_success_timestamp_seconds 1.630476e+09",
		"checkpoint_web_streams 0",
		"checkpoint_preview_frames_total 0",
		"go_goroutines ",
	} {
		if !hasLine(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Absent parts give no series; a second server registers without
	// conflict, and nothing lands in the default registry.
	r2 := newRig(t, Options{}, func(o *Options) { o.Scanner, o.Camera, o.Cache, o.Sync = nil, nil, nil, nil })
	body2 := get(t, r2.s.Handler(), "/metrics").Body.String()
	for _, absent := range []string{"checkpoint_frames_total", "checkpoint_camera_frames_total", "checkpoint_feed_version", "checkpoint_cache_stale"} {
		if strings.Contains(body2, absent) {
			t.Errorf("/metrics without parts has %s", absent)
		}
	}
	// Without a sync, the feed version comes from the cache.
	r3 := newRig(t, Options{}, func(o *Options) { o.Sync = nil; o.Cache = &fakeCache{version: 9, maxAge: time.Hour} })
	if body := get(t, r3.s.Handler(), "/metrics").Body.String(); !hasLine(body, "checkpoint_feed_version 9") || strings.Contains(body, "checkpoint_sync_errors_total") {
		t.Errorf("/metrics without sync: want the cache's feed version 9 and no sync series")
	}

	mfs, _ := prometheus.DefaultGatherer.Gather()
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "checkpoint_") {
			t.Errorf("default registry holds %s", mf.GetName())
		}
	}
}

// hasLine reports whether text has the line want, or a line starting with
// want when want ends in a space.
func hasLine(text, want string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == want || strings.HasSuffix(want, " ") && strings.HasPrefix(l, want) {
			return true
		}
	}
	return false
}

func TestPageHasNoExternalAssets(t *testing.T) {
	r := newRig(t, Options{}, nil)
	w := get(t, r.s.Handler(), "/")
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/ Content-Type = %q", ct)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, p := range []string{"/", "/app.js", "/app.css"} {
		body := get(t, r.s.Handler(), p).Body.String()
		if len(body) < 100 {
			t.Errorf("%s is nearly empty", p)
		}
		for _, ext := range []string{"http://", "https://", "src=\"//", "href=\"//", "url(", "@import"} {
			if strings.Contains(body, ext) {
				t.Errorf("%s refers to an outside asset (%q)", p, ext)
			}
		}
	}
	js := get(t, r.s.Handler(), "/app.js").Body.String()
	for _, word := range []string{"XANH", "GREEN", "VÀNG", "YELLOW", "ĐỎ", "RED", "✓", "!", "✗", "EventSource", "XMLHttpRequest"} {
		if !strings.Contains(js, word) {
			t.Errorf("app.js lacks %q", word)
		}
	}
	if w := get(t, r.s.Handler(), "/nope"); w.Code != 404 {
		t.Errorf("GET /nope = %d", w.Code)
	}
}

func TestPreviewOff(t *testing.T) {
	r := newRig(t, Options{}, nil)
	for _, p := range []string{"/preview", "/preview.jpg"} {
		w := get(t, r.s.Handler(), p)
		if w.Code != 404 || !strings.Contains(w.Body.String(), "preview = true") {
			t.Errorf("GET %s with preview off = %d %q", p, w.Code, w.Body)
		}
	}
	// Frames are never copied while the preview is off.
	r.s.preview.watchers.Add(1)
	f := &checkpoint.Frame{Width: 64, Height: 64, Stride: 64, Y: make([]byte, 64*64)}
	for range 10 {
		r.clock.Add(time.Second)
		r.s.Frame(f, nil, 0)
	}
	if n := r.s.preview.copies.Load(); n != 0 {
		t.Errorf("preview off copied %d frames", n)
	}
}

func TestPreviewCopiesOnlyWhenWatchedAndThrottled(t *testing.T) {
	r := newRig(t, Options{Preview: true}, nil)
	f := &checkpoint.Frame{Width: 1280, Height: 720, Stride: 1280, Y: make([]byte, 1280*720)}
	for range 100 {
		r.clock.Add(10 * time.Millisecond)
		r.s.Frame(f, nil, 0)
	}
	if n := r.s.preview.copies.Load(); n != 0 {
		t.Fatalf("copied %d frames with nobody watching", n)
	}
	r.s.preview.watchers.Add(1)
	for range 100 { // one second at 100 fps, preview at 4 fps
		r.s.Frame(f, nil, 0)
		r.clock.Add(10 * time.Millisecond)
	}
	if n := r.s.preview.copies.Load(); n != 4 {
		t.Errorf("copied %d frames in one second, want 4 (DefaultPreviewFPS)", n)
	}
}

func TestPreviewStream(t *testing.T) {
	r := newRig(t, Options{Preview: true}, nil)
	srv := httptest.NewServer(r.s.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// A 1920x1080 mid-gray frame with a stride wider than the width and one
	// code outlined.
	const w, h, stride = 1920, 1080, 1984
	f := &checkpoint.Frame{Seq: 1, Width: w, Height: h, Stride: stride, Y: bytes.Repeat([]byte{128}, stride*h)}
	sym := checkpoint.Symbol{Text: "secret", Corners: []checkpoint.Point{{X: 400, Y: 200}, {X: 800, Y: 200}, {X: 800, Y: 600}, {X: 400, Y: 600}}}
	go func() { // the frame loop
		for ctx.Err() == nil {
			r.s.Frame(f, []checkpoint.Symbol{sym}, time.Millisecond)
			r.clock.Add(300 * time.Millisecond)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/preview", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" {
		t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for i := range 2 {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if ct := part.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("part content type %q", ct)
		}
		img, err := jpeg.Decode(part)
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != 960 || b.Dy() != 540 {
			t.Errorf("preview size %v, want 960x540 (half of 1920x1080)", b)
		}
		// The outline runs along y=100 from x=200 to x=400 at half scale.
		cr, cg, cb, _ := img.At(300, 100).RGBA()
		if cg>>8 < 150 || cr>>8 > 100 || cb>>8 > 120 {
			t.Errorf("outline pixel = %d,%d,%d, want green", cr>>8, cg>>8, cb>>8)
		}
		gr, gg, gb, _ := img.At(300, 200).RGBA()
		if d := int(gg>>8) - int(gr>>8); d > 10 || d < -10 || gb>>8 < 100 {
			t.Errorf("inside pixel = %d,%d,%d, want gray", gr>>8, gg>>8, gb>>8)
		}
	}

	snap, err := http.Get(srv.URL + "/preview.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Body.Close()
	if _, err := jpeg.Decode(snap.Body); err != nil || snap.StatusCode != 200 {
		t.Errorf("/preview.jpg = %d, %v", snap.StatusCode, err)
	}
}

func TestServeStopsWithOpenStreams(t *testing.T) {
	r := newRig(t, Options{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.s.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	readEvent(t, bufio.NewScanner(resp.Body))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still listening after Serve returned")
	}
}
