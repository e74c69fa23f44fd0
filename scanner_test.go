package checkpoint_test

import (
	"checkpoint/clocktest"
	"context"
	"sync"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/camera"
	"checkpoint/credential"
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
