package camera

import (
	"context"
	"fmt"
	"sync"
	"time"

	"checkpoint"
)

// DefaultTriggerWindow is how long a triggered camera runs after a press.
const DefaultTriggerWindow = 5 * time.Second

// Triggered runs a camera only for a window after each press, for
// handhelds on a battery: between windows the source is closed (rpicam-vid
// is not running, a USB camera is released) and Next waits for the next
// press. The first verdict ends the window: add the Triggered to the
// Scanner's observers.
type Triggered struct {
	checkpoint.NopObserver
	open   func() (checkpoint.Source, error)
	window time.Duration
	pulse  chan struct{} // a press

	mu      sync.Mutex
	until   time.Time         // end of the window; zero: none
	src     checkpoint.Source // open during a window
	wctx    context.Context   // ends with the window
	wcancel context.CancelFunc
	timer   *time.Timer // ends the window at until
	last    checkpoint.SourceStats
	closed  bool
}

var _ checkpoint.Source = (*Triggered)(nil)

// NewTriggered returns a camera that open starts on each press and that
// runs for window (DefaultTriggerWindow when zero).
func NewTriggered(open func() (checkpoint.Source, error), window time.Duration) *Triggered {
	if window <= 0 {
		window = DefaultTriggerWindow
	}
	return &Triggered{open: open, window: window, pulse: make(chan struct{}, 1)}
}

// Trigger starts a window, or restarts the running one.
func (t *Triggered) Trigger() {
	t.mu.Lock()
	t.until = time.Now().Add(t.window)
	if t.timer != nil {
		t.timer.Reset(t.window)
	}
	t.mu.Unlock()
	select {
	case t.pulse <- struct{}{}:
	default:
	}
}

// Verdict ends the window: the first verdict is what the press was for.
func (t *Triggered) Verdict(checkpoint.Event) { t.end(true) }

// end ends the window when it is over (or at once when now is set).
func (t *Triggered) end(now bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if left := time.Until(t.until); !now && left > 0 {
		if t.timer != nil {
			t.timer.Reset(left)
		}
		return
	}
	t.until = time.Time{}
	if t.wcancel != nil {
		t.wcancel()
	}
}

// Paused reports whether the camera is stopped between windows.
func (t *Triggered) Paused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.until.IsZero() || !time.Now().Before(t.until)
}

// Next returns a frame of the running window; between windows it waits
// for a press, with the camera stopped.
func (t *Triggered) Next(ctx context.Context) (*checkpoint.Frame, error) {
	for {
		src, wctx, err := t.current()
		if err != nil {
			return nil, err
		}
		if src == nil {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.pulse:
			}
			continue
		}
		nctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(wctx, cancel)
		f, err := src.Next(nctx)
		stop()
		cancel()
		switch {
		case err == nil:
			return f, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case wctx.Err() == nil:
			t.end(true)
			return nil, fmt.Errorf("triggered camera: %w", err)
		}
	}
}

// current opens the camera when a window runs and closes it when none
// does; it returns the open source and the window's context.
func (t *Triggered) current() (checkpoint.Source, context.Context, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, nil, fmt.Errorf("triggered camera: closed")
	}
	running := !t.until.IsZero() && time.Now().Before(t.until)
	switch {
	case running && t.src == nil:
		src, err := t.open()
		if err != nil {
			t.until = time.Time{}
			return nil, nil, fmt.Errorf("triggered camera: start: %w", err)
		}
		t.src = src
		t.wctx, t.wcancel = context.WithCancel(context.Background())
		t.timer = time.AfterFunc(time.Until(t.until), func() { t.end(false) })
	case running && t.wctx.Err() != nil:
		// Pressed again after the window's end, before the camera stopped.
		t.wctx, t.wcancel = context.WithCancel(context.Background())
		t.timer.Reset(time.Until(t.until))
	case !running && t.src != nil:
		t.closeSource()
	}
	return t.src, t.wctx, nil
}

// closeSource closes the running camera, keeping its counters; t.mu held.
func (t *Triggered) closeSource() {
	if t.src == nil {
		return
	}
	t.timer.Stop()
	t.wcancel()
	st := t.src.Stats()
	t.src.Close()
	t.src, t.timer = nil, nil
	t.last = addStats(st, t.last)
	t.last.FPS = 0
}

// addStats adds the counters of earlier windows to a source's.
func addStats(st, earlier checkpoint.SourceStats) checkpoint.SourceStats {
	st.Frames += earlier.Frames
	st.Dropped += earlier.Dropped
	st.Restarts += earlier.Restarts
	if st.LastFrame.IsZero() {
		st.LastFrame = earlier.LastFrame
	}
	return st
}

// Stats reports the counters of every window so far.
func (t *Triggered) Stats() checkpoint.SourceStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src == nil {
		return t.last
	}
	return addStats(t.src.Stats(), t.last)
}

// Close stops the camera.
func (t *Triggered) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.closeSource()
	return nil
}
