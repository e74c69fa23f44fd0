package decode

import (
	"math/rand/v2"
	"testing"
)

func TestSWAR(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20000; n++ {
		var a, b [8]byte
		for i := range a {
			a[i], b[i] = byte(rng.IntN(256)), byte(rng.IntN(256))
			if rng.IntN(8) == 0 {
				b[i] = a[i]
			}
		}
		x, y := le64(a[:]), le64(b[:])
		mn, mx := minMax8(x, y)
		g := gather(lt(x, y))
		for i := range a {
			if byte(mn>>(8*i)) != min(a[i], b[i]) || byte(mx>>(8*i)) != max(a[i], b[i]) {
				t.Fatalf("minMax8 lane %d of %v %v: %x %x", i, a, b, mn, mx)
			}
			if (g>>i&1 == 1) != (a[i] < b[i]) {
				t.Fatalf("lt/gather lane %d of %v %v: %08b", i, a, b, g)
			}
		}
	}
}

// randomPlane is a plane of noise and flat patches with a stride wider than
// its width.
func randomPlane(rng *rand.Rand, w, h int) plane {
	stride := w + 13
	pix := make([]byte, stride*h)
	for i := range pix {
		pix[i] = byte(rng.IntN(256))
		if (i/stride/9+i%stride/11)%3 == 0 {
			pix[i] = byte(100 + rng.IntN(10))
		}
	}
	return plane{w: w, h: h, stride: stride, pix: pix}
}

func TestStatsBinarizeHalf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][2]int{{40, 40}, {67, 45}, {131, 77}} {
		p := randomPlane(rng, sz[0], sz[1])
		var th thresholds
		th.stats(p)
		for by := 0; by < th.bh; by++ {
			for bx := 0; bx < th.bw; bx++ {
				x0, y0 := min(bx*8, p.w-8), min(by*8, p.h-8)
				sum, mn, mx := 0, 255, 0
				for y := y0; y < y0+8; y++ {
					for x := x0; x < x0+8; x++ {
						v := int(p.pix[y*p.stride+x])
						sum += v
						mn, mx = min(mn, v), max(mx, v)
					}
				}
				i := by*th.bw + bx
				if int(th.sum[i]) != sum || int(th.mn[i]) != mn || int(th.mx[i]) != mx {
					t.Fatalf("%v block %d,%d: %d %d %d, want %d %d %d", sz, bx, by, th.sum[i], th.mn[i], th.mx[i], sum, mn, mx)
				}
			}
		}
		for _, inv := range []bool{false, true} {
			th.compute(inv)
			var b bitmap
			binarize(p, &th, inv, &b)
			for y := 0; y < p.h; y++ {
				for x := 0; x < p.w; x++ {
					v := int(p.pix[y*p.stride+x])
					if inv {
						v = 255 - v
					}
					want := v <= int(th.of(inv)[min(y/8, th.bh-1)*th.bw+min(x/8, th.bw-1)])
					if b.get(x, y) != want {
						t.Fatalf("%v invert %v pixel %d,%d: %v", sz, inv, x, y, !want)
					}
				}
			}
		}
		hp := half(p, nil)
		for y := 0; y < hp.h; y++ {
			for x := 0; x < hp.w; x++ {
				s := int(p.pix[2*y*p.stride+2*x]) + int(p.pix[2*y*p.stride+2*x+1]) +
					int(p.pix[(2*y+1)*p.stride+2*x]) + int(p.pix[(2*y+1)*p.stride+2*x+1])
				if int(hp.pix[y*hp.w+x]) != (s+2)/4 {
					t.Fatalf("%v half %d,%d: %d want %d", sz, x, y, hp.pix[y*hp.w+x], (s+2)/4)
				}
			}
		}
	}
}

func TestUp32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][2]int{{40, 40}, {41, 43}, {67, 45}} {
		p := randomPlane(rng, sz[0], sz[1])
		up, _ := up32(p, nil, nil)
		if up.w != sz[0]*3/2 || up.h != sz[1]*3/2 {
			t.Fatalf("size %dx%d", up.w, up.h)
		}
		// Reference: bilinear at source (x+0.5)*2/3-0.5, clamped.
		wt := func(i, n int) (int, int, int) { // indices and weight of the second, in sixths
			s6 := (2*i+1)*2 - 3 // 6 * ((i+0.5)*2/3 - 0.5) = 2i - 1 ... in sixths: (4i+2-3)/... see below
			_ = s6
			k, ph := i/3, i%3
			switch ph {
			case 0:
				return max(2*k-1, 0), min(2*k, n-1), 5
			case 1:
				return min(2*k, n-1), min(2*k+1, n-1), 3
			}
			return min(2*k+1, n-1), min(2*k+2, n-1), 1
		}
		for y := 0; y < up.h; y++ {
			ya, yb, wy := wt(y, p.h)
			for x := 0; x < up.w; x++ {
				xa, xb, wx := wt(x, p.w)
				v := (6-wy)*((6-wx)*int(p.at(xa, ya))+wx*int(p.at(xb, ya))) + wy*((6-wx)*int(p.at(xa, yb))+wx*int(p.at(xb, yb)))
				want := byte((v + 18) / 36)
				if got := up.pix[y*up.w+x]; got != want {
					t.Fatalf("%v at %d,%d: %d want %d", sz, x, y, got, want)
				}
			}
		}
	}
}

func TestStatsFromHalf(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][2]int{{80, 80}, {87, 83}, {131, 97}, {200, 100}} {
		p := randomPlane(rng, sz[0], sz[1])
		hp := half(p, nil)
		var th thresholds
		th.statsFromHalf(p, hp)
		for by := 0; by < th.bh; by++ {
			for bx := 0; bx < th.bw; bx++ {
				x0, y0 := min(4*bx, hp.w-4), min(4*by, hp.h-4)
				sum, mn, mx := 0, 255, 0
				for y := y0; y < y0+4; y++ {
					for x := x0; x < x0+4; x++ {
						v := int(hp.pix[y*hp.stride+x])
						sum += v
						mn, mx = min(mn, v), max(mx, v)
					}
				}
				i := by*th.bw + bx
				if int(th.sum[i]) != 4*sum || int(th.mn[i]) != mn || int(th.mx[i]) != mx {
					t.Fatalf("%v block %d,%d: %d %d %d, want %d %d %d", sz, bx, by, th.sum[i], th.mn[i], th.mx[i], 4*sum, mn, mx)
				}
			}
		}
	}
}
