package decode

import (
	"math/rand/v2"
	"testing"

	"github.com/skip2/go-qrcode"
)

// TestHiddenPattern reads codes one of whose finder patterns a saturated
// point of light covers, for each of the three, on a code turned a quarter
// and on one seen straight: only two patterns are found, and the third is
// where they put it.
func TestHiddenPattern(t *testing.T) {
	const text = "https://checkpoint.example/p/3F9K2Q"
	mods := drawnModules(t, text, qrcode.Medium)
	n := len(mods)
	for _, turn := range []int{0, 1} {
		for _, hidden := range []struct {
			name   string
			mx, my float64 // the pattern's centre, in modules
		}{{"top-left", 3.5, 3.5}, {"top-right", float64(n) - 3.5, 3.5}, {"bottom-left", 3.5, float64(n) - 3.5}} {
			f := codeFrame(mods, drawing{turn: turn, squash: 1, hide: true, hx: hidden.mx, hy: hidden.my})
			if syms, ok := readDrawn(t, New(Options{}), f, text); !ok {
				t.Errorf("turned %d, %s pattern hidden: read %v, want the code", turn, hidden.name, syms)
			}
		}
	}
}

// TestHiddenPatternNoise draws two finder patterns of a code whose other
// modules are noise, the third pattern hidden: the six places tried for it
// must read nothing, frame after frame.
func TestHiddenPatternNoise(t *testing.T) {
	mods := drawnModules(t, "https://checkpoint.example/p/3F9K2Q", qrcode.Medium)
	n := len(mods)
	rng := rand.New(rand.NewPCG(1, 2))
	d := New(Options{})
	var w0 *worker
	d.trace = func(w *worker, _ string) { w0 = w }
	for i := 0; i < 200; i++ {
		noisy := make([][]bool, n)
		for y := range noisy {
			noisy[y] = make([]bool, n)
			for x := range noisy[y] {
				if inPattern(x, y, n) {
					noisy[y][x] = mods[y][x]
				} else {
					noisy[y][x] = rng.IntN(2) == 0
				}
			}
		}
		f := codeFrame(noisy, drawing{squash: 1, hide: true, hx: float64(n) - 3.5, hy: 3.5})
		d.Reset()
		if syms, _ := readDrawn(t, d, f, ""); len(syms) > 0 {
			t.Errorf("frame %d: read %q from noise", i, syms[0].Text)
		}
	}
	if w0 == nil || w0.tries.Load() < 200 {
		t.Fatalf("finder triples tried: want the six places tried on every frame")
	}
	t.Logf("%d finder triples tried", w0.tries.Load())
}

// inPattern reports whether module (x, y) of a code n modules wide is in a
// finder pattern or its separator.
func inPattern(x, y, n int) bool {
	return (x < 8 && y < 8) || (x >= n-8 && y < 8) || (x < 8 && y >= n-8)
}
