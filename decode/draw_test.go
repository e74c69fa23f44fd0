package decode

import (
	"context"
	"math"
	"testing"

	"checkpoint"
	"checkpoint/decode/corpus"

	"github.com/skip2/go-qrcode"
)

// drawnModules is the code of text at error-correction level lvl.
func drawnModules(t *testing.T, text string, lvl qrcode.RecoveryLevel) [][]bool {
	t.Helper()
	mods, err := corpus.Modules(text, lvl)
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

// readDrawn decodes f with d and reports whether it read text alone.
func readDrawn(t *testing.T, d *Decoder, f *checkpoint.Frame, text string) ([]checkpoint.Symbol, bool) {
	t.Helper()
	syms, err := d.Decode(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return syms, len(syms) == 1 && syms[0].Text == text
}

// drawing is how codeFrame draws a code.
type drawing struct {
	turn   int     // quarter turns clockwise
	squash float64 // the code's height over its width on the frame (a tilt)
	hide   bool    // a disc of saturated light 2.6 modules in radius over
	hx, hy float64 // this module position of the unturned code
}

// codeFrame draws mods five pixels a module wide (dark 50, light 190,
// quiet zone four modules) in a frame 320 pixels wide and at least as
// tall.
func codeFrame(mods [][]bool, d drawing) *checkpoint.Frame {
	const size, px, quiet = 320, 5, 4
	n := len(mods)
	h := max(size, int(math.Ceil(float64(n+2*quiet)*px*d.squash)))
	f := &checkpoint.Frame{Width: size, Height: h, Stride: size, Y: make([]byte, size*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < size; x++ {
			u, v := (float64(x)+0.5)/px-quiet, (float64(y)+0.5)/(px*d.squash)-quiet // pixel centres
			if d.turn == 1 {                                                        // the code's column u runs down the frame
				u, v = v, float64(n)-u
			}
			c := byte(190)
			if i, j := int(v), int(u); u >= 0 && v >= 0 && i < n && j < n && mods[i][j] {
				c = 50
			}
			if d.hide && (u-d.hx)*(u-d.hx)+(v-d.hy)*(v-d.hy) < 2.6*2.6 {
				c = 255
			}
			f.Y[y*size+x] = c
		}
	}
	return f
}
