package decode

import (
	"context"
	"testing"

	"checkpoint"
	"checkpoint/decode/corpus"

	"github.com/skip2/go-qrcode"
)

// TestHiddenPattern reads codes one of whose finder patterns a saturated
// point of light covers, for each of the three, on a code turned a quarter
// and on one seen straight: only two patterns are found, and the third is
// where they put it.
func TestHiddenPattern(t *testing.T) {
	const text = "https://checkpoint.example/p/3F9K2Q"
	mods, err := corpus.Modules(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	n := len(mods)
	for _, turn := range []int{0, 1} {
		for _, hidden := range []struct {
			name   string
			mx, my float64 // the pattern's centre, in modules
		}{{"top-left", 3.5, 3.5}, {"top-right", float64(n) - 3.5, 3.5}, {"bottom-left", 3.5, float64(n) - 3.5}} {
			f := codeFrame(mods, turn, hidden.mx, hidden.my)
			syms, err := New(Options{}).Decode(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(syms) != 1 || syms[0].Text != text {
				t.Errorf("turned %d, %s pattern hidden: read %v, want the code", turn, hidden.name, syms)
			}
		}
	}
}

// codeFrame draws mods at 5 pixels a module (dark 50, light 190, quiet
// zone four modules) in a 320x320 frame, turned a quarter clockwise turn
// times, with a disc of saturated light 2.6 modules in radius over the
// module position (mx, my) of the unturned code.
func codeFrame(mods [][]bool, turn int, mx, my float64) *checkpoint.Frame {
	const size, px, quiet = 320, 5, 4
	n := len(mods)
	f := &checkpoint.Frame{Width: size, Height: size, Stride: size, Y: make([]byte, size*size)}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			u, v := (float64(x)+0.5)/px-quiet, (float64(y)+0.5)/px-quiet // pixel centres
			if turn == 1 { // the code's column u runs down the frame
				u, v = v, float64(n)-u
			}
			c := byte(190)
			if i, j := int(v), int(u); u >= 0 && v >= 0 && i < n && j < n && mods[i][j] {
				c = 50
			}
			if (u-mx)*(u-mx)+(v-my)*(v-my) < 2.6*2.6 {
				c = 255
			}
			f.Y[y*size+x] = c
		}
	}
	return f
}
