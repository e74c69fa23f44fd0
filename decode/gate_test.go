package decode

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/decode/corpus"
)

// gateN is how many frames of each gate category and size TestGateCorpus
// renders (seed 1); a sheet holds 60 codes, so fewer of those.
func gateN(cat corpus.Category) int {
	if cat == corpus.Sheet {
		return 2
	}
	return 6
}

// gateFloors are the codes this decoder reads (exact text) in each gate
// category and size of TestGateCorpus: floors at the level reached.
// zxing-cpp's and zbar's counts on the same kind of frames are in
// BENCHMARKS.md.
var gateFloors = map[string]int{
	"screen-close 640x480": 6, "card-cropped 640x480": 6, "tilted-small 640x480": 0,
	"sheet 640x480": 75, "light-points 640x480": 4, "cylinder 640x480": 3, "bent-large 640x480": 6,
	"screen-close 1280x720": 5, "card-cropped 1280x720": 6, "tilted-small 1280x720": 5,
	"sheet 1280x720": 120, "light-points 1280x720": 4, "cylinder 1280x720": 1, "bent-large 1280x720": 6,
}

func TestGateCorpus(t *testing.T) {
	d := New(Options{})
	ctx := context.Background()
	for _, sz := range [][2]int{{640, 480}, {1280, 720}} {
		for _, cat := range corpus.GateCategories {
			n := gateN(cat)
			cs, err := corpus.Generate(corpus.Options{Seed: 1, Width: sz[0], Height: sz[1], PerCat: n, Categories: []corpus.Category{cat}})
			if err != nil {
				t.Fatal(err)
			}
			read, drawn := 0, 0
			t0 := time.Now()
			for _, c := range cs {
				d.Reset()
				syms, err := d.Decode(ctx, c.Frame)
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				drawn += len(c.Texts)
				for _, s := range syms {
					if !slices.Contains(c.Texts, s.Text) {
						t.Errorf("%s: read %q, which is not drawn", c.Name, s.Text)
					}
				}
				read += countRead(c, syms)
			}
			key := fmt.Sprintf("%s %dx%d", cat, sz[0], sz[1])
			t.Logf("%-26s %3d of %3d codes (%v)", key, read, drawn, time.Since(t0).Round(time.Millisecond))
			if read < gateFloors[key] {
				t.Errorf("%s: %d codes read, floor %d", key, read, gateFloors[key])
			}
		}
	}
}

// countRead is how many of the case's texts syms hold.
func countRead(c corpus.Case, syms []checkpoint.Symbol) int {
	n := 0
	for _, want := range c.Texts {
		if slices.ContainsFunc(syms, func(s checkpoint.Symbol) bool { return s.Text == want }) {
			n++
		}
	}
	return n
}

// TestScreenClose12MP reads phones' screens photographed close at 12 MP
// (4000x3000, modules about 90 to 150 pixels, sub-pixel stripes, JPEG
// quality 80). At full size the screen's pixel grid looks like finder
// patterns everywhere: the grid is a texture to read at a coarser level,
// not thousands of finder triples to try (frame 2 tried 3,638 before the
// prescan knew saturated hits for a texture).
func TestScreenClose12MP(t *testing.T) {
	for _, i := range []int{0, 2} {
		c, err := corpus.Render(1, corpus.ScreenClose, 4000, 3000, i)
		if err != nil {
			t.Fatal(err)
		}
		d := New(Options{})
		var w0 *worker
		d.trace = func(w *worker, _ string) { w0 = w }
		t0 := time.Now()
		syms, err := d.Decode(context.Background(), c.Frame)
		if err != nil {
			t.Fatal(err)
		}
		if w0 == nil {
			t.Fatal("the chain's steps were not traced")
		}
		tries := w0.tries.Load()
		t.Logf("%s: %d of %d codes in %v, %d finder triples tried", c.Name, countRead(c, syms), len(c.Texts), time.Since(t0).Round(time.Millisecond), tries)
		if !readAll(t, c, syms) {
			t.Errorf("%s: not read (read %d codes)", c.Name, len(syms))
		}
		if tries > maxScreenTries {
			t.Errorf("%s: %d finder triples tried, want at most %d", c.Name, tries, maxScreenTries)
		}
	}
}

// TestTiltedSmall12MP reads small codes tilted 50 to 70 degrees at 4000x3000
// and 2000x1500, their modules 7 to 15 pixels at full size. The finder
// patterns are thin parallelograms whose sides point tens of degrees away
// from the code's legs; sorted by the legs, the traced edge points went to
// the wrong sides and no homography joined the three squares (frames 0 and
// 1 at 12 MP and frame 1 at 2000x1500 read nothing before the corners were
// found from the edge points themselves).
func TestTiltedSmall12MP(t *testing.T) {
	for _, tc := range []struct{ w, h, i int }{{4000, 3000, 0}, {4000, 3000, 1}, {2000, 1500, 1}} {
		c, err := corpus.Render(1, corpus.TiltedSmall, tc.w, tc.h, tc.i)
		if err != nil {
			t.Fatal(err)
		}
		syms, err := New(Options{}).Decode(context.Background(), c.Frame)
		if err != nil {
			t.Fatal(err)
		}
		if countRead(c, syms) != 1 || len(syms) != 1 {
			t.Errorf("%s: read %d codes, want its one", c.Name, len(syms))
		}
	}
}

// maxScreenTries bounds the finder triples tried on a 12 MP screen
// close-up: a few attempts' worth at the coarse levels.
const maxScreenTries = 600

// maxChained is how many of TestEmptyFramesEndEarly's 100 empty frames
// may go past the prescans into the chain's costly steps: the level
// reached (32 before tilted patterns were allowed, 47 when they were, with
// no rule that one code's patterns are tilted alike).
const maxChained = 42

// TestEmptyFramesEndEarly counts the empty frames (seed 7, 640x480: a
// background and distractors, no code) that some prescan took for a code:
// each of them runs every step and costs ten times one that ends early.
func TestEmptyFramesEndEarly(t *testing.T) {
	cs, err := corpus.Generate(corpus.Options{Seed: 7, Width: 640, Height: 480, PerCat: 100, Categories: []corpus.Category{corpus.Empty}})
	if err != nil {
		t.Fatal(err)
	}
	d := New(Options{})
	chained, past := 0, false
	d.trace = func(_ *worker, step string) { past = past || step == "thresholds" }
	for _, c := range cs {
		d.Reset()
		past = false
		if _, err := d.Decode(context.Background(), c.Frame); err != nil {
			t.Fatal(err)
		}
		if past {
			chained++
		}
	}
	t.Logf("%d of %d empty frames went into the chain", chained, len(cs))
	if chained > maxChained {
		t.Errorf("%d of %d empty frames went into the chain, want at most %d", chained, len(cs), maxChained)
	}
}
