package decode

import (
	"math/rand/v2"
	"testing"

	"github.com/makiuchi-d/gozxing"
	qrcode "github.com/skip2/go-qrcode"
)

// TestTimingAgreement: a code's grid reads its timing patterns, also with
// one of them lost; grids of noise or of one colour do not pass minTiming.
func TestTimingAgreement(t *testing.T) {
	code := func(t *testing.T) (*gozxing.BitMatrix, int) {
		q, err := qrcode.New("1405 test code for the timing check: long enough for version 7 or more, whose timing patterns are 29 modules each, so that a grid of noise reads about half of them right", qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		q.DisableBorder = true
		bits := q.Bitmap()
		bm, _ := gozxing.NewSquareBitMatrix(len(bits))
		for y, row := range bits {
			for x, dark := range row {
				if dark {
					bm.Set(x, y)
				}
			}
		}
		return bm, len(bits)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		edit func(bm *gozxing.BitMatrix, dm int)
		pass bool
	}{
		{"a code", func(*gozxing.BitMatrix, int) {}, true},
		{"its row timing pattern lost to noise", func(bm *gozxing.BitMatrix, dm int) {
			for i := 8; i < dm-8; i++ {
				if rng.IntN(2) == 0 {
					bm.Flip(i, 6)
				}
			}
		}, true},
		{"noise", func(bm *gozxing.BitMatrix, dm int) {
			for y := range dm {
				for x := range dm {
					if bm.Get(x, y) != (rng.IntN(2) == 0) {
						bm.Flip(x, y)
					}
				}
			}
		}, false},
		{"all dark", func(bm *gozxing.BitMatrix, dm int) {
			for y := range dm {
				for x := range dm {
					bm.Set(x, y)
				}
			}
		}, false},
		{"both timing patterns shifted by a module", func(bm *gozxing.BitMatrix, dm int) {
			for i := 8; i < dm-8; i++ {
				bm.Flip(i, 6)
				bm.Flip(6, i)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bm, dm := code(t)
			tc.edit(bm, dm)
			got := timingAgreement(bm, dm)
			t.Logf("%d modules: %.2f", dm, got)
			if (got >= minTiming) != tc.pass {
				t.Errorf("timing agreement %.2f, minimum %.2f: pass %v, want %v", got, minTiming, got >= minTiming, tc.pass)
			}
		})
	}
}
