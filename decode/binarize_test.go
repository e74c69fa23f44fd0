package decode

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPolaritiesKeepTheirThresholds: reading a region for light-on-dark
// codes leaves the thresholds for dark-on-light ones as they were. Once
// the inverted thresholds were computed over the same blocks, a later
// dark-on-light attempt with the prescan's (estimated) thresholds read a
// 12 MP screen close-up's code with 3 finder patterns instead of 34, and
// the frame took four times as long.
func TestPolaritiesKeepTheirThresholds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := randomPlane(rng, 200, 160)
	var th thresholds
	th.size(p)
	th.stats(p)
	th.compute(false)
	var before, after bitmap
	r := rect{40, 40, 160, 120}
	binarizeRect(p, &th, false, &before, r)
	want := slices.Clone(th.of(false))
	th.computeRect(true, blocksOf(r, th.bw, th.bh))
	if !slices.Equal(th.of(false), want) {
		t.Fatal("computing the inverted thresholds changed the dark-on-light ones")
	}
	binarizeRect(p, &th, false, &after, r)
	if !slices.Equal(before.bits, after.bits) {
		t.Fatal("the dark-on-light binarization changed after the inverted thresholds were computed")
	}
}
