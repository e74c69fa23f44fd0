package decode

import (
	"context"
	"errors"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/decode/corpus"
)

// FuzzDecode feeds arbitrary planes to the decoder: it must never panic,
// and fail only on frames whose buffer does not hold their rows.
func FuzzDecode(f *testing.F) {
	for _, cat := range []corpus.Category{corpus.Clean, corpus.PerspectiveStrong, corpus.Inverted, corpus.Several} {
		c, err := corpus.Render(1, cat, 160, 120, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(160), uint16(120), uint8(0), c.Frame.Y)
	}
	f.Add(uint16(50), uint16(40), uint8(3), make([]byte, 43*40))
	f.Add(uint16(7), uint16(3), uint8(0), []byte("0123456789abcdefghij"))
	// A budget keeps each run short, as the daemon's does; every path
	// still runs its first attempt.
	d := New(Options{Budget: 5 * time.Millisecond})
	f.Fuzz(func(t *testing.T, w, h uint16, pad uint8, pix []byte) {
		width, height := int(w%256), int(h%256)
		stride := width + int(pad%70)
		fr := &checkpoint.Frame{Seq: uint64(len(pix)), Width: width, Height: height, Stride: stride, Y: pix}
		syms, err := d.Decode(context.Background(), fr)
		if err != nil && !errors.Is(err, ErrBadFrame) {
			t.Fatalf("%dx%d stride %d, %d bytes: %v", width, height, stride, len(pix), err)
		}
		bad := width <= 0 || height <= 0 || len(pix) < stride*(height-1)+width
		if bad != (err != nil) {
			t.Fatalf("%dx%d stride %d, %d bytes: error %v", width, height, stride, len(pix), err)
		}
		for _, s := range syms {
			if len(s.Corners) != 4 {
				t.Fatalf("%d corners", len(s.Corners))
			}
		}
	})
}
