// Package reader turns inputs that deliver text, not frames, into
// checkpoint.Symbols: a hardware barcode scanner on a serial line (USB
// CDC-ACM, one code a line), a keyboard-wedge scanner or a numeric keypad
// on an evdev input device (grabbed exclusively, US layout). The symbols
// enter the Scanner after the decoder (checkpoint.Scanner.Submit), so parse,
// cooldown, policy and signalling stay one path.
//
// A device that is missing, unplugged or failing is opened again every
// Options.Retry (backing off to a few seconds) until the context ends: a
// scanner plugged back in is picked up by itself.
package reader

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"checkpoint"
	"checkpoint/credential"
	"checkpoint/internal/backoff"
)

// DefaultRetry is the first wait before a missing device is opened again.
const DefaultRetry = 500 * time.Millisecond

// maxRetry caps the wait between attempts to open a missing device.
const maxRetry = 5 * time.Second

// MaxLine is the longest code a line may carry; longer lines are dropped
// whole (credential.MaxPayload).
const MaxLine = credential.MaxPayload

// Submit takes one code (checkpoint.Scanner.Submit fits).
type Submit func(ctx context.Context, sym checkpoint.Symbol) (checkpoint.Event, bool)

// Options configure a Reader.
type Options struct {
	// Device is the device's path: a serial port (/dev/ttyACM0,
	// /dev/serial/by-id/…) or an evdev keyboard (/dev/input/…).
	Device string
	// Keyboard reads Device as an evdev keyboard; else it is a serial port.
	Keyboard bool
	// Baud is the serial line's rate (DefaultBaud when zero; CDC-ACM
	// devices ignore it).
	Baud int
	// Input is what the lines are: InputScanner (payloads, the default) or
	// InputTyped (codes typed on a keypad).
	Input checkpoint.Input
	// Empty, when set, is called for an empty line: Enter pressed on a
	// keypad with nothing typed (the camera trigger).
	Empty func()
	// Retry is the first wait before the device is opened again
	// (DefaultRetry when zero).
	Retry  time.Duration
	Logger *slog.Logger
}

// Reader reads one device.
type Reader struct {
	opts  Options
	open  func() (lineSource, error)
	stats struct{ lines, dropped, opens atomic.Uint64 }
}

// lineSource yields the lines of one opened device.
type lineSource interface {
	// Next returns the next line, or an error when the device went away
	// or was closed.
	Next(ctx context.Context) (string, error)
	// Close closes the device; safe to call concurrently with Next, and
	// more than once.
	Close() error
}

// Stats are a reader's counters.
type Stats struct {
	Lines   uint64 // lines submitted
	Dropped uint64 // lines too long, or keys without a US-layout character
	Opens   uint64 // times the device was opened
}

// New returns a reader of opts.Device.
func New(opts Options) *Reader {
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Input == checkpoint.InputCamera {
		opts.Input = checkpoint.InputScanner
	}
	r := &Reader{opts: opts}
	if opts.Keyboard {
		r.open = func() (lineSource, error) { return openKeyboard(opts.Device, &r.stats.dropped) }
	} else {
		r.open = func() (lineSource, error) { return openSerial(opts.Device, opts.Baud, &r.stats.dropped) }
	}
	return r
}

// Stats returns the counters.
func (r *Reader) Stats() Stats {
	return Stats{Lines: r.stats.lines.Load(), Dropped: r.stats.dropped.Load(), Opens: r.stats.opens.Load()}
}

// Run reads lines and submits each until ctx is done, opening the device
// again whenever it cannot be opened or goes away. It returns nil when ctx
// ends.
func (r *Reader) Run(ctx context.Context, submit Submit) error {
	log := r.opts.Logger.With("device", r.opts.Device)
	failures := 0
	for ctx.Err() == nil {
		src, err := r.open()
		if err != nil {
			failures++
			if failures == 1 {
				log.Warn("input device not available; trying again until it is", "err", err)
			}
			if !backoff.Wait(ctx, backoff.Jitter(backoff.Exponential(r.opts.Retry, maxRetry, failures))) {
				break
			}
			continue
		}
		r.stats.opens.Add(1)
		log.Info("input device open", "input", r.opts.Input.String(), "after_failures", failures)
		failures = 0
		err = r.read(ctx, src, submit)
		src.Close()
		if ctx.Err() != nil {
			break
		}
		log.Warn("input device went away; waiting for it", "err", err)
		failures = 1
		if !backoff.Wait(ctx, r.opts.Retry) {
			break
		}
	}
	return nil
}

// read submits the lines of an opened device until it fails or ctx ends
// (which closes it, ending a read that waits).
func (r *Reader) read(ctx context.Context, src lineSource, submit Submit) error {
	stop := context.AfterFunc(ctx, func() { src.Close() })
	defer stop()
	for {
		line, err := src.Next(ctx)
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			if r.opts.Empty != nil {
				r.opts.Empty()
			}
			continue
		}
		r.stats.lines.Add(1)
		submit(ctx, checkpoint.Symbol{Text: line, Input: r.opts.Input})
	}
}

// errLong marks a line longer than MaxLine, dropped.
var errLong = fmt.Errorf("line longer than %d bytes", MaxLine)

// lines splits a byte stream into lines ended by CR, LF or CR LF; a line
// longer than MaxLine is dropped whole (up to its end).
type lines struct {
	buf     []byte
	skip    bool // dropping the rest of a long line
	lastCR  bool // the last byte was CR: a LF right after it ends nothing
	dropped *atomic.Uint64
}

// feed adds bytes and returns the lines they complete.
func (l *lines) feed(p []byte, out []string) []string {
	for _, b := range p {
		if b == '\n' && l.lastCR {
			l.lastCR = false
			continue
		}
		l.lastCR = b == '\r'
		if b == '\r' || b == '\n' {
			if !l.skip {
				out = append(out, string(l.buf))
			}
			l.buf, l.skip = l.buf[:0], false
			continue
		}
		if l.skip {
			continue
		}
		if len(l.buf) >= MaxLine {
			l.skip, l.buf = true, l.buf[:0]
			if l.dropped != nil {
				l.dropped.Add(1)
			}
			continue
		}
		l.buf = append(l.buf, b)
	}
	return out
}
