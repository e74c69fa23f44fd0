package notify

import (
	"checkpoint/clocktest"
	"context"
	"slices"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/notify/notifytest"
)

// stallSource holds its first frame until released, hands out frames more,
// advancing the clock by step before each, then stalls until ctx is done.
type stallSource struct {
	frames  int
	clock   *clocktest.Clock
	step    time.Duration
	waiting chan struct{} // closed when the first Next is waiting
	release chan struct{} // close to let the first frame through
	stalled chan struct{} // closed when the source stalls
	served  int
	frame   checkpoint.Frame
}

var _ checkpoint.Source = (*stallSource)(nil)

func (s *stallSource) Next(ctx context.Context) (*checkpoint.Frame, error) {
	if s.served == 0 {
		close(s.waiting)
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.served == s.frames {
		close(s.stalled)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s.served++
	s.clock.Add(s.step)
	s.frame.Seq = uint64(s.served)
	s.frame.Time = time.Now()
	return &s.frame, nil
}

func (s *stallSource) Stats() checkpoint.SourceStats { return checkpoint.SourceStats{} }
func (s *stallSource) Close() error                  { return nil }

type noCodes struct{}

func (noCodes) Decode(context.Context, *checkpoint.Frame) ([]checkpoint.Symbol, error) {
	return nil, nil
}
func (noCodes) Parse(string) checkpoint.Credential { return checkpoint.Credential{} }
func (noCodes) Judge(context.Context, checkpoint.Credential, time.Time) checkpoint.Verdict {
	return checkpoint.Verdict{}
}
func (noCodes) Show(checkpoint.Color)    {}
func (noCodes) Idle(checkpoint.IdleMode) {}

// TestScannerWatchdog wires a Notifier into the Scanner's hooks as the daemon
// does: READY=1 comes only after the first frame, each frame may ping the
// watchdog, and the pings stop when the camera stalls.
func TestScannerWatchdog(t *testing.T) {
	sock := notifytest.Listen(t)
	systemdEnv(t, sock.Path, 10*time.Second)
	clk := clocktest.New(time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC))
	n := New(nil)
	n.clock = clk

	const frames = 6
	src := &stallSource{
		frames: frames, clock: clk, step: 5 * time.Second, // one ping per frame
		waiting: make(chan struct{}), release: make(chan struct{}), stalled: make(chan struct{}),
	}
	s := &checkpoint.Scanner{
		Source: src, Decoder: noCodes{}, Parser: noCodes{}, Judge: noCodes{}, Indicator: noCodes{},
		StallTimeout: time.Hour,
		FirstFrame:   func() { _ = n.Ready() },
		Heartbeat:    n.Heartbeat,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	<-src.waiting
	if got := pending(t, sock); len(got) != 0 {
		t.Fatalf("sent %q before the first frame, want nothing", got)
	}
	close(src.release)
	<-src.stalled
	want := []string{"WATCHDOG=1", "READY=1"}
	for i := 1; i < frames; i++ {
		want = append(want, "WATCHDOG=1")
	}
	if got := pending(t, sock); !slices.Equal(got, want) {
		t.Fatalf("while frames flowed: sent %q, want %q", got, want)
	}

	// The camera is stalled: time passes, the loop sees no frame, no ping.
	clk.Add(time.Minute)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the cleanup
	if got := pending(t, sock); len(got) != 0 {
		t.Errorf("sent %q while the camera stalled, want nothing", got)
	}
	if p := n.Pings(); p != frames {
		t.Errorf("Pings() = %d, want %d", p, frames)
	}
}
