package camera

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/decode"
	"checkpoint/gpio"
	"checkpoint/gpio/pintest"
)

const fakeW, fakeH = 780, 200 // stride 832: rows are padded

func fakeOptions() RPiCamOptions {
	cfg := DefaultRPiCamSettings()
	cfg.Width, cfg.Height, cfg.FPS = fakeW, fakeH, 60
	args, err := RPiCamArgs(cfg)
	if err != nil {
		panic(err)
	}
	return RPiCamOptions{Args: args, Width: fakeW, Height: fakeH, Backoff: 10 * time.Millisecond,
		StallTimeout: 5 * time.Second, KillGrace: 5 * time.Second}
}

// checkFrame asserts that f is exactly frame k of process n as the fake
// drew it, and returns n and k.
func checkFrame(t *testing.T, f *checkpoint.Frame) (n, k int) {
	t.Helper()
	if f.Width != fakeW || f.Height != fakeH || f.Stride != 832 || len(f.Y) != 832*fakeH {
		t.Fatalf("frame %dx%d stride %d with %d bytes, want %dx%d stride 832", f.Width, f.Height, f.Stride, len(f.Y), fakeW, fakeH)
	}
	n, k = int(f.Y[0]), int(f.Y[1])
	if want := renderY(fakeFrameText(n, k), n, k, fakeW, fakeH, 832); !bytes.Equal(f.Y, want) {
		t.Fatalf("frame %d of process %d differs from what the fake wrote", k, n)
	}
	return n, k
}

func next(t *testing.T, s checkpoint.Source) *checkpoint.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return f
}

func TestRPiCamFramesThroughArgs(t *testing.T) {
	dir := installFake(t, "run")
	cfg := DefaultRPiCamSettings()
	cfg.Width, cfg.Height, cfg.FPS = fakeW, fakeH, 60
	cfg.Exposure, cfg.Shutter, cfg.Gain = "sport", 10*time.Millisecond, 2.5
	cfg.Focus, cfg.LensPosition = "manual", 0.5
	cfg.Extra = []string{"--denoise", "cdn_off"}
	args, err := RPiCamArgs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewRPiCam(RPiCamOptions{Args: args, Width: cfg.Width, Height: cfg.Height})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	lastK := 0
	dec := decode.New(decode.Options{})
	for i := 0; i < 5; i++ {
		f := next(t, src)
		n, k := checkFrame(t, f)
		if n != 1 || k <= lastK {
			t.Fatalf("got frame %d of process %d after frame %d", k, n, lastK)
		}
		lastK = k
		syms, err := dec.Decode(context.Background(), f)
		if err != nil || len(syms) != 1 || syms[0].Text != fakeFrameText(n, k) {
			t.Fatalf("decoded %v, %v from frame %d; want %q", syms, err, k, fakeFrameText(n, k))
		}
	}
	ran := readLines(filepath.Join(dir, "args"))
	want := "-t 0 -n --codec yuv420 --width 780 --height 200 --framerate 60 --exposure sport --shutter 10000 --gain 2.5 --autofocus-mode manual --lens-position 0.5 --denoise cdn_off -o -"
	if len(ran) != 1 || ran[0] != want {
		t.Fatalf("rpicam-vid ran with %q, want %q", ran, want)
	}
	st := src.Stats()
	if st.Frames < 5 || st.Width != fakeW || st.Height != fakeH || st.LastFrame.IsZero() || st.Restarts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRPiCamArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		set  func(*RPiCamSettings)
		want string
	}{
		{func(c *RPiCamSettings) { c.Exposure = "night" }, `camera.exposure: "night"`},
		{func(c *RPiCamSettings) { c.Focus = "fixed" }, `camera.focus: "fixed"`},
		{func(c *RPiCamSettings) { c.Gain = -1 }, "camera.gain"},
		{func(c *RPiCamSettings) { c.Shutter = -1 }, "camera.shutter"},
		{func(c *RPiCamSettings) { c.Focus, c.LensPosition = "manual", -2 }, "camera.lens_position"},
	} {
		cfg := DefaultRPiCamSettings()
		tc.set(&cfg)
		if _, err := RPiCamArgs(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	if _, err := NewRPiCam(RPiCamOptions{Command: "/nonexistent/rpicam-vid", Width: 640, Height: 480}); err == nil || !strings.Contains(err.Error(), "/nonexistent/rpicam-vid") {
		t.Errorf("missing command: %v", err)
	}
}

func TestRPiCamRestartsAfterCrash(t *testing.T) {
	dir := installFake(t, "crash 3", "run")
	src, err := NewRPiCam(fakeOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		n, k := checkFrame(t, next(t, src)) // the half frame is never handed out
		if n == 1 && k > 3 {
			t.Fatalf("frame %d from the process that crashed after 3", k)
		}
		if n == 2 {
			break
		}
	}
	if st := src.Stats(); st.Restarts != 1 {
		t.Fatalf("restarts %d, want 1", st.Restarts)
	}
	if pids := fakePids(t, dir, "pids"); len(pids) != 2 || alive(pids[0]) || src.Pid() != pids[1] {
		t.Fatalf("pids %v (current %d): want the crashed one gone and the second running", pids, src.Pid())
	}
}

func TestRPiCamRestartsAfterStall(t *testing.T) {
	dir := installFake(t, "stall 2", "run")
	opts := fakeOptions()
	opts.StallTimeout = time.Second
	src, err := NewRPiCam(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for n := 0; n < 2; {
		n, _ = checkFrame(t, next(t, src))
	}
	if pids := fakePids(t, dir, "pids"); len(pids) < 2 || alive(pids[0]) {
		t.Fatalf("pids %v: want the stalled one killed and another started", pids)
	}
	if st := src.Stats(); st.Restarts < 1 {
		t.Fatalf("restarts %d", st.Restarts)
	}
}

func TestRPiCamCloseLeavesNoProcess(t *testing.T) {
	for _, script := range []string{"run fork", "run fork ignore-term"} {
		t.Run(script, func(t *testing.T) {
			dir := installFake(t, script)
			opts := fakeOptions()
			opts.KillGrace = 200 * time.Millisecond
			src, err := NewRPiCam(opts)
			if err != nil {
				t.Fatal(err)
			}
			checkFrame(t, next(t, src))
			pid := src.Pid()
			helpers := fakePids(t, dir, "helpers")
			if pid == 0 || !alive(pid) || len(helpers) != 1 || !alive(helpers[0]) {
				t.Fatalf("child %d and helper %v should run", pid, helpers)
			}
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			// SIGKILL has been sent to the whole group by now; the kernel
			// may take a moment to schedule the helper's death on a busy
			// machine, so wait for it (bounded) rather than sample once.
			if !gone(pid, 5*time.Second) || !gone(helpers[0], 5*time.Second) {
				t.Fatalf("after Close: child %d alive %v, helper %d alive %v", pid, alive(pid), helpers[0], alive(helpers[0]))
			}
			// A frame published before Close may still be handed out, then the end.
			_, err = src.Next(context.Background())
			if err == nil {
				_, err = src.Next(context.Background())
			}
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Next after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// logRecorder keeps log records for assertions.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) find(msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

func TestRPiCamStderrRateLimited(t *testing.T) {
	installFake(t, "run flood")
	logs := &logRecorder{}
	opts := fakeOptions()
	opts.Logger = slog.New(logs)
	opts.StderrBurst, opts.StderrEvery = 5, time.Hour
	src, err := NewRPiCam(opts)
	if err != nil {
		t.Fatal(err)
	}
	checkFrame(t, next(t, src))
	src.Close()
	lines := logs.find("camera stderr")
	if len(lines) != 5 {
		t.Fatalf("%d stderr lines logged, want the burst of 5", len(lines))
	}
	if !strings.HasPrefix(attr(lines[0], "line").String(), "fake rpicam-vid 1: run flood") {
		t.Fatalf("first line %q", attr(lines[0], "line"))
	}
	rest := logs.find("camera stderr lines not logged")
	if len(rest) != 1 || attr(rest[0], "suppressed").Int64() != 501-5 {
		t.Fatalf("suppressed count records %v", rest)
	}
}

func TestRPiCamBacksOffWhenTheChildKeepsFailing(t *testing.T) {
	installFake(t, "exit 0")
	logs := &logRecorder{}
	opts := fakeOptions()
	opts.Logger = slog.New(logs)
	opts.Backoff, opts.MaxBackoff = 5*time.Millisecond, 40*time.Millisecond
	src, err := NewRPiCam(opts)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "five restarts", func() bool { return src.Stats().Restarts >= 5 })
	src.Close()
	var backoffs []time.Duration
	for _, r := range logs.find("camera process ended; restarting") {
		backoffs = append(backoffs, attr(r, "backoff").Duration())
	}
	want := []time.Duration{5, 10, 20, 40, 40}
	for i, w := range want {
		if i >= len(backoffs) || backoffs[i] != w*time.Millisecond {
			t.Fatalf("backoffs %v, want them to start %v ms", backoffs, want)
		}
	}
	if st := src.Stats(); st.Frames != 0 {
		t.Fatalf("frames %d from a child that writes none", st.Frames)
	}
}

// idleLog records the scanner's idle modes.
type idleLog struct {
	checkpoint.NopObserver
	ch chan checkpoint.IdleMode
}

func (o idleLog) Idle(m checkpoint.IdleMode) {
	select {
	case o.ch <- m:
	default: // never block the scanner
	}
}

type noDecoder struct{}

func (noDecoder) Decode(context.Context, *checkpoint.Frame) ([]checkpoint.Symbol, error) {
	return nil, nil
}

// A child that stops sending frames makes the scanner play the fault
// pattern; once the source has restarted it, the scanner recovers.
func TestRPiCamStallRaisesFaultThenRecovers(t *testing.T) {
	dir := installFake(t, "stall 3", "run")
	opts := fakeOptions()
	opts.StallTimeout = 3 * time.Second
	src, err := NewRPiCam(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	clk := pintest.NewClock()
	rec := pintest.NewRecorder(clk)
	pins, err := gpio.NewPins(rec.Outputs())
	if err != nil {
		t.Fatal(err)
	}
	sig := gpio.New(pins, gpio.Options{Clock: clk})
	defer sig.Close()
	idle := idleLog{ch: make(chan checkpoint.IdleMode, 16)}
	sc := &checkpoint.Scanner{Source: src, Decoder: noDecoder{}, Indicator: sig,
		StallTimeout: 400 * time.Millisecond, Observers: []checkpoint.Observer{idle}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sc.Run(ctx) }()

	want := []checkpoint.IdleMode{checkpoint.IdleFault, checkpoint.IdleReady}
	for _, w := range want {
		select {
		case m := <-idle.ch:
			if m != w {
				t.Fatalf("idle %s, want %s", m, w)
			}
			if m == checkpoint.IdleFault {
				sig.Sync()
				if !sig.State().Has(gpio.Red) || sig.Playing() != "fault" {
					t.Fatalf("fault: outputs %s playing %q, want the red blink", sig.State(), sig.Playing())
				}
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no idle change to %s", w)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := sc.Stats(); st.Faults < 1 {
		t.Fatalf("faults %d, want at least 1", st.Faults)
	}
	if pids := fakePids(t, dir, "pids"); len(pids) < 2 || alive(pids[0]) {
		t.Fatalf("pids %v", pids)
	}
}
