package decode

import (
	"math"
	"testing"
)

// TestCornerQuad traces finder patterns drawn as parallelograms, as strong
// perspective shows them, whose sides point far away from the code's legs
// (here the frame's axes): cornerQuad finds each corner within two pixels and
// names the sides by the legs. (finderQuad, sorting the edge points by the
// legs, puts the sheared ones' corners 5 to 25 pixels off.)
func TestCornerQuad(t *testing.T) {
	tests := []struct {
		name string
		u, v point // the pattern's sides, pixels per module (u×v > 0, as triples are)
	}{
		{"square", point{8, 0}, point{0, 8}},
		{"sheared 37 degrees", point{10, 0}, point{6, 8}},
		{"thin and steep", point{4, -9}, point{7, 7}},
		{"foreshortened, turned", point{5, 4}, point{-5, 8}},
		{"thin, sheared (a 12 MP tilted code's)", point{10, 1}, point{-2, 3.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := point{100, 100}
			d := &detector{b: drawnFinder(c, tc.u, tc.v)}
			f := finder{x: c.x, y: c.y, module: 8}
			// The code's legs: the axes, scaled by the module.
			ux, uy, vx, vy := 8.0, 0.0, 0.0, 8.0
			if tc.u.y < -tc.u.x { // the pattern's u side points up: legs turned alike
				ux, uy, vx, vy = 0, -8, 8, 0
			}
			q, ok := d.cornerQuad(f, ux, uy, vx, vy)
			if !ok {
				t.Fatal("not traced")
			}
			for i, s := range [4][2]float64{{-3.5, -3.5}, {3.5, -3.5}, {3.5, 3.5}, {-3.5, 3.5}} {
				want := point{c.x + s[0]*tc.u.x + s[1]*tc.v.x, c.y + s[0]*tc.u.y + s[1]*tc.v.y}
				if e := math.Hypot(q[i].x-want.x, q[i].y-want.y); e > 2 {
					t.Errorf("corner %d at %.1f,%.1f, want %.1f,%.1f", i, q[i].x, q[i].y, want.x, want.y)
				}
			}
		})
	}
}

// drawnFinder is a 200×200 bitmap holding one finder pattern centred at c,
// its modules spanned by u and v.
func drawnFinder(c, u, v point) *bitmap {
	b := &bitmap{}
	b.reset(200, 200)
	clear(b.bits)
	det := u.x*v.y - u.y*v.x
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			px, py := float64(x)+0.5-c.x, float64(y)+0.5-c.y
			i := (px*v.y-py*v.x)/det + 3.5
			j := (u.x*py-u.y*px)/det + 3.5
			if i >= 0 && j >= 0 && i < 7 && j < 7 && finderDark(int(i), int(j)) {
				b.bits[y*b.words+x>>6] |= 1 << (uint(x) & 63)
			}
		}
	}
	return b
}
