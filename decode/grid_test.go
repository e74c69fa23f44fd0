package decode

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"checkpoint"
	"checkpoint/decode/corpus"

	"github.com/skip2/go-qrcode"
)

// TestBentLargeCode reads large codes (versions 9, 15 and 20) on a page
// bowed by 2% of its side (two modules at the middle of the version 20),
// turned and tilted a little, modules three pixels wide, and a version 11
// bowed by 4%. One homography cannot follow such a grid: before the code
// was sampled cell by cell between its alignment patterns, eight of the
// first nine read nothing; the cells' corners do not follow the 4% bow
// within each cell, a quadratic through the grid's centres does.
func TestBentLargeCode(t *testing.T) {
	for _, tc := range []struct {
		n    int // characters of text
		bend float64
	}{{300, 0.02}, {700, 0.02}, {1200, 0.02}, {400, 0.04}} {
		text := strings.Repeat("HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE", tc.n/50+1)[:tc.n]
		mods := drawnModules(t, text, qrcode.Low)
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%d modules/%g/%d", len(mods), tc.bend, seed), func(t *testing.T) {
				f := bentFrame(mods, 3, tc.bend, rand.New(rand.NewPCG(seed, 9)))
				if syms, ok := readDrawn(t, New(Options{}), f, text); !ok {
					t.Errorf("read %d codes, want the one", len(syms))
				}
			})
		}
	}
}

// bentFrame draws mods ppm pixels a module wide on a textured background,
// turned up to 20 degrees and tilted up to 15, the page bowed: each point
// moved down by bend times the code's side times (2u-1)², u across the
// code.
func bentFrame(mods [][]bool, ppm, bend float64, rng *rand.Rand) *checkpoint.Frame {
	size := ppm * float64(len(mods)+8)
	w, h := int(size*1.3)+40, int(size*1.2)+40
	c := corpus.NewCanvas(w, h, 120)
	c.Texture(rng, 120, 40)
	pose := corpus.Pose{CX: float64(w) / 2, CY: float64(h) / 2, Size: size, Roll: rng.Float64()*40 - 20, Pitch: rng.Float64()*30 - 15, Yaw: rng.Float64()*30 - 15}
	c.DrawBowed(mods, pose, bend*size, true, 40, 210)
	c.Blur(0.5)
	c.Noise(rng, 4)
	c.Clip()
	g := c.Gray()
	return &checkpoint.Frame{Width: g.Rect.Dx(), Height: g.Rect.Dy(), Stride: g.Stride, Y: g.Pix}
}
