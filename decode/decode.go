// Package decode finds and decodes QR codes in camera frames. It reads the
// frame's luminance plane in place through gozxing (no per-frame image
// conversion) and returns every code's text and corner points.
package decode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/detector"

	"checkpoint"
)

var _ checkpoint.Decoder = (*Decoder)(nil)

// Options tune a Decoder. The zero value is usable.
type Options struct {
	// Workers is how many frames Stream decodes at once (config
	// decode.workers); 0 means 1.
	Workers int
	// Budget is the time one frame may take (config decode.budget); once it
	// is spent, the remaining retries are skipped. 0 means no limit.
	Budget time.Duration
}

// Decoder decodes QR codes from frames. It is safe for concurrent use: each
// call to Decode takes its own scratch state from a free list, so a Decoder
// used from one goroutine reuses the same buffers frame after frame.
type Decoder struct {
	opts Options

	mu   sync.Mutex
	free []*worker
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
func (d *Decoder) Decode(ctx context.Context, f *checkpoint.Frame) ([]checkpoint.Symbol, error) {
	if err := checkFrame(f); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := d.get()
	defer d.put(w)
	return w.decode(ctx, f)
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
	return newWorker(d.opts)
}

func (d *Decoder) put(w *worker) {
	d.mu.Lock()
	d.free = append(d.free, w)
	d.mu.Unlock()
}

// worker is the scratch state of one decoding goroutine.
type worker struct {
	opts Options
	dec  *decoder.Decoder
}

func newWorker(opts Options) *worker {
	return &worker{opts: opts, dec: decoder.NewDecoder()}
}

var tryHarder = map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}

func (w *worker) decode(ctx context.Context, f *checkpoint.Frame) ([]checkpoint.Symbol, error) {
	src, err := gozxing.NewPlanarYUVLuminanceSource(f.Y, f.Stride, f.Height, 0, 0, f.Width, f.Height, false)
	if err != nil {
		return nil, fmt.Errorf("decode frame %d: luminance source: %w", f.Seq, err)
	}
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		return nil, fmt.Errorf("decode frame %d: %w", f.Seq, err)
	}
	m, err := bmp.GetBlackMatrix()
	if err != nil {
		return nil, nil // too little contrast to binarize: no code
	}
	var out []checkpoint.Symbol
	if drs, err := multidetector.NewMultiDetector(m).DetectMulti(tryHarder); err == nil {
		for _, dr := range drs {
			out = w.add(out, dr)
		}
	}
	if len(out) == 0 {
		if dr, err := detector.NewDetector(m).Detect(tryHarder); err == nil {
			out = w.add(out, dr)
		}
	}
	return out, nil
}

// add decodes a detector result and appends its symbol unless its text is
// already in out.
func (w *worker) add(out []checkpoint.Symbol, dr *common.DetectorResult) []checkpoint.Symbol {
	res, err := w.dec.Decode(dr.GetBits(), nil)
	if err != nil {
		return out
	}
	text := res.GetText()
	for _, s := range out {
		if s.Text == text {
			return out
		}
	}
	mirrored := false
	if md, ok := res.GetOther().(*decoder.QRCodeDecoderMetaData); ok {
		mirrored = md.IsMirrored()
	}
	return append(out, checkpoint.Symbol{Text: text, Corners: corners(dr, mirrored)})
}

// corners maps the symbol's outer corners into the image: top-left,
// top-right, bottom-right, bottom-left (clockwise on screen).
func corners(dr *common.DetectorResult, mirrored bool) []checkpoint.Point {
	pts := dr.GetPoints()
	if len(pts) < 3 {
		return nil
	}
	bl, tl, tr := pts[0], pts[1], pts[2]
	var ap *detector.AlignmentPattern
	if len(pts) > 3 {
		ap, _ = pts[3].(*detector.AlignmentPattern)
	}
	dim := dr.GetBits().GetWidth()
	t := detector.Detector_createTransform(tl, tr, bl, ap, dim)
	d := float64(dim)
	xy := []float64{0, 0, d, 0, d, d, 0, d}
	if mirrored {
		xy = []float64{0, 0, 0, d, d, d, d, 0}
	}
	t.TransformPoints(xy)
	return []checkpoint.Point{{X: xy[0], Y: xy[1]}, {X: xy[2], Y: xy[3]}, {X: xy[4], Y: xy[5]}, {X: xy[6], Y: xy[7]}}
}
