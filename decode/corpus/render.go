package corpus

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"checkpoint"

	qrcode "github.com/skip2/go-qrcode"
)

// Point is a position in image pixels.
type Point struct{ X, Y float64 }

// Quad is a quadrilateral: top-left, top-right, bottom-right, bottom-left.
type Quad [4]Point

// Pose places a flat square in front of a pinhole camera. The square's centre
// projects to (CX, CY); Size is its side in pixels when it faces the camera;
// Roll turns it in the image plane, Pitch and Yaw tilt it about its
// horizontal and vertical axes (all in degrees); Focal is the camera's
// distance to the square in pixels (smaller: stronger perspective; 0 means
// four times Size).
type Pose struct {
	CX, CY, Size     float64
	Roll, Pitch, Yaw float64
	Focal            float64
}

// Quad projects the posed square into the image.
func (p Pose) Quad() Quad {
	f := p.Focal
	if f <= 0 {
		f = 4 * p.Size
	}
	r, pi, ya := p.Roll*math.Pi/180, p.Pitch*math.Pi/180, p.Yaw*math.Pi/180
	var q Quad
	h := p.Size / 2
	for i, c := range [4][2]float64{{-h, -h}, {h, -h}, {h, h}, {-h, h}} {
		x, y, z := c[0], c[1], 0.0
		// yaw about the y axis, pitch about the x axis, roll about z.
		x, z = x*math.Cos(ya)+z*math.Sin(ya), -x*math.Sin(ya)+z*math.Cos(ya)
		y, z = y*math.Cos(pi)-z*math.Sin(pi), y*math.Sin(pi)+z*math.Cos(pi)
		x, y = x*math.Cos(r)-y*math.Sin(r), x*math.Sin(r)+y*math.Cos(r)
		s := f / (f + z)
		q[i] = Point{p.CX + x*s, p.CY + y*s}
	}
	return q
}

// Homography maps the unit square (0,0),(1,0),(1,1),(0,1) onto a quad and back.
type Homography [9]float64

// SquareToQuad returns the homography taking the unit square onto q.
func SquareToQuad(q Quad) Homography {
	x0, y0, x1, y1, x2, y2, x3, y3 := q[0].X, q[0].Y, q[1].X, q[1].Y, q[2].X, q[2].Y, q[3].X, q[3].Y
	dx3 := x0 - x1 + x2 - x3
	dy3 := y0 - y1 + y2 - y3
	if dx3 == 0 && dy3 == 0 {
		return Homography{x1 - x0, x2 - x1, x0, y1 - y0, y2 - y1, y0, 0, 0, 1}
	}
	dx1, dx2, dy1, dy2 := x1-x2, x3-x2, y1-y2, y3-y2
	den := dx1*dy2 - dx2*dy1
	a13 := (dx3*dy2 - dx2*dy3) / den
	a23 := (dx1*dy3 - dx3*dy1) / den
	return Homography{
		x1 - x0 + a13*x1, x3 - x0 + a23*x3, x0,
		y1 - y0 + a13*y1, y3 - y0 + a23*y3, y0,
		a13, a23, 1,
	}
}

// Apply maps (u, v) through the homography.
func (h Homography) Apply(u, v float64) (float64, float64) {
	w := h[6]*u + h[7]*v + h[8]
	return (h[0]*u + h[1]*v + h[2]) / w, (h[3]*u + h[4]*v + h[5]) / w
}

// Inverse returns the inverse mapping.
func (h Homography) Inverse() Homography {
	a, b, c, d, e, f, g, hh, i := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
	return Homography{
		e*i - f*hh, c*hh - b*i, b*f - c*e,
		f*g - d*i, a*i - c*g, c*d - a*f,
		d*hh - e*g, b*g - a*hh, a*e - b*d,
	}
}

// Modules encodes text as a QR symbol at the given recovery level and returns
// its modules (true is dark) without a quiet zone.
func Modules(text string, level qrcode.RecoveryLevel) ([][]bool, error) {
	q, err := qrcode.New(text, level)
	if err != nil {
		return nil, fmt.Errorf("encode QR of %d bytes: %w", len(text), err)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// Canvas is a floating-point luminance image (0 black, 255 white) that
// scenes are composed on before they are quantised into a frame.
type Canvas struct {
	W, H int
	Pix  []float32
}

// NewCanvas returns a canvas filled with v.
func NewCanvas(w, h int, v float32) *Canvas {
	c := &Canvas{W: w, H: h, Pix: make([]float32, w*h)}
	for i := range c.Pix {
		c.Pix[i] = v
	}
	return c
}

// Gray quantises the canvas into an 8-bit image.
func (c *Canvas) Gray() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, c.W, c.H))
	for i, v := range c.Pix {
		g.Pix[i] = clamp8(v)
	}
	return g
}

func clamp8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// Texture fills the canvas with a soft random texture around mean: a few
// octaves of value noise, like a wall, a desk or a jacket behind the code.
func (c *Canvas) Texture(rng *rand.Rand, mean, amp float64) {
	for i := range c.Pix {
		c.Pix[i] = float32(mean)
	}
	ix := make([]int, c.W)
	tx := make([]float32, c.W)
	for oct, cell := 0, 96.0; oct < 4; oct, cell, amp = oct+1, cell/2.5, amp*0.6 {
		gw, gh := int(float64(c.W)/cell)+2, int(float64(c.H)/cell)+2
		grid := make([]float32, gw*gh)
		for i := range grid {
			grid[i] = float32((rng.Float64()*2 - 1) * amp)
		}
		for x := 0; x < c.W; x++ {
			fx := float64(x) / cell
			ix[x] = int(fx)
			tx[x] = float32(smooth(fx - float64(ix[x])))
		}
		for y := 0; y < c.H; y++ {
			fy := float64(y) / cell
			iy := int(fy)
			ty := float32(smooth(fy - float64(iy)))
			r0, r1 := grid[iy*gw:], grid[(iy+1)*gw:]
			row := c.Pix[y*c.W : (y+1)*c.W]
			for x := range row {
				i, t := ix[x], tx[x]
				a := r0[i] + (r0[i+1]-r0[i])*t
				b := r1[i] + (r1[i+1]-r1[i])*t
				row[x] += a + (b-a)*ty
			}
		}
	}
}

func smooth(t float64) float64 { return t * t * (3 - 2*t) }

// frac is the fractional part of a non-negative x.
func frac(x float64) float64 { return x - math.Floor(x) }

// Shader gives the luminance of a point (u, v) of a flat object, both in
// [0, 1) across the object, and whether the object covers that point.
type Shader func(u, v float64) (float32, bool)

// Draw renders an object mapped onto quad q, blending its coverage over
// what the canvas holds. Pixels whose four corners see the same shade are
// filled with it; the others are supersampled ss×ss. Use DrawFine for
// objects with details smaller than a pixel.
func (c *Canvas) Draw(q Quad, ss int, shade Shader) { c.draw(q, ss, shade, false) }

// DrawFine is Draw with every pixel supersampled.
func (c *Canvas) DrawFine(q Quad, ss int, shade Shader) { c.draw(q, ss, shade, true) }

type sample struct {
	l  float32
	ok bool
}

func (c *Canvas) draw(q Quad, ss int, shade Shader, fine bool) {
	inv := SquareToQuad(q).Inverse()
	minX, minY, maxX, maxY := q[0].X, q[0].Y, q[0].X, q[0].Y
	for _, p := range q[1:] {
		minX, minY = math.Min(minX, p.X), math.Min(minY, p.Y)
		maxX, maxY = math.Max(maxX, p.X), math.Max(maxY, p.Y)
	}
	x0, y0 := max(0, int(minX)-1), max(0, int(minY)-1)
	x1, y1 := min(c.W, int(maxX)+2), min(c.H, int(maxY)+2)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	at := func(x, y float64) sample {
		u, v := inv.Apply(x, y)
		if u < 0 || u >= 1 || v < 0 || v >= 1 {
			return sample{}
		}
		l, ok := shade(u, v)
		return sample{l, ok}
	}
	n := float32(ss * ss)
	top := make([]sample, x1-x0+1)
	bot := make([]sample, x1-x0+1)
	if !fine {
		for x := x0; x <= x1; x++ {
			top[x-x0] = at(float64(x), float64(y0))
		}
	}
	for y := y0; y < y1; y++ {
		if !fine {
			for x := x0; x <= x1; x++ {
				bot[x-x0] = at(float64(x), float64(y+1))
			}
		}
		for x := x0; x < x1; x++ {
			i := y*c.W + x
			if !fine {
				a, b, cc, d := top[x-x0], top[x-x0+1], bot[x-x0], bot[x-x0+1]
				if a == b && a == cc && a == d {
					if a.ok {
						c.Pix[i] = a.l
					}
					continue
				}
			}
			var sum float32
			var cov int
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					p := at(float64(x)+(float64(sx)+0.5)/float64(ss), float64(y)+(float64(sy)+0.5)/float64(ss))
					if p.ok {
						sum += p.l
						cov++
					}
				}
			}
			if cov == 0 {
				continue
			}
			c.Pix[i] = (c.Pix[i]*(n-float32(cov)) + sum) / n
		}
		top, bot = bot, top
	}
}

// CodeShader draws a QR symbol with a quiet zone of quiet modules on each
// side: dark and light are the ink and paper luminances.
func CodeShader(mods [][]bool, quiet int, dark, light float32) Shader {
	n := len(mods)
	total := float64(n + 2*quiet)
	return func(u, v float64) (float32, bool) {
		mx, my := int(u*total)-quiet, int(v*total)-quiet
		if mx >= 0 && my >= 0 && mx < n && my < n && mods[my][mx] {
			return dark, true
		}
		return light, true
	}
}

// Blur applies a Gaussian blur of the given sigma in pixels.
func (c *Canvas) Blur(sigma float64) {
	if sigma <= 0 {
		return
	}
	r := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*r+1)
	var sum float32
	for i := range k {
		d := float64(i - r)
		k[i] = float32(math.Exp(-d * d / (2 * sigma * sigma)))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float32, len(c.Pix))
	for y := 0; y < c.H; y++ {
		row := c.Pix[y*c.W : (y+1)*c.W]
		out := tmp[y*c.W : (y+1)*c.W]
		for x := range out {
			var s float32
			if x >= r && x+r < c.W {
				for i, kv := range k {
					s += row[x+i-r] * kv
				}
			} else {
				for i, kv := range k {
					s += row[min(max(x+i-r, 0), c.W-1)] * kv
				}
			}
			out[x] = s
		}
	}
	for y := 0; y < c.H; y++ {
		out := c.Pix[y*c.W : (y+1)*c.W]
		clear(out)
		for i, kv := range k {
			yy := min(max(y+i-r, 0), c.H-1)
			in := tmp[yy*c.W : (yy+1)*c.W]
			for x := range out {
				out[x] += in[x] * kv
			}
		}
	}
}

// Noise adds Gaussian sensor noise of the given standard deviation.
func (c *Canvas) Noise(rng *rand.Rand, sigma float64) {
	for i := range c.Pix {
		c.Pix[i] += float32(rng.NormFloat64() * sigma)
	}
}

// Glare adds a bright soft spot of the given peak at (x, y) with radius r,
// like a lamp reflected in a phone's glass.
func (c *Canvas) Glare(x, y, r, peak float64) {
	x0, y0 := max(0, int(x-3*r)), max(0, int(y-3*r))
	x1, y1 := min(c.W, int(x+3*r)+1), min(c.H, int(y+3*r)+1)
	for yy := y0; yy < y1; yy++ {
		for xx := x0; xx < x1; xx++ {
			dx, dy := float64(xx)-x, float64(yy)-y
			c.Pix[yy*c.W+xx] += float32(peak * math.Exp(-(dx*dx+dy*dy)/(2*r*r)))
		}
	}
}

// Shade multiplies the canvas by a linear gradient from lo at (x0, y0) to hi
// at (x1, y1), like the shadow of a hand over a card.
func (c *Canvas) Shade(x0, y0, x1, y1, lo, hi float64) {
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for y := 0; y < c.H; y++ {
		for x := 0; x < c.W; x++ {
			t := ((float64(x)-x0)*dx + (float64(y)-y0)*dy) / l2
			t = math.Min(1, math.Max(0, t))
			c.Pix[y*c.W+x] *= float32(lo + (hi-lo)*smooth(t))
		}
	}
}

// Contrast maps luminance v to mid + (v-mid)*k.
func (c *Canvas) Contrast(mid, k float64) {
	for i, v := range c.Pix {
		c.Pix[i] = float32(mid + (float64(v)-mid)*k)
	}
}

// Clip limits luminance to [0, 255], as a sensor saturates.
func (c *Canvas) Clip() {
	for i, v := range c.Pix {
		c.Pix[i] = float32(math.Min(255, math.Max(0, float64(v))))
	}
}

// Lerp returns the point a fraction t of the way from a to b.
func Lerp(a, b Point, t float64) Point {
	return Point{a.X + (b.X-a.X)*t, a.Y + (b.Y-a.Y)*t}
}

// Inner returns the part of q covering [u0,u1]×[v0,v1] of its unit square.
func (q Quad) Inner(u0, v0, u1, v1 float64) Quad {
	h := SquareToQuad(q)
	var r Quad
	for i, uv := range [4][2]float64{{u0, v0}, {u1, v0}, {u1, v1}, {u0, v1}} {
		r[i].X, r[i].Y = h.Apply(uv[0], uv[1])
	}
	return r
}

// Rotate returns f turned clockwise by deg degrees (0, 90, 180 or 270).
func Rotate(f *checkpoint.Frame, deg int) *checkpoint.Frame {
	w, h := f.Width, f.Height
	nw, nh := w, h
	if deg == 90 || deg == 270 {
		nw, nh = h, w
	}
	g := &checkpoint.Frame{Seq: f.Seq, Time: f.Time, Width: nw, Height: nh, Stride: nw, Y: make([]byte, nw*nh)}
	for y := 0; y < h; y++ {
		row := f.Y[y*f.Stride : y*f.Stride+w]
		for x, v := range row {
			var nx, ny int
			switch deg {
			case 90:
				nx, ny = h-1-y, x
			case 180:
				nx, ny = w-1-x, h-1-y
			case 270:
				nx, ny = y, w-1-x
			default:
				nx, ny = x, y
			}
			g.Y[ny*nw+nx] = v
		}
	}
	return g
}
