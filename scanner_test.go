package checkpoint_test

import (
	"bytes"
	"checkpoint/clocktest"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/camera"
	"checkpoint/credential"
	"checkpoint/credential/hc1test"
	"checkpoint/decode"
	"checkpoint/demo"
	"checkpoint/policy"
)

// recorder is an Indicator and Observer that keeps what it was told.
type recorder struct {
	checkpoint.NopObserver
	clk *clocktest.Clock
	// step is added to the clock after each frame, as a camera's frame interval.
	step time.Duration

	mu       sync.Mutex
	shown    []checkpoint.Color
	decodeNS []time.Duration
}

func (r *recorder) Show(c checkpoint.Color)  { r.mu.Lock(); r.shown = append(r.shown, c); r.mu.Unlock() }
func (r *recorder) Idle(checkpoint.IdleMode) {}
func (r *recorder) Frame(f *checkpoint.Frame, syms []checkpoint.Symbol, d time.Duration) {
	r.mu.Lock()
	if len(syms) > 0 {
		r.decodeNS = append(r.decodeNS, d)
	}
	r.mu.Unlock()
	r.clk.Add(r.step)
}

// frames renders one demo code, held for n frames.
func frames(t *testing.T, text string, n int) []*checkpoint.Frame {
	t.Helper()
	var out []*checkpoint.Frame
	for i := range n {
		img := demo.Background(320, 240, uint64(i+1))
		if err := demo.Draw(img, demo.Placement{Text: text, Module: 3, CX: 0.5, CY: 0.5, Rotate: 5}, 1); err != nil {
			t.Fatal(err)
		}
		out = append(out, checkpoint.FrameFromImage(img))
	}
	return out
}

// TestScannerCooldown: a code held in view gives one verdict as long as it
// is seen again within the cooldown, and a new one once it was out of sight
// for longer.
func TestScannerCooldown(t *testing.T) {
	tests := []struct {
		name string
		step time.Duration // clock advance per frame
		want int           // verdicts for 5 frames of the same code
	}{
		{"held at 15 fps", 66 * time.Millisecond, 1},
		{"seen every 2.9 s", 2900 * time.Millisecond, 1},
		{"seen every 3 s", 3 * time.Second, 5},
	}
	fs := frames(t, demo.UnknownQR, 5)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC))
			rec := &recorder{clk: clk, step: tt.step}
			src, err := camera.NewReplayFrames(fs, camera.ReplayOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := &checkpoint.Scanner{
				Source: src, Decoder: decode.New(decode.Options{}), Parser: &credential.Parser{},
				Judge: &policy.Judge{Rules: policy.DefaultRules()}, Indicator: rec, Clock: clk,
				StallTimeout: time.Hour, Observers: []checkpoint.Observer{rec},
			}
			if err := s.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(rec.shown) != tt.want {
				t.Errorf("%d verdicts, want %d", len(rec.shown), tt.want)
			}
			if st := s.Stats(); st.Symbols != 5 || st.Repeats != uint64(5-tt.want) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestScannerPipelineDecodeTime: with a decode.Pipeline the frames arrive
// already decoded; the observers still see how long decoding took.
func TestScannerPipelineDecodeTime(t *testing.T) {
	fs := frames(t, demo.GreenQR, 4)
	src, err := camera.NewReplayFrames(fs, camera.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC))
	rec := &recorder{clk: clk, step: 10 * time.Millisecond}
	ctx := context.Background()
	p := decode.New(decode.Options{Workers: 2}).Pipeline(ctx, src)
	defer p.Close()
	s := &checkpoint.Scanner{
		Source: p, Decoder: p, Parser: &credential.Parser{},
		Judge: &policy.Judge{Rules: policy.DefaultRules()}, Indicator: rec, Clock: clk,
		StallTimeout: time.Hour, Observers: []checkpoint.Observer{rec},
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec.decodeNS) != 4 {
		t.Fatalf("%d frames with a code, want 4", len(rec.decodeNS))
	}
	for i, d := range rec.decodeNS {
		// A real decode of a 320x240 frame takes well over a microsecond;
		// the pipeline's hand-over alone takes far less.
		if d < time.Microsecond {
			t.Errorf("frame %d: decode time %v is the hand-over, not the worker's decode", i, d)
		}
	}
	if len(rec.shown) != 1 {
		t.Errorf("%d verdicts, want 1", len(rec.shown))
	}
}

// countingParser counts the payloads it parses.
type countingParser struct {
	p checkpoint.Parser
	n atomic.Int64
}

func (c *countingParser) Parse(text string) checkpoint.Credential {
	c.n.Add(1)
	return c.p.Parse(text)
}

// TestScannerParsesHeldCodeOnce: a signed HC1 certificate held in view is
// parsed (base45, inflate, COSE, signature, trust list) once, not on every
// frame; seen again after the cooldown, it is parsed and judged again.
func TestScannerParsesHeldCodeOnce(t *testing.T) {
	is, err := hc1test.NewIssuer(hc1test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC)
	text := is.MustIssue(hc1test.Vaccinated("URN:UVCI:01:VN:HELD0001#X", 2, 2, at.AddDate(0, -1, 0), at.AddDate(0, 0, -7)))
	var fs []*checkpoint.Frame
	for i := range 6 {
		img := demo.Background(480, 480, uint64(i+1))
		if err := demo.Draw(img, demo.Placement{Text: text, Module: 4, CX: 0.5, CY: 0.5}, 1); err != nil {
			t.Fatal(err)
		}
		fs = append(fs, checkpoint.FrameFromImage(img))
	}
	for _, tt := range []struct {
		name          string
		step          time.Duration
		parses, shown int
	}{
		{"held at 15 fps", 66 * time.Millisecond, 1, 1},
		{"seen every 3 s", 3 * time.Second, 6, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(at)
			rec := &recorder{clk: clk, step: tt.step}
			src, err := camera.NewReplayFrames(fs, camera.ReplayOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p := &countingParser{p: &credential.Parser{Trust: is.Pool(), Clock: clk}}
			s := &checkpoint.Scanner{
				Source: src, Decoder: decode.New(decode.Options{}), Parser: p,
				Judge: &policy.Judge{Rules: policy.DefaultRules()}, Indicator: rec, Clock: clk,
				StallTimeout: time.Hour, Observers: []checkpoint.Observer{rec},
			}
			if err := s.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Symbols != 6 {
				t.Fatalf("%d codes decoded in 6 frames, want 6", st.Symbols)
			}
			if got := p.n.Load(); got != int64(tt.parses) {
				t.Errorf("parsed %d times, want %d", got, tt.parses)
			}
			if len(rec.shown) != tt.shown {
				t.Errorf("%d verdicts, want %d", len(rec.shown), tt.shown)
			}
		})
	}
}

// The verdict's log line joins its reasons, so two reasons do not read as
// one (issue 16 item 14).
func TestScannerLogsReasonsApart(t *testing.T) {
	fs := frames(t, demo.UnknownQR, 1)
	src, err := camera.NewReplayFrames(fs, camera.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC))
	rec := &recorder{clk: clk}
	var logs bytes.Buffer
	rules := policy.DefaultRules()
	rules.Stale = checkpoint.Red
	s := &checkpoint.Scanner{
		Source: src, Decoder: decode.New(decode.Options{}), Parser: &credential.Parser{},
		Judge:     &policy.Judge{Rules: rules, Stale: func(time.Time) bool { return true }},
		Indicator: rec, Clock: clk, StallTimeout: time.Hour, Observers: []checkpoint.Observer{rec},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `reasons="` + policy.ReasonNoCache + "; " + policy.ReasonStale + `"`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log %q lacks %s", logs.String(), want)
	}
}

// TestScannerSubmit: text inputs take the frame loop's path from the
// parser on: a scanner's code repeated within the cooldown gives one
// verdict, a typed code one verdict each time it is entered, with its own
// format and reason; without a camera the scanner runs until cancelled,
// ready and never stalled.
func TestScannerSubmit(t *testing.T) {
	clk := clocktest.New(time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC))
	rec := &recorder{clk: clk}
	beats := atomic.Int64{}
	s := &checkpoint.Scanner{
		Parser: &credential.Parser{}, Judge: &policy.Judge{Rules: policy.DefaultRules()}, Indicator: rec, Clock: clk,
		StallTimeout: 200 * time.Millisecond, Heartbeat: func() { beats.Add(1) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	scanned := checkpoint.Symbol{Text: demo.GreenQR, Input: checkpoint.InputScanner}
	if _, ok := s.Submit(ctx, scanned); !ok {
		t.Fatal("first scan gave no verdict")
	}
	if _, ok := s.Submit(ctx, scanned); ok {
		t.Error("a scan repeated within the cooldown gave a verdict")
	}
	typed := checkpoint.Symbol{Text: "4821 3390", Input: checkpoint.InputTyped}
	for i := range 2 {
		e, ok := s.Submit(ctx, typed)
		if !ok || e.Verdict.Format != checkpoint.FormatCode || e.Verdict.Reasons[0] != policy.ReasonTyped {
			t.Fatalf("typed code %d: %v %+v", i, ok, e.Verdict)
		}
	}
	time.Sleep(600 * time.Millisecond) // past the stall timeout, on the real monitor ticker
	if st := s.Stats(); st.Idle != checkpoint.IdleReady || st.Faults != 0 || st.Verdicts[checkpoint.Yellow] != 3 {
		t.Errorf("stats %+v: want ready, no stall, 3 yellow verdicts", st)
	}
	if beats.Load() == 0 {
		t.Error("no heartbeat without a camera")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
