package camera

import (
	"context"
	"errors"
	"sync"
	"time"

	"checkpoint"
)

// ErrClosed is returned by Next once a source has been closed.
var ErrClosed = errors.New("camera: source closed")

// Mailbox is a one-slot latest-frame mailbox between one producer (a capture
// goroutine) and one consumer (the scanner loop). It owns three frame
// buffers: the producer fills one, one holds the newest unread frame, and the
// consumer reads the third, so neither side ever waits for the other and the
// steady state allocates nothing. When the consumer is slower than the
// producer, the older unread frame is overwritten and counted as dropped.
type Mailbox struct {
	mu     sync.Mutex
	bufs   [3]checkpoint.Frame
	write  int  // index the producer fills
	ready  int  // index of the newest published frame
	read   int  // index the consumer holds
	fresh  bool // bufs[ready] has not been taken yet
	err    error
	notify chan struct{}

	seq     uint64
	dropped uint64
	last    time.Time
	width   int
	height  int
	fps     rate
}

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox {
	return &Mailbox{write: 0, ready: 1, read: 2, notify: make(chan struct{}, 1)}
}

// Buffer returns the frame the producer fills next, sized for a plane of
// height rows of stride bytes. Its Y slice is reused from earlier frames; it
// is only reallocated when a larger plane is needed. Only the producer may
// call Buffer and Publish.
func (m *Mailbox) Buffer(width, height, stride int) *checkpoint.Frame {
	m.mu.Lock()
	f := &m.bufs[m.write]
	m.mu.Unlock()
	n := stride * height
	if cap(f.Y) < n {
		f.Y = make([]byte, n)
	}
	f.Y = f.Y[:n]
	f.Width, f.Height, f.Stride = width, height, stride
	return f
}

// Slot returns the frame the producer fills next without sizing it, for a
// producer that points Y at a plane it owns.
func (m *Mailbox) Slot() *checkpoint.Frame {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &m.bufs[m.write]
}

// Publish makes the buffer last returned by Buffer (or filled in place with
// a borrowed Y plane) the newest frame, captured at t, and wakes the
// consumer. An unread older frame is dropped.
func (m *Mailbox) Publish(t time.Time) {
	m.mu.Lock()
	m.seq++
	f := &m.bufs[m.write]
	f.Seq = m.seq
	f.Time = t
	m.write, m.ready = m.ready, m.write
	if m.fresh {
		m.dropped++
	}
	m.fresh = true
	m.last = t
	m.width, m.height = f.Width, f.Height
	m.fps.add(t)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Next waits for a frame newer than the last one taken and returns it. The
// frame stays valid until the following call to Next. After CloseWith, Next
// still returns a frame that was published before, then the error.
func (m *Mailbox) Next(ctx context.Context) (*checkpoint.Frame, error) {
	for {
		m.mu.Lock()
		if m.fresh {
			m.read, m.ready = m.ready, m.read
			m.fresh = false
			f := &m.bufs[m.read]
			m.mu.Unlock()
			return f, nil
		}
		err := m.err
		m.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-m.notify:
		}
	}
}

// CloseWith ends the mailbox: once the pending frame (if any) is taken, Next
// returns err. The first error wins.
func (m *Mailbox) CloseWith(err error) {
	m.mu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Stats returns the mailbox's counters (Restarts is left to the source).
func (m *Mailbox) Stats() checkpoint.SourceStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return checkpoint.SourceStats{
		Frames:    m.seq,
		Dropped:   m.dropped,
		LastFrame: m.last,
		Width:     m.width,
		Height:    m.height,
		FPS:       m.fps.value(),
	}
}

// rate measures frames per second over windows of about a second.
type rate struct {
	start time.Time
	n     int
	fps   float64
}

func (r *rate) add(t time.Time) {
	if r.start.IsZero() || t.Before(r.start) {
		r.start, r.n = t, 0
		return
	}
	r.n++
	if d := t.Sub(r.start); d >= time.Second {
		r.fps = float64(r.n) / d.Seconds()
		r.start, r.n = t, 0
	}
}

func (r *rate) value() float64 { return r.fps }
