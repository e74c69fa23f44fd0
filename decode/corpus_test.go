package decode

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"checkpoint"
	"checkpoint/decode/corpus"
)

// corpusMisses are the generated frames (seed 1, the first corpusN of each
// category and size) this decoder does not read. Every other frame must be
// read exactly: each drawn code's text with corners near the drawn ones,
// and nothing in a frame without a code. So the success counts per
// category (corpusN minus the misses listed) are floors. zxing-cpp's and
// zbar's counts on the same frames are in BENCHMARKS.md.
var corpusMisses = map[string]bool{
	"low-contrast/1280x720/000": true,
}

const corpusN = 10

func TestCorpus(t *testing.T) {
	n := corpusN
	if testing.Short() {
		n = 4
	}
	d := New(Options{})
	ctx := context.Background()
	for _, sz := range [][2]int{{640, 480}, {1280, 720}} {
		cs, err := corpus.Generate(corpus.Options{Seed: 1, Width: sz[0], Height: sz[1], PerCat: n})
		if err != nil {
			t.Fatal(err)
		}
		got := map[corpus.Category]int{}
		for _, c := range cs {
			syms, err := d.Decode(ctx, c.Frame)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			switch ok := readAll(t, c, syms); {
			case ok:
				got[c.Category]++
				if corpusMisses[c.Name] {
					t.Logf("%s: read now; take it off corpusMisses", c.Name)
				}
			case !corpusMisses[c.Name]:
				t.Errorf("%s: not read (texts %q, read %d codes)", c.Name, c.Texts, len(syms))
			}
		}
		for _, cat := range corpus.Categories {
			t.Logf("%-28s %2d of %d", fmt.Sprintf("%s %dx%d", cat, sz[0], sz[1]), got[cat], n)
		}
	}
}

// readAll reports whether syms hold exactly the case's texts, each with
// corners near the code's true corners (within a tenth of its side).
func readAll(t *testing.T, c corpus.Case, syms []checkpoint.Symbol) bool {
	if len(c.Texts) == 0 {
		if len(syms) > 0 {
			t.Errorf("%s: no code drawn, read %q", c.Name, syms[0].Text)
		}
		return len(syms) == 0
	}
	ok := true
	for i, want := range c.Texts {
		k := slices.IndexFunc(syms, func(s checkpoint.Symbol) bool { return s.Text == want })
		if k < 0 {
			ok = false
			continue
		}
		q := c.Quads[i]
		side := math.Hypot(q[1].X-q[0].X, q[1].Y-q[0].Y)
		for j, p := range syms[k].Corners {
			if e := math.Hypot(p.X-q[j].X, p.Y-q[j].Y); e > side/10 {
				t.Errorf("%s: corner %d at %.1f,%.1f, drawn at %.1f,%.1f", c.Name, j, p.X, p.Y, q[j].X, q[j].Y)
			}
		}
	}
	return ok
}
