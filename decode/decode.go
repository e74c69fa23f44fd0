// Package decode finds and decodes QR codes in camera frames. It reads the
// frame's luminance plane in place (any stride, no per-frame image
// conversion) and returns every code's text and corner points.
//
// gozxing stays the decoder of the sampled module grid (format and version
// information, error correction, text); the steps before it are this
// package's own, because gozxing's detector reads too few of the codes a
// gate camera sees and takes too long over the frames that hold none.
// A frame goes through a chain of named steps (steps.go), cheapest first:
//
//   - region: where the last codes were, at their scale and polarity.
//   - quick look: the frame is halved (one pass); block thresholds are
//     estimated from the half and every third row of the frame itself is
//     scanned for finder-pattern runs (1:1:3:1:1) of either polarity, each
//     checked along its column; three hits that could be one code's finder
//     patterns are read at once. Most frames with a code end here.
//   - half, pyramid: the half is measured and scanned, then the quarter
//     and smaller levels (each the area average of the one above, down to
//     1/32), each with eight-pixel blocks of its own, so the threshold's
//     reach follows the scale: modules of 2 to 200 frame pixels are a few
//     pixels wide at one level, and averaging removes a screen's sub-pixel
//     grid. Below the half only finder hits of modules 2.5 pixels and more
//     count.
//   - nothing: no code-like hits anywhere ends the frame, having allocated
//     nothing. Otherwise the candidates are ordered: the level at which
//     their modules are nearest four pixels, the stronger polarity first.
//   - thresholds, whole plane, global, upscale: each candidate with
//     measured local thresholds (zxing's hybrid binarizer, its flat-block
//     rule softened for low contrast), over its whole level, with one
//     histogram threshold (glare, flat areas), and the regions enlarged 1.5
//     times (small modules).
//   - fallback: gozxing's own detector, on the level nearest 1 MP.
//
// Detection: finder patterns are confirmed along the row, column and both
// diagonals; triples are formed allowing strong perspective (every triple
// of up to 24 patterns, beyond that each pattern with its nearest
// neighbours, so a sheet of many codes is not cubic); each pattern's outer
// square is traced, a homography is fitted to the squares' corners for each
// plausible dimension, the dimension is settled by the best fit, the
// version information or the timing patterns (gozxing's estimate is ±2
// modules wrong at low pixels per module), alignment patterns refine the
// fit, and the grid is sampled; where error correction fails, each module
// is sampled again by the majority of five points, then at shifted centres.
//
// A per-frame time budget skips the remaining steps; a Pipeline decodes a
// source's frames on several workers, in frame order.
package decode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"checkpoint"
)

var _ checkpoint.Decoder = (*Decoder)(nil)

// Options tune a Decoder. The zero value is usable.
type Options struct {
	// Workers is how many frames a Pipeline decodes at once (config
	// decode.workers); 0 means 1.
	Workers int
	// Budget is the time one frame may take (config decode.budget): once
	// it is spent, the remaining attempts are skipped (the first always
	// runs). 0 means no limit.
	Budget time.Duration
}

// Decoder decodes QR codes from frames. It is safe for concurrent use: each
// call to Decode takes its own scratch state from a free list, so a Decoder
// used from one goroutine reuses the same buffers frame after frame.
//
// A Decoder remembers where it last found codes: in the frames that follow
// (a higher Seq, at most roiFrames later) it looks there first, and still
// looks for others elsewhere. Each of its workers also remembers a region
// that looked like a code but held none, and skips it while the picture
// there stays the same (at most memoFrames frames). Reset forgets both.
type Decoder struct {
	opts  Options
	trace func(w *worker, step string) // tests: called as each step of the chain starts

	mu   sync.Mutex
	free []*worker
	last roi

	frames, codes, roiHits, quick atomic.Uint64
}

// Reset forgets where the last codes were and which parts of the picture
// held something code-like but no code: for a source that starts showing
// an unrelated scene.
func (d *Decoder) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = roi{}
	for _, w := range d.free {
		w.memo = memo{}
	}
}

// Stats are a Decoder's counters.
type Stats struct {
	Frames  uint64 // frames decoded
	Codes   uint64 // codes found
	ROIHits uint64 // frames whose codes were found where the last code was
	Quick   uint64 // frames the quick look found nothing like a code in
}

// Stats returns the Decoder's counters.
func (d *Decoder) Stats() Stats {
	return Stats{Frames: d.frames.Load(), Codes: d.codes.Load(), ROIHits: d.roiHits.Load(), Quick: d.quick.Load()}
}

// roiFrames is how many frames after a code was seen its region is tried
// first.
const roiFrames = 15

// roi is where the last code was found: the region in frame pixels, the
// pyramid level and the polarity that found it.
type roi struct {
	ok     bool
	seq    uint64
	r      rect
	level  int
	invert bool
}

// New returns a Decoder with the given options.
func New(opts Options) *Decoder {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	return &Decoder{opts: opts}
}

// ErrBadFrame is wrapped by the error Decode returns for a frame whose
// dimensions do not match its buffer.
var ErrBadFrame = errors.New("bad frame")

// Decode finds and decodes every QR code in f. A frame without a code gives
// nil, nil; an error means the frame itself is unusable or ctx is done.
// Every step of the chain and every long loop in one checks ctx, so a
// cancelled decode returns within a step's inner iteration (the fallback,
// gozxing's detector, runs only on bounded input).
func (d *Decoder) Decode(ctx context.Context, f *checkpoint.Frame) ([]checkpoint.Symbol, error) {
	if err := checkFrame(f); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := d.get()
	defer d.put(w)
	d.mu.Lock()
	hint := d.last
	if f.Seq < hint.seq {
		d.last = roi{} // the source started again
	}
	d.mu.Unlock()
	if !hint.ok || f.Seq <= hint.seq || f.Seq-hint.seq > roiFrames {
		hint = roi{}
	}
	syms, found := w.decode(ctx, f, hint)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("decode frame %d: %w", f.Seq, err)
	}
	d.frames.Add(1)
	d.codes.Add(uint64(len(syms)))
	if w.roiHit {
		d.roiHits.Add(1)
	}
	if w.quick {
		d.quick.Add(1)
	}
	if found.ok {
		d.mu.Lock()
		if f.Seq >= d.last.seq {
			found.seq = f.Seq
			d.last = found
		}
		d.mu.Unlock()
	}
	return syms, nil
}

// checkFrame reports whether f's buffer holds its declared rows.
func checkFrame(f *checkpoint.Frame) error {
	switch {
	case f == nil:
		return fmt.Errorf("decode: %w: nil frame", ErrBadFrame)
	case f.Width <= 0 || f.Height <= 0:
		return fmt.Errorf("decode frame %d: %w: size %dx%d", f.Seq, ErrBadFrame, f.Width, f.Height)
	case f.Stride < f.Width:
		return fmt.Errorf("decode frame %d: %w: stride %d < width %d", f.Seq, ErrBadFrame, f.Stride, f.Width)
	case len(f.Y) < f.Stride*(f.Height-1)+f.Width:
		return fmt.Errorf("decode frame %d: %w: %d bytes for %dx%d stride %d",
			f.Seq, ErrBadFrame, len(f.Y), f.Width, f.Height, f.Stride)
	}
	return nil
}

func (d *Decoder) get() *worker {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.free); n > 0 {
		w := d.free[n-1]
		d.free = d.free[:n-1]
		return w
	}
	w := newWorker(d.opts)
	w.trace = d.trace
	return w
}

func (d *Decoder) put(w *worker) {
	d.mu.Lock()
	d.free = append(d.free, w)
	d.mu.Unlock()
}
