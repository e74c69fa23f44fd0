package demo

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	qrcode "github.com/skip2/go-qrcode"
)

// Placement says where and how a code is drawn into a scene.
type Placement struct {
	Text     string
	Module   float64 // pixels per module at the code's centre
	CX, CY   float64 // centre, as a fraction of the frame size
	Rotate   float64 // degrees, clockwise
	TiltX    float64 // perspective: the right edge is this fraction larger than the left
	TiltY    float64 // perspective: the bottom edge is this fraction larger than the top
	Damage   float64 // fraction of the code's area scratched out (0: intact)
	Contrast float64 // dark modules' brightness, 0..255 (0: black)
}

// Background draws a deterministic textured background: a lighting gradient,
// paper-like noise and a few soft shapes, so frames look like a scene rather
// than a test card.
func Background(w, h int, seed uint64) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	type blob struct{ x, y, rad, v float64 }
	blobs := make([]blob, 6)
	for i := range blobs {
		blobs[i] = blob{r.Float64() * float64(w), r.Float64() * float64(h), 30 + r.Float64()*120, r.Float64()*60 - 30}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 150 + 50*float64(x)/float64(w) - 30*float64(y)/float64(h)
			for _, b := range blobs {
				d := math.Hypot(float64(x)-b.x, float64(y)-b.y)
				if d < b.rad {
					v += b.v * (1 - d/b.rad)
				}
			}
			v += r.NormFloat64() * 6
			img.Pix[y*img.Stride+x] = clamp(v)
		}
	}
	return img
}

// Draw renders the code of p into img with bilinear sampling through the
// inverse of p's rotation and perspective.
func Draw(img *image.Gray, p Placement, seed uint64) error {
	q, err := qrcode.New(p.Text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("encode demo code: %w", err)
	}
	bm := q.Bitmap() // includes the 4-module quiet zone
	n := len(bm)
	if p.Damage > 0 {
		r := rand.New(rand.NewPCG(seed, 0xdead))
		// Scratch a band through the middle: damage beyond what error
		// correction repairs.
		rows := int(float64(n) * p.Damage)
		start := n/2 - rows/2
		for y := start; y < start+rows; y++ {
			for x := 4; x < n-4; x++ {
				bm[y][x] = r.IntN(2) == 0
			}
		}
	}
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	side := float64(n) * p.Module
	cx, cy := p.CX*w, p.CY*h
	// Corners of the code square (module space), mapped to the frame.
	src := [4][2]float64{{0, 0}, {float64(n), 0}, {float64(n), float64(n)}, {0, float64(n)}}
	var dst [4][2]float64
	sin, cos := math.Sincos(p.Rotate * math.Pi / 180)
	for i, c := range src {
		u := (c[0]/float64(n) - 0.5) * side
		v := (c[1]/float64(n) - 0.5) * side
		// Perspective: scale each side by its distance along the tilt axes.
		s := 1 + p.TiltX*(c[0]/float64(n)-0.5) + p.TiltY*(c[1]/float64(n)-0.5)
		u, v = u*s, v*s
		dst[i] = [2]float64{cx + u*cos - v*sin, cy + u*sin + v*cos}
	}
	hm, err := homography(dst, src) // frame → module space
	if err != nil {
		return err
	}
	minX, minY, maxX, maxY := w, h, 0.0, 0.0
	for _, d := range dst {
		minX, maxX = math.Min(minX, d[0]), math.Max(maxX, d[0])
		minY, maxY = math.Min(minY, d[1]), math.Max(maxY, d[1])
	}
	dark := p.Contrast
	for y := max(0, int(minY)); y < min(b.Dy(), int(maxY)+1); y++ {
		for x := max(0, int(minX)); x < min(b.Dx(), int(maxX)+1); x++ {
			// Supersample 2x2 for soft, camera-like edges.
			var acc float64
			inside := 0
			for _, o := range [4][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}} {
				mx, my := apply(hm, float64(x)+o[0], float64(y)+o[1])
				if mx < 0 || my < 0 || mx >= float64(n) || my >= float64(n) {
					continue
				}
				inside++
				if bm[int(my)][int(mx)] {
					acc += dark
				} else {
					acc += 235
				}
			}
			if inside == 0 {
				continue
			}
			bg := float64(img.Pix[y*img.Stride+x])
			v := (acc + bg*float64(4-inside)) / 4
			img.Pix[y*img.Stride+x] = clamp(v)
		}
	}
	return nil
}

func clamp(v float64) uint8 {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v + 0.5)
}

// homography solves the 3x3 projective map taking from[i] to to[i].
func homography(from, to [4][2]float64) ([9]float64, error) {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y, u, v := from[i][0], from[i][1], to[i][0], to[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return [9]float64{}, fmt.Errorf("degenerate placement")
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < 8; r++ {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k < 9; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var h [9]float64
	for i := 0; i < 8; i++ {
		h[i] = a[i][8] / a[i][i]
	}
	h[8] = 1
	return h, nil
}

func apply(h [9]float64, x, y float64) (float64, float64) {
	d := h[6]*x + h[7]*y + h[8]
	return (h[0]*x + h[1]*y + h[2]) / d, (h[3]*x + h[4]*y + h[5]) / d
}
