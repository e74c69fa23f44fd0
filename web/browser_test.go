//go:build browser

// The browser test: Debian's chromium, driven headless with chromedp, against
// the running demo daemon (`checkpoint demo --loop --listen ADDR`, built by
// the test). Run it with `make test-browser`.

package web

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// The verdict colours of app.css, as getComputedStyle reports them.
const (
	bgGreen = "rgb(0, 122, 51)"
	bgRed   = "rgb(200, 16, 46)"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "checkpoint-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binDir holds the checkpoint binary the test builds.
var binDir string

var (
	buildOnce sync.Once
	buildErr  error
)

// checkpointBinary builds ./cmd/checkpoint once.
func checkpointBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "checkpoint")
	buildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", bin, "../cmd/checkpoint").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/checkpoint: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// daemon is one run of the daemon under test.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
}

// startDaemon starts `checkpoint demo --loop --listen addr` (the real
// daemon loop on the replayed demo scene) and waits until it answers HTTP.
func startDaemon(t *testing.T, addr string, n int) *daemon {
	t.Helper()
	bin := checkpointBinary(t)
	t.Logf("daemon %d: checkpoint demo --loop --listen %s", n, addr)
	cmd := exec.Command(bin, "demo", "--loop", "--listen", addr)
	cmd.Dir = t.TempDir()
	d := &daemon{cmd: cmd, done: make(chan struct{}), log: &bytes.Buffer{}}
	w := &lockedWriter{w: d.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	go func() { cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.kill()
		os.WriteFile(filepath.Join(artifacts(t), fmt.Sprintf("daemon-%d.log", n)), w.bytes(), 0o644)
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("daemon exited before serving: %v\n%s", cmd.ProcessState, w.bytes())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not serving on %s after 90s:\n%s", addr, w.bytes())
		}
	}
}

// kill sends SIGKILL and waits for the process to end.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.w.Bytes())
}

// artifacts is where screenshots and logs go: $CHECKPOINT_ARTIFACTS, else
// testout/web at the repository root.
func artifacts(t *testing.T) string {
	dir := os.Getenv("CHECKPOINT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testout")
	}
	dir = filepath.Join(dir, "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// pageView is what the test reads of the page.
type pageView struct {
	Conn     string  `json:"conn"`
	Via      string  `json:"via"` // stream or poll: how the newest state came
	Color    string  `json:"color"`
	Vi       string  `json:"vi"`
	En       string  `json:"en"`
	Symbol   string  `json:"symbol"`
	Holder   string  `json:"holder"`
	Bg       string  `json:"bg"`
	Boot     string  `json:"boot"`
	IdleEn   string  `json:"idleEn"`
	Bottom   float64 `json:"bottom"` // lowest edge of the verdict's words and symbol
	Right    float64 `json:"right"`
	ViewH    float64 `json:"viewH"`
	ViewW    float64 `json:"viewW"`
	Overflow bool    `json:"overflow"`
	// Reasons are the reasons shown; ReasonsCut says one is cut off
	// (wider than its box, or below the screen's edge).
	Reasons    string `json:"reasons"`
	ReasonsCut bool   `json:"reasonsCut"`
}

const viewJS = `(() => {
  const $ = id => document.getElementById(id);
  const b = document.body;
  let bottom = 0, right = 0;
  for (const id of ['symbol', 'word-vi', 'word-en', 'holder']) {
    const r = $(id).getBoundingClientRect();
    if (r.height > 0) { bottom = Math.max(bottom, r.bottom); right = Math.max(right, r.right); }
  }
  return {
    conn: b.dataset.conn, via: b.dataset.via || '', color: b.dataset.color, boot: b.dataset.boot,
    vi: $('word-vi').textContent, en: $('word-en').textContent,
    symbol: $('symbol-text').textContent, holder: $('holder').textContent,
    bg: getComputedStyle(b).backgroundColor,
    idleEn: $('idle-en').textContent,
    bottom, right, viewH: innerHeight, viewW: innerWidth,
    overflow: $('word-vi').scrollWidth > $('word-vi').clientWidth + 1,
    reasons: $('reasons').textContent,
    reasonsCut: [...$('reasons').querySelectorAll('li, span')].some(e => {
      const r = e.getBoundingClientRect();
      return r.height > 0 && (e.scrollWidth > e.clientWidth + 1 || r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5);
    }),
  };
})()`

// waitView polls the page until ok holds, or fails after a minute with the
// last view seen.
func waitView(t *testing.T, ctx context.Context, what string, ok func(pageView) bool) pageView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var v pageView
	for {
		var err error
		v, err = chromedp.Run(ctx, chromedp.Evaluate[pageView](viewJS))
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("page never showed %s; last view %+v", what, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// newBrowser starts headless chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing and CI is set: the browser test needs Debian's chromium (make deps)", chromiumPath)
		}
		t.Skipf("%s not found: install Debian's chromium (make deps) to run the browser test", chromiumPath)
	}
	logf, err := os.Create(filepath.Join(artifacts(t), "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(480, 320),
		chromedp.CombinedOutput(logf),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// Start the browser now, on the long-lived context.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(480, 320)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func TestBrowserOperatorScreen(t *testing.T) {
	ctx := newBrowser(t)
	addr := freeAddr(t)
	d := startDaemon(t, addr, 1)
	url := "http://" + addr + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	waitView(t, ctx, "a live connection", func(v pageView) bool { return v.Conn == "live" })

	green := waitView(t, ctx, "GREEN", func(v pageView) bool { return v.En == "GREEN" })
	if green.Vi != "XANH" || green.Bg != bgGreen || green.Symbol != "✓" || green.Color != "green" {
		t.Errorf("green screen = %+v, want XANH ✓ on %s", green, bgGreen)
	}
	checkFits(t, green, 480, 320)
	screenshot(t, ctx, "green.png")

	// The longest reasons of the demo (Vietnamese above English) are shown
	// whole on the panel, wrapped, not cut off (issue 16 item 14).
	yellow := waitView(t, ctx, "YELLOW not in cache", func(v pageView) bool {
		return v.En == "YELLOW" && strings.Contains(v.Reasons, "not in cache")
	})
	checkFits(t, yellow, 480, 320)
	if yellow.ReasonsCut {
		t.Errorf("reasons %q cut off on 480x320", yellow.Reasons)
	}
	screenshot(t, ctx, "yellow.png")

	red := waitView(t, ctx, "RED after GREEN", func(v pageView) bool { return v.En == "RED" })
	if red.Vi != "ĐỎ" || red.Bg != bgRed || red.Symbol != "✗" || red.Color != "red" {
		t.Errorf("red screen = %+v, want ĐỎ ✗ on %s", red, bgRed)
	}
	checkFits(t, red, 480, 320)
	screenshot(t, ctx, "red.png")

	// The daemon dies: the page says so rather than keep an old verdict.
	d.kill()
	off := waitView(t, ctx, "the lost connection", func(v pageView) bool { return v.Conn == "offline" })
	if off.IdleEn != "DISCONNECTED" || off.Color != "" || off.Bg == bgGreen || off.Bg == bgRed {
		t.Errorf("offline screen = %+v, want DISCONNECTED without a verdict colour", off)
	}
	screenshot(t, ctx, "offline.png")

	// The daemon comes back on the same address: the page reconnects by
	// itself to the new process and shows its verdicts.
	startDaemon(t, addr, 2)
	back := waitView(t, ctx, "a reconnection to the new daemon", func(v pageView) bool {
		return v.Conn == "live" && v.Boot != red.Boot
	})
	t.Logf("reconnected: boot %s → %s", red.Boot, back.Boot)
	waitView(t, ctx, "GREEN after reconnecting", func(v pageView) bool { return v.En == "GREEN" && v.Bg == bgGreen })
	waitView(t, ctx, "RED after reconnecting", func(v pageView) bool { return v.En == "RED" && v.Bg == bgRed })
	screenshot(t, ctx, "reconnected.png")
}

// checkFits asserts the verdict is whole on a w x h screen.
func checkFits(t *testing.T, v pageView, w, h float64) {
	t.Helper()
	if v.ViewW != w || v.ViewH != h {
		t.Errorf("viewport %vx%v, want %vx%v", v.ViewW, v.ViewH, w, h)
	}
	if v.Bottom > v.ViewH || v.Right > v.ViewW || v.Overflow || v.ReasonsCut {
		t.Errorf("verdict does not fit %vx%v: bottom %v right %v overflow %v", w, h, v.Bottom, v.Right, v.Overflow)
	}
}

// TestBrowserFallbackWithoutEventSource removes EventSource before the page
// loads: the page falls back to polling /state. It runs on a phone-sized
// portrait screen.
func TestBrowserFallbackWithoutEventSource(t *testing.T) {
	ctx := newBrowser(t)
	addr := freeAddr(t)
	startDaemon(t, addr, 3)
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
				page.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.EventSource;"})
			return err
		}),
		chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait),
		chromedp.Navigate("http://"+addr+"/"),
	)
	if err != nil {
		t.Fatal(err)
	}
	has, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("'EventSource' in window"))
	if err != nil || has {
		t.Fatalf("EventSource still present (%v): the fallback is not exercised", err)
	}
	waitView(t, ctx, "a live connection by polling", func(v pageView) bool { return v.Conn == "live" })
	green := waitView(t, ctx, "GREEN by polling", func(v pageView) bool { return v.En == "GREEN" && v.Bg == bgGreen })
	checkFits(t, green, 390, 844)
	screenshot(t, ctx, "phone-green.png")
	waitView(t, ctx, "RED by polling", func(v pageView) bool { return v.En == "RED" && v.Bg == bgRed })
}

// TestBrowserFallbackWhenStreamsRefused: every event stream is taken, so the
// server refuses the page's (503). The page must not stay at CONNECTING: it
// polls /state and shows the verdicts, and takes the stream again once one
// is free.
func TestBrowserFallbackWhenStreamsRefused(t *testing.T) {
	ctx := newBrowser(t)
	addr := freeAddr(t)
	startDaemon(t, addr, 4)
	hold, release := context.WithCancel(context.Background())
	defer release()
	held := 0
	for {
		req, _ := http.NewRequestWithContext(hold, "GET", "http://"+addr+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /events: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET /events = %d, want 200 or 503", resp.StatusCode)
			}
			break
		}
		defer resp.Body.Close()
		if held++; held > 1000 {
			t.Fatal("the server never refuses an event stream")
		}
	}
	t.Logf("holding %d event streams", held)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	live := waitView(t, ctx, "a live page by polling", func(v pageView) bool { return v.Conn == "live" })
	if live.Via != "poll" {
		t.Errorf("live page via %q with every stream taken, want poll", live.Via)
	}
	waitView(t, ctx, "GREEN by polling", func(v pageView) bool { return v.En == "GREEN" && v.Bg == bgGreen })
	waitView(t, ctx, "RED by polling", func(v pageView) bool { return v.En == "RED" && v.Bg == bgRed })
	screenshot(t, ctx, "streams-taken-polling.png")

	release()
	waitView(t, ctx, "the stream again once free", func(v pageView) bool { return v.Conn == "live" && v.Via == "stream" })
	waitView(t, ctx, "GREEN by the stream", func(v pageView) bool { return v.En == "GREEN" && v.Via == "stream" })
}

// entryView is what the test reads of the code entry.
type entryView struct {
	Open     bool     `json:"open"`
	Code     string   `json:"code"`
	OK       bool     `json:"ok"` // the OK key is enabled
	Keys     int      `json:"keys"`
	Outside  []string `json:"outside"` // keys not wholly on screen, or smaller than 44 px
	Entered  string   `json:"entered"` // colour of the last code sent
	Reasons  string   `json:"reasons"`
	ButtonOn bool     `json:"buttonOn"` // the bar's keypad button is shown
}

const entryJS = `(() => {
  const $ = id => document.getElementById(id);
  const outside = [];
  const keys = document.querySelectorAll('#keys button');
  for (const k of keys) {
    const r = k.getBoundingClientRect();
    if (r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight || r.width < 44 || r.height < 44) outside.push(k.dataset.key);
  }
  return {
    open: !$('entry').hidden, code: $('entry-code').textContent, ok: !$('entry-ok').disabled,
    keys: keys.length, outside, entered: document.body.dataset.entered || '',
    reasons: $('reasons').textContent, buttonOn: !$('entry-open').hidden,
  };
})()`

func readEntry(t *testing.T, ctx context.Context) entryView {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[entryView](entryJS))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBrowserKeypad types the demo's SMS code on the operator screen's
// keypad at 480x320: the keys are big and all on screen, delete and clear
// work, OK stays off until the code is long enough, and the code sent
// (with the page's CSRF token) comes back green, entered by hand.
func TestBrowserKeypad(t *testing.T) {
	ctx := newBrowser(t)
	addr := freeAddr(t)
	startDaemon(t, addr, 1)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	waitView(t, ctx, "a live connection", func(v pageView) bool { return v.Conn == "live" })
	deadline := time.Now().Add(30 * time.Second)
	for !readEntry(t, ctx).ButtonOn {
		if time.Now().After(deadline) {
			t.Fatal("the bar never showed the keypad button")
		}
		time.Sleep(100 * time.Millisecond)
	}
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	key := func(k string) { click(`#keys button[data-key="` + k + `"]`) }
	click("#entry-open")
	v := readEntry(t, ctx)
	if !v.Open || v.Keys != 14 || len(v.Outside) != 0 || v.OK {
		t.Fatalf("keypad %+v: want 14 keys all on the 480x320 screen, OK off", v)
	}
	for _, k := range []string{"9", "9", "clear", "4", "8", "2", "1", "3", "3", "9", "9", "back", "0"} {
		key(k)
	}
	if v := readEntry(t, ctx); v.Code != "48213390" || !v.OK {
		t.Fatalf("typed %+v, want 48213390 with OK on", v)
	}
	screenshot(t, ctx, "keypad.png")
	key("ok")
	deadline = time.Now().Add(30 * time.Second)
	for {
		v := readEntry(t, ctx)
		if v.Entered == "green" && !v.Open {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the typed code never came back green: %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
	screenshot(t, ctx, "typed-verdict.png")
}
