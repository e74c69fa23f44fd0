package demo_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/credential"
	"checkpoint/decode"
	"checkpoint/demo"
	"checkpoint/gpio"
	"checkpoint/gpio/pintest"
	"checkpoint/policy"
)

// verdictLog plays each verdict's pattern to its end in fake time, from the
// frame loop, so the recorder sees every pattern whole and in order.
type verdictLog struct {
	checkpoint.NopObserver
	clk *pintest.Clock
	sig *gpio.Signal

	mu     sync.Mutex
	events []checkpoint.Event
}

func (l *verdictLog) Verdict(e checkpoint.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	l.clk.Advance(3*time.Second, l.sig.Sync)
}

// setup renders the demo frames and builds the demo cache (a real SQLite
// file) from the embedded statuses.
func setup(tb testing.TB) ([]string, *cache.DB) {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	paths, err := demo.WriteFrames(filepath.Join(dir, "frames"))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := cache.Open(ctx, filepath.Join(dir, "cache.db"), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.ImportCSV(ctx, bytes.NewReader(demo.Statuses)); err != nil {
		tb.Fatal(err)
	}
	return paths, db
}

// TestDemoEndToEnd runs the demo frames through the real loop: replay camera,
// decoder, parser, SQLite cache, policy and gpiotest pins.
func TestDemoEndToEnd(t *testing.T) {
	ctx := context.Background()
	paths, db := setup(t)
	// FPS 0: every frame reaches the decoder, none is dropped.
	src, err := camera.NewReplay(paths, camera.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	clk := pintest.NewClock()
	rec := pintest.NewRecorder(clk)
	pins, err := gpio.NewPins(rec.Outputs(gpio.Relay)) // an active-low relay board
	if err != nil {
		t.Fatal(err)
	}
	sig := gpio.New(pins, gpio.Options{Clock: clk})
	log := &verdictLog{clk: clk, sig: sig}
	s := &checkpoint.Scanner{
		Source:       src,
		Decoder:      decode.New(decode.Options{}),
		Parser:       &credential.Parser{Trust: db},
		Judge:        &policy.Judge{Store: db, Rules: policy.DefaultRules(), Stale: db.Stale},
		Indicator:    sig,
		Stale:        db.Stale,
		StallTimeout: time.Minute,
		Observers:    []checkpoint.Observer{log},
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sig.Close(); err != nil {
		t.Fatal(err)
	}

	// One verdict per person, in scene order, although each code is in view
	// for several frames.
	want := demo.Want()
	var got []checkpoint.Color
	for _, e := range log.events {
		got = append(got, e.Verdict.Color)
	}
	if len(got) != len(want) {
		t.Fatalf("verdicts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", got, want)
		}
	}
	st := s.Stats()
	if st.Frames != uint64(len(paths)) {
		t.Errorf("decoded %d frames, want all %d", st.Frames, len(paths))
	}
	if st.Repeats == 0 {
		t.Error("no repeated sighting was suppressed: each code is held for several frames")
	}
	formats := []checkpoint.Format{checkpoint.FormatVN1405, checkpoint.FormatVN1405, checkpoint.FormatVN1405,
		checkpoint.FormatVN1405, checkpoint.FormatCCCD, checkpoint.FormatUnknown}
	for i, e := range log.events {
		if e.Verdict.Format != formats[i] {
			t.Errorf("verdict %d format %s, want %s", i, e.Verdict.Format, formats[i])
		}
	}
	if h := log.events[0].Verdict.Holder; h.Initials != "NVA" || h.BirthDay != 17 || h.BirthMonth != 5 || h.FullName != "" {
		t.Errorf("operator view of the green person: %+v", h)
	}

	// The exact pin transitions: each verdict's pattern, 3 s apart in fake
	// time; the relay is active-low, so it pulses Low.
	wantLines := strings.Join([]string{
		// opening the outputs puts the relay in its safe (released) state
		"0s relay High",
		// green: LED 1.5 s, one 100 ms beep, relay pulse 1 s
		"0s green High", "0s buzzer High", "0s relay Low", "100ms buzzer Low", "1s relay High", "1.5s green Low",
		// yellow: LED 1.5 s, two 100 ms beeps 150 ms apart
		"3s yellow High", "3s buzzer High", "3.1s buzzer Low", "3.25s buzzer High", "3.35s buzzer Low", "4.5s yellow Low",
		// red: LED 2 s, one 600 ms beep
		"6s red High", "6s buzzer High", "6.6s buzzer Low", "8s red Low",
		// unknown person: yellow
		"9s yellow High", "9s buzzer High", "9.1s buzzer Low", "9.25s buzzer High", "9.35s buzzer Low", "10.5s yellow Low",
		// CCCD: yellow
		"12s yellow High", "12s buzzer High", "12.1s buzzer Low", "12.25s buzzer High", "12.35s buzzer Low", "13.5s yellow Low",
		// not a health code: red
		"15s red High", "15s buzzer High", "15.6s buzzer Low", "17s red Low",
	}, "\n")
	if got := strings.Join(rec.Lines(), "\n"); got != wantLines {
		t.Errorf("pin transitions:\n%s\n\nwant:\n%s", got, wantLines)
	}
	for _, name := range []string{"green", "yellow", "red", "buzzer"} {
		if rec.Level(name) != false {
			t.Errorf("%s is on after Close", name)
		}
	}
	if rec.Level("relay") != true {
		t.Error("relay (active-low) is not released after Close")
	}
}

// TestRenderDeterministic: the demo scene is the same on every machine.
func TestRenderDeterministic(t *testing.T) {
	scenes := demo.Scenes()
	a, err := demo.Render(scenes, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := demo.Render(scenes, 10)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("two renders of frame 10 differ")
	}
	if _, err := demo.Render(scenes, demo.FrameCount(scenes)); err == nil {
		t.Error("rendering past the last frame gave no error")
	}
}
