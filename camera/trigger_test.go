package camera

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"checkpoint"
)

// countingOpen opens replays of one frame forever and counts the opens and
// the sources still open.
type countingOpen struct {
	opens, open atomic.Int64
}

type closeCounter struct {
	*Replay
	c *countingOpen
}

func (s closeCounter) Close() error { s.c.open.Add(-1); return s.Replay.Close() }

func (c *countingOpen) source() (checkpoint.Source, error) {
	f := &checkpoint.Frame{Width: 16, Height: 16, Stride: 16, Y: make([]byte, 256)}
	r, err := NewReplayFrames([]*checkpoint.Frame{f}, ReplayOptions{FPS: 200, Loop: true})
	if err != nil {
		return nil, err
	}
	c.opens.Add(1)
	c.open.Add(1)
	return closeCounter{r, c}, nil
}

// TestTriggered: no camera runs before a press; a press runs it for the
// window, a verdict ends the window at once, and the camera is closed
// between windows.
func TestTriggered(t *testing.T) {
	var c countingOpen
	tr := NewTriggered(c.source, 300*time.Millisecond)
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Before a press Next waits, and nothing was opened.
	short, scancel := context.WithTimeout(ctx, 100*time.Millisecond)
	if _, err := tr.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next before a press: %v", err)
	}
	scancel()
	if c.opens.Load() != 0 || !tr.Paused() {
		t.Fatalf("opened %d times before a press (paused %v)", c.opens.Load(), tr.Paused())
	}

	// A press: frames flow until the window ends.
	tr.Trigger()
	if tr.Paused() {
		t.Fatal("paused during the window")
	}
	frames := 0
	start := time.Now()
	for time.Since(start) < 200*time.Millisecond {
		if _, err := tr.Next(ctx); err != nil {
			t.Fatal(err)
		}
		frames++
	}
	if frames == 0 || c.opens.Load() != 1 {
		t.Fatalf("%d frames, %d opens in the window", frames, c.opens.Load())
	}

	// The verdict ends the window: the next Next closes the camera and waits.
	tr.Verdict(checkpoint.Event{})
	short, scancel = context.WithTimeout(ctx, 100*time.Millisecond)
	defer scancel()
	if _, err := tr.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next after the verdict: %v", err)
	}
	if c.open.Load() != 0 || !tr.Paused() {
		t.Fatalf("%d cameras open after the verdict", c.open.Load())
	}

	// Another press, left to time out.
	tr.Trigger()
	if _, err := tr.Next(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !tr.Paused() {
		if time.Now().After(deadline) {
			t.Fatal("window never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	short2, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := tr.Next(short2); err == nil {
		// a frame already in flight at the end is fine; the next waits
		if _, err := tr.Next(short2); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next after the window: %v", err)
		}
	}
	if c.open.Load() != 0 || c.opens.Load() != 2 || tr.Stats().Frames == 0 {
		t.Fatalf("after the window: %d open, %d opens, stats %+v", c.open.Load(), c.opens.Load(), tr.Stats())
	}
}
