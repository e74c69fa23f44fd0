package gpio_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"checkpoint"
	"checkpoint/gpio"
	"checkpoint/gpio/pintest"
)

// rig is a Signal over recorded gpiotest pins and a fake clock.
type rig struct {
	clk *pintest.Clock
	rec *pintest.Recorder
	sig *gpio.Signal
}

func newRig(t *testing.T, activeLow ...gpio.Output) *rig {
	t.Helper()
	clk := pintest.NewClock()
	rec := pintest.NewRecorder(clk)
	pins, err := gpio.NewPins(rec.Outputs(activeLow...))
	if err != nil {
		t.Fatal(err)
	}
	sig := gpio.New(pins, gpio.Options{Clock: clk})
	t.Cleanup(func() { sig.Close() })
	sig.Sync()
	rec.Reset()
	return &rig{clk, rec, sig}
}

func (r *rig) advance(d time.Duration) { r.clk.Advance(d, r.sig.Sync) }

func (r *rig) expect(t *testing.T, want ...string) {
	t.Helper()
	got := r.rec.Lines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transitions:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestVerdictPatterns(t *testing.T) {
	tests := []struct {
		color checkpoint.Color
		want  []string
	}{
		{checkpoint.Green, []string{
			"0s green High", "0s buzzer High", "0s relay High",
			"100ms buzzer Low", "1s relay Low", "1.5s green Low",
		}},
		{checkpoint.Yellow, []string{
			"0s yellow High", "0s buzzer High", "100ms buzzer Low",
			"250ms buzzer High", "350ms buzzer Low", "1.5s yellow Low",
		}},
		{checkpoint.Red, []string{
			"0s red High", "0s buzzer High", "600ms buzzer Low", "2s red Low",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.color.String(), func(t *testing.T) {
			r := newRig(t)
			r.sig.Show(tc.color)
			r.sig.Sync()
			r.advance(5 * time.Second)
			r.expect(t, tc.want...)
			if st := r.sig.State(); st != 0 {
				t.Fatalf("state after the pattern %s, want off", st)
			}
			if r.clk.Pending() != 0 {
				t.Fatalf("%d timers left after the pattern, want none (idle ready)", r.clk.Pending())
			}
		})
	}
}

func TestActiveLowInverts(t *testing.T) {
	clk := pintest.NewClock()
	rec := pintest.NewRecorder(clk)
	pins, err := gpio.NewPins(rec.Outputs(gpio.Relay, gpio.Buzzer))
	if err != nil {
		t.Fatal(err)
	}
	// Claiming drives active-low pins high (off) at once.
	want := []string{"0s buzzer High", "0s relay High"}
	if got := strings.Join(rec.Lines(), ","); got != strings.Join(want, ",") {
		t.Fatalf("claim: %s, want %s", got, want)
	}
	sig := gpio.New(pins, gpio.Options{Clock: clk})
	defer sig.Close()
	sig.Sync()
	rec.Reset()
	sig.Show(checkpoint.Green)
	sig.Sync()
	clk.Advance(2*time.Second, sig.Sync)
	want = []string{
		"0s green High", "0s buzzer Low", "0s relay Low",
		"100ms buzzer High", "1s relay High", "1.5s green Low",
	}
	if got := rec.Lines(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("active-low green:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewVerdictReplacesPattern(t *testing.T) {
	r := newRig(t)
	r.sig.Show(checkpoint.Green)
	r.sig.Sync()
	r.advance(500 * time.Millisecond)
	r.sig.Show(checkpoint.Red)
	r.sig.Sync()
	r.advance(5 * time.Second)
	r.expect(t,
		"0s green High", "0s buzzer High", "0s relay High",
		"100ms buzzer Low",
		// red replaces green at 500ms: green off, relay released at once
		"500ms green Low", "500ms relay Low", "500ms red High", "500ms buzzer High",
		"1.1s buzzer Low", "2.5s red Low",
	)
}

func TestIdleBlinksAndVerdictInterrupts(t *testing.T) {
	r := newRig(t)
	r.sig.Idle(checkpoint.IdleStale)
	r.sig.Sync()
	r.advance(3500 * time.Millisecond)
	r.sig.Show(checkpoint.Red)
	r.sig.Sync()
	r.advance(2 * time.Second) // red ends at 5.5s, stale blink restarts
	r.advance(1500 * time.Millisecond)
	r.sig.Idle(checkpoint.IdleFault)
	r.sig.Sync()
	r.advance(2500 * time.Millisecond)
	r.sig.Idle(checkpoint.IdleReady)
	r.sig.Sync()
	r.advance(5 * time.Second)
	r.expect(t,
		"0s yellow High", "1s yellow Low", "2s yellow High", "3s yellow Low",
		"3.5s red High", "3.5s buzzer High", "4.1s buzzer Low",
		"5.5s red Low", "5.5s yellow High", "6.5s yellow Low",
		"7s red High", "8s red Low", "9s red High", "9.5s red Low",
	)
}

func TestIdleChangeWaitsForVerdict(t *testing.T) {
	r := newRig(t)
	r.sig.Show(checkpoint.Green)
	r.sig.Idle(checkpoint.IdleFault) // after the verdict, not instead of it
	r.sig.Sync()
	r.advance(2 * time.Second)
	r.expect(t,
		"0s green High", "0s buzzer High", "0s relay High",
		"100ms buzzer Low", "1s relay Low", "1.5s green Low", "1.5s red High",
	)
	if p := r.sig.Playing(); p != "fault" {
		t.Fatalf("playing %q, want fault", p)
	}
}

func TestCloseDuringPatternLeavesOutputsSafe(t *testing.T) {
	for _, low := range [][]gpio.Output{nil, {gpio.Relay, gpio.Green}} {
		r := newRig(t, low...)
		r.sig.Show(checkpoint.Green)
		r.sig.Sync()
		r.advance(50 * time.Millisecond)
		if err := r.sig.Close(); err != nil {
			t.Fatal(err)
		}
		for o := gpio.Output(0); o < gpio.NumOutputs; o++ {
			want := pgpio.Low
			for _, l := range low {
				if l == o {
					want = pgpio.High
				}
			}
			if got := r.rec.Level(o.String()); got != want {
				t.Errorf("active-low %v: %s is %s after Close, want %s (off)", low, o, got, want)
			}
		}
		n := len(r.rec.Transitions())
		r.sig.Show(checkpoint.Red) // ignored after Close, never blocks
		r.clk.Advance(5*time.Second, nil)
		if got := len(r.rec.Transitions()); got != n {
			t.Fatalf("outputs changed after Close: %v", r.rec.Lines()[n:])
		}
		if err := r.sig.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// blockingOutputs never returns from Set until released.
type blockingOutputs struct{ release chan struct{} }

func (b blockingOutputs) Set(gpio.State) error { <-b.release; return nil }
func (b blockingOutputs) Close() error         { return nil }

func TestShowNeverBlocks(t *testing.T) {
	out := blockingOutputs{make(chan struct{})}
	sig := gpio.New(out, gpio.Options{Clock: pintest.NewClock()})
	// The player is stuck in Set; callers still return at once.
	for i := 0; i < 1000; i++ {
		sig.Show(checkpoint.Color(i % 3))
		sig.Idle(checkpoint.IdleMode(i % 3))
	}
	close(out.release)
	sig.Close()
}

func TestWaitReturnsWhenPatternEnds(t *testing.T) {
	r := newRig(t)
	r.sig.Show(checkpoint.Red)
	done := make(chan error)
	go func() { done <- r.sig.Wait(context.Background()) }()
	r.sig.Sync()
	select {
	case <-done:
		t.Fatal("Wait returned while red plays")
	default:
	}
	r.advance(2 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Nothing playing: Wait returns at once.
	if err := r.sig.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type failPin struct{ gpiotest.Pin }

func (p *failPin) Out(pgpio.Level) error { return errors.New("line busy") }

func TestPinErrorsNameThePin(t *testing.T) {
	_, err := gpio.NewPins([]gpio.Pin{
		{Output: gpio.Green, Name: "GPIO17", IO: &gpiotest.Pin{N: "GPIO17"}},
		{Output: gpio.Relay, Name: "GPIO24", IO: &failPin{}},
	})
	if err == nil || !strings.Contains(err.Error(), "relay") || !strings.Contains(err.Error(), "GPIO24") || !strings.Contains(err.Error(), "line busy") {
		t.Fatalf("error %v does not name the relay pin GPIO24 and the cause", err)
	}
	_, err = gpio.NewPins([]gpio.Pin{
		{Output: gpio.Green, Name: "GPIO17", IO: &gpiotest.Pin{}},
		{Output: gpio.Green, Name: "GPIO18", IO: &gpiotest.Pin{}},
	})
	if err == nil || !strings.Contains(err.Error(), "already has pin GPIO17") {
		t.Fatalf("two pins for one output: %v", err)
	}
}

func TestPatternsValidate(t *testing.T) {
	if err := gpio.DefaultPatterns().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := gpio.DefaultPatterns()
	bad.Green.Period = 2 * time.Second
	bad.Stale.Pulses = append(bad.Stale.Pulses, gpio.Pulse{Output: gpio.Red, At: 1500 * time.Millisecond, For: time.Second})
	bad.Red.Pulses = append(bad.Red.Pulses, gpio.Pulse{Output: gpio.Buzzer, At: 0, For: 0})
	err := bad.Validate()
	for _, want := range []string{"pattern green: a verdict pattern", "pattern stale: pulse 1 (red) ends after the period", "pattern red: pulse 2 (buzzer)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
}

// TestShowVerdictIdentity: a different person plays its own pattern (no
// relay), a same person the colour's with the note said on the terminal.
func TestShowVerdictIdentity(t *testing.T) {
	for _, tt := range []struct {
		v    checkpoint.Verdict
		line string
	}{
		{checkpoint.Verdict{Color: checkpoint.Red, Identity: checkpoint.IdentityDifferent}, "✗ DIFFERENT PERSON · KHÁC NGƯỜI  red 250ms"},
		{checkpoint.Verdict{Color: checkpoint.Green, Identity: checkpoint.IdentitySame}, "✓ GREEN · SAME PERSON · CÙNG NGƯỜI  green 1.5s"},
		{checkpoint.Verdict{Color: checkpoint.Yellow}, "! YELLOW  yellow 1.5s"},
	} {
		var b strings.Builder
		sig := gpio.New(gpio.NewTerminal(&b, false), gpio.Options{})
		sig.ShowVerdict(tt.v)
		sig.Wait(t.Context())
		sig.Close()
		if !strings.Contains(b.String(), tt.line) {
			t.Errorf("%+v: terminal says %q, want %q", tt.v, b.String(), tt.line)
		}
	}
	for _, u := range gpio.DefaultPatterns().Different.Pulses {
		if u.Output == gpio.Relay {
			t.Error("the different-person pattern opens the gate")
		}
	}
}
