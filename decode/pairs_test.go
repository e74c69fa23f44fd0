package decode

import (
	"context"
	"testing"

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
			f := codeFrame(mods, drawing{turn: turn, squash: 1, hide: true, hx: hidden.mx, hy: hidden.my})
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
