package corpus

import (
	"bytes"
	"testing"
)

func TestGenerateReproducible(t *testing.T) {
	a, err := Generate(Options{Seed: 7, Width: 320, Height: 240, PerCat: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(Options{Seed: 7, Width: 320, Height: 240, PerCat: 2})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Generate(Options{Seed: 8, Width: 320, Height: 240, PerCat: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2*len(Categories) {
		t.Fatalf("%d cases, want %d", len(a), 2*len(Categories))
	}
	same := 0
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Frame.Y, b[i].Frame.Y) {
			t.Errorf("%s: seed 7 rendered twice differs", a[i].Name)
		}
		if bytes.Equal(a[i].Frame.Y, c[i].Frame.Y) {
			same++
		}
		f := a[i].Frame
		if f.Width != 320 || f.Height != 240 || f.Stride != 320 || len(f.Y) != 320*240 {
			t.Errorf("%s: frame %dx%d stride %d len %d", a[i].Name, f.Width, f.Height, f.Stride, len(f.Y))
		}
		if (a[i].Category == Empty) != (len(a[i].Texts) == 0) || len(a[i].Texts) != len(a[i].Quads) {
			t.Errorf("%s: %d texts, %d quads", a[i].Name, len(a[i].Texts), len(a[i].Quads))
		}
		for _, q := range a[i].Quads {
			for _, p := range q {
				if p.X < 0 || p.Y < 0 || p.X > 320 || p.Y > 240 {
					t.Errorf("%s: code corner %v outside the frame", a[i].Name, p)
				}
			}
		}
	}
	if same > 0 {
		t.Errorf("%d frames identical under seeds 7 and 8", same)
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(Options{Width: 10, Height: 10, PerCat: 1}); err == nil {
		t.Error("10x10 frames: no error")
	}
	if _, err := Generate(Options{Width: 320, Height: 240, PerCat: 1, Categories: []Category{"nope"}}); err == nil {
		t.Error("unknown category: no error")
	}
}

func TestHomography(t *testing.T) {
	q := Quad{{10, 20}, {110, 30}, {120, 140}, {5, 100}}
	h := SquareToQuad(q)
	inv := h.Inverse()
	for i, uv := range [4][2]float64{{0, 0}, {1, 0}, {1, 1}, {0, 1}} {
		x, y := h.Apply(uv[0], uv[1])
		if abs(x-q[i].X) > 1e-9 || abs(y-q[i].Y) > 1e-9 {
			t.Errorf("corner %d: %v,%v want %v", i, x, y, q[i])
		}
		u, v := inv.Apply(x, y)
		if abs(u-uv[0]) > 1e-9 || abs(v-uv[1]) > 1e-9 {
			t.Errorf("inverse of corner %d: %v,%v", i, u, v)
		}
	}
}

func TestRotate(t *testing.T) {
	cs, err := Generate(Options{Seed: 1, Width: 96, Height: 64, PerCat: 1, Categories: []Category{Empty}})
	if err != nil {
		t.Fatal(err)
	}
	f := cs[0].Frame
	r := Rotate(f, 90)
	if r.Width != 64 || r.Height != 96 {
		t.Fatalf("rotated size %dx%d", r.Width, r.Height)
	}
	// The top-left pixel goes to the top-right corner.
	if r.Y[63] != f.Y[0] {
		t.Errorf("90°: top-left pixel not at top-right")
	}
	back := Rotate(Rotate(Rotate(r, 90), 90), 90)
	if !bytes.Equal(back.Y, f.Y) {
		t.Errorf("four quarter turns differ from the original")
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
