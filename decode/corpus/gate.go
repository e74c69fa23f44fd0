package corpus

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	qrcode "github.com/skip2/go-qrcode"
)

// The categories of what a gate camera sees up close and at an angle
// (issue 14): each scales with the frame, so that at 12 MP it looks as it
// does in a phone's photo.
const (
	// ScreenClose is a phone screen filling the frame: the code's modules
	// tens of pixels wide, the screen's RGB sub-pixel stripes and their
	// moiré plainly visible, a lamp's reflection, saved as JPEG at
	// quality 80.
	ScreenClose Category = "screen-close"
	// CardCropped is a printed code filling the frame with its quiet zone
	// cut off on one or two sides by the frame's edge.
	CardCropped Category = "card-cropped"
	// TiltedSmall is a small code (about a seventh of the frame's height)
	// tilted 50 to 70 degrees away from the camera.
	TiltedSmall Category = "tilted-small"
	// Sheet is a printed sheet of 60 small codes (registration desk).
	Sheet Category = "sheet"
	// LightPoints is a dark scene with small saturated points of light,
	// some on the code.
	LightPoints Category = "light-points"
	// Cylinder is a code printed on a bottle or can, curving away.
	Cylinder Category = "cylinder"
	// BentLarge is a large code (an HC1 certificate, versions 11 to 16) on
	// a page bowed by 1 to 3% of its side, a little turned and tilted.
	BentLarge Category = "bent-large"
)

// GateCategories are the categories above, in a stable order.
var GateCategories = []Category{ScreenClose, CardCropped, TiltedSmall, Sheet, LightPoints, Cylinder, BentLarge}

// gate renders one of the gate categories; it reports false for others.
func (s *scene) gate(cat Category) (bool, error) {
	switch cat {
	case ScreenClose:
		return true, s.screenClose()
	case CardCropped:
		return true, s.cardCropped()
	case TiltedSmall:
		return true, s.tiltedSmall()
	case Sheet:
		return true, s.sheet()
	case LightPoints:
		return true, s.lightPoints()
	case Cylinder:
		return true, s.cylinder()
	case BentLarge:
		return true, s.bentLarge()
	}
	return false, nil
}

// screenClose: the code spans 60 to 90% of the frame's smaller side and 70
// to 85% of the screen's width, the screen is 1080 pixels across. Each
// screen pixel is three vertical stripes, red, green and blue, whose
// luminances differ, with a dark gap between pixels.
func (s *scene) screenClose() error {
	text := s.payload()
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	n := float64(len(mods))
	codeFrac := 0.7 + 0.15*s.rng.Float64()
	screenW := float64(min(s.w, s.h)) * (0.6 + 0.3*s.rng.Float64()) / codeFrac
	screenH := screenW * 2.1
	// The code's centre near the frame's centre, the screen around it.
	cx := float64(s.w)/2 + s.sym(0.05*float64(s.w))
	cy := float64(s.h)/2 + s.sym(0.05*float64(s.h))
	p := Pose{CX: cx, CY: cy, Size: screenW, Roll: s.sym(8), Pitch: s.sym(12), Yaw: s.sym(12), Focal: 2 * screenW}
	sq := p.Quad()
	// sq is the square of side screenW about the code's centre; the screen
	// is as wide and 2.1 times as tall, the code in its middle.
	screen := Quad{Lerp(sq[3], sq[0], 0.5+screenH/screenW/2), Lerp(sq[2], sq[1], 0.5+screenH/screenW/2),
		Lerp(sq[1], sq[2], 0.5+screenH/screenW/2), Lerp(sq[0], sq[3], 0.5+screenH/screenW/2)}
	cols := 1080.0
	rows := cols * 2.1
	light := float32(190 + s.rng.Float64()*55)
	dark := float32(10 + s.rng.Float64()*25)
	v0 := 0.5 - codeFrac/2.1/2
	u0 := 0.5 - codeFrac/2
	ch := codeFrac / 2.1
	quiet := 4.0
	// R, G and B luminance weights of the three stripes.
	stripe := [3]float32{0.9, 1.25, 0.45}
	s.c.Draw(Quad{Lerp(screen[0], screen[2], -0.02), Lerp(screen[1], screen[3], -0.02), Lerp(screen[2], screen[0], -0.02), Lerp(screen[3], screen[1], -0.02)},
		2, func(u, v float64) (float32, bool) { return 12, true })
	s.c.DrawFine(screen, 3, func(u, v float64) (float32, bool) {
		gu, gv := frac(u*cols), frac(v*rows)
		if gv > 0.85 || gu > 0.92 {
			return 6, true // the gap between pixels
		}
		w := stripe[min(int(gu/0.92*3), 2)]
		mu := (u - u0) / codeFrac
		mv := (v - v0) / ch
		lum := light
		if mu >= 0 && mv >= 0 && mu < 1 && mv < 1 && mods[int(mv*n)][int(mu*n)] {
			lum = dark
		} else if mu < -quiet/n || mv < -quiet/n || mu > 1+quiet/n || mv > 1+quiet/n {
			lum = light * 0.8 // the app's frame around the code
		}
		return lum * w, true
	})
	q := screen.Inner(u0, v0, u0+codeFrac, v0+ch)
	s.texts = append(s.texts, text)
	s.quads = append(s.quads, q)
	gx, gy := SquareToQuad(q).Apply(s.rng.Float64(), s.rng.Float64())
	side := math.Hypot(q[1].X-q[0].X, q[1].Y-q[0].Y)
	s.c.Glare(gx, gy, side*(0.05+0.05*s.rng.Float64()), 60+s.rng.Float64()*60)
	s.c.Clip()
	s.jpeg = 80
	return nil
}

// cardCropped: the code with its quiet zone is 1.0 to 1.1 times the
// frame's smaller side; it is pushed against one or two frame edges so
// that on those sides 0 to 1.5 modules of the quiet zone remain.
func (s *scene) cardCropped() error {
	text := s.payload()
	if s.rng.IntN(2) == 0 {
		text = s.cccd()
	}
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	n := float64(len(mods))
	side := float64(min(s.w, s.h)) * (0.82 + 0.1*s.rng.Float64()) // the code itself
	ppm := side / n
	full := side + 8*ppm
	lk := look{roll: s.sym(6), pitch: s.sym(8), yaw: s.sym(8), blur: ppm * (0.05 + 0.1*s.rng.Float64())}
	// Quiet zone left on the cropped side(s), in modules.
	keep := 1.5 * s.rng.Float64()
	cx, cy := float64(s.w)/2+s.sym(float64(s.w-min(s.w, s.h))/2), float64(s.h)/2
	switch s.rng.IntN(4) {
	case 0: // top
		cy = side/2 + keep*ppm
	case 1: // bottom
		cy = float64(s.h) - side/2 - keep*ppm
	case 2: // top and left or right
		cy = side/2 + keep*ppm
		if s.w > s.h {
			cx = side/2 + keep*ppm
		}
	case 3:
		cy = float64(s.h) - side/2 - keep*ppm
		if s.w > s.h {
			cx = float64(s.w) - side/2 - keep*ppm
		}
	}
	s.place(mods, text, Pose{CX: cx, CY: cy, Size: full, Roll: lk.roll, Pitch: lk.pitch, Yaw: lk.yaw, Focal: 4 * full}, lk)
	return nil
}

// tiltedSmall: modules of about 3.5 to 5 pixels at 1024x768 (scaled with
// the frame), the code tilted 50 to 70 degrees about one axis, seen from
// a close camera.
func (s *scene) tiltedSmall() error {
	ppm := s.ppm(2.2, 3.2)
	pitch, yaw := s.tilt(50, 70), s.sym(15)
	if s.rng.IntN(2) == 0 {
		pitch, yaw = yaw, pitch
	}
	return s.code(s.shortURL(), ppm, 0.5, look{roll: s.sym(40), pitch: pitch, yaw: yaw, focal: 2})
}

// sheet: 60 short codes in a 10×6 grid (6×10 in a tall frame) on a sheet
// filling most of the frame, slightly turned.
func (s *scene) sheet() error {
	cols, rows := 10, 6
	if s.h > s.w {
		cols, rows = rows, cols
	}
	sheetW, sheetH := float64(s.w)*0.94, float64(s.h)*0.94
	cw, ch := sheetW/float64(cols), sheetH/float64(rows)
	base := s.rng.IntN(9000)
	roll := s.sym(4)
	ox, oy := (float64(s.w)-sheetW)/2, (float64(s.h)-sheetH)/2
	paper := float32(205 + s.rng.Float64()*30)
	s.c.Draw(Quad{{ox - 4, oy - 4}, {ox + sheetW + 4, oy - 4}, {ox + sheetW + 4, oy + sheetH + 4}, {ox - 4, oy + sheetH + 4}}, 1,
		func(u, v float64) (float32, bool) { return paper, true })
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			text := fmt.Sprintf("DESK-%04d-%d%d", base+r*cols+c, r, c)
			mods, err := Modules(text, qrcode.Medium)
			if err != nil {
				return err
			}
			full := math.Min(cw, ch) * 0.86
			cx := ox + (float64(c)+0.5)*cw + s.sym(0.02*cw)
			cy := oy + (float64(r)+0.5)*ch + s.sym(0.02*ch)
			s.place(mods, text, Pose{CX: cx, CY: cy, Size: full, Roll: roll + s.sym(2), Pitch: s.sym(5), Yaw: s.sym(5)}, look{dark: 30, light: float64(paper)})
		}
	}
	return nil
}

// lightPoints: a dark room (background about 20 to 40), the code dimly
// lit (paper 70 to 110), and 6 to 20 small saturated points of light
// (lamps, LEDs, reflections), about a third of them on the code.
func (s *scene) lightPoints() error {
	s.c.Contrast(0, 0.25)
	ppm := s.ppm(3, 6)
	paper := 70 + s.rng.Float64()*40
	if err := s.code(s.payload(), ppm, 0.7, look{roll: s.sym(30), pitch: s.sym(15), yaw: s.sym(15), dark: 8 + s.rng.Float64()*10, light: paper}); err != nil {
		return err
	}
	q := s.quads[len(s.quads)-1]
	h := SquareToQuad(q)
	k := 6 + s.rng.IntN(15)
	for i := 0; i < k; i++ {
		var x, y float64
		if i%3 == 0 {
			x, y = h.Apply(s.rng.Float64(), s.rng.Float64())
		} else {
			x, y = s.rng.Float64()*float64(s.w), s.rng.Float64()*float64(s.h)
		}
		r := ppm * (0.4 + 1.2*s.rng.Float64())
		s.c.Glare(x, y, r, 400+s.rng.Float64()*400)
	}
	s.noise = 3
	s.c.Clip()
	return nil
}

// cylinder: the code wrapped round a cylinder whose axis is upright (or
// level), spanning 70 to 110 degrees of it, shaded as it turns away.
func (s *scene) cylinder() error {
	text := s.payload()
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	n := float64(len(mods))
	ppm := s.ppm(3.5, 6)
	side := math.Min(n*ppm, 0.6*float64(min(s.w, s.h)))
	span := (70 + 40*s.rng.Float64()) * math.Pi / 180 // angle the code covers
	radius := side / span                             // the arc length is the code's side
	lo, hi := float32(20+s.rng.Float64()*20), float32(190+s.rng.Float64()*45)
	cx := float64(s.w)/2 + s.sym(float64(s.w)*0.2)
	cy := float64(s.h)/2 + s.sym(float64(s.h)*0.15)
	vertical := s.rng.IntN(3) != 0
	roll := s.sym(10) * math.Pi / 180
	quiet := 4 / n
	// Image of the point (u, v) of the code (with its quiet zone, [0,1)²).
	at := func(u, v float64) Point {
		th := (u - 0.5) * span * (1 + 2*quiet)
		x := radius * math.Sin(th)
		y := (v - 0.5) * side * (1 + 2*quiet)
		if !vertical {
			x, y = y, x
		}
		return Point{cx + x*math.Cos(roll) - y*math.Sin(roll), cy + x*math.Sin(roll) + y*math.Cos(roll)}
	}
	// Draw as many thin strips as the curvature needs, each a flat quad.
	strips := 64
	for i := 0; i < strips; i++ {
		u0, u1 := float64(i)/float64(strips), float64(i+1)/float64(strips)
		var q Quad
		if vertical {
			q = Quad{at(u0, 0), at(u1, 0), at(u1, 1), at(u0, 1)}
		} else {
			q = Quad{at(u0, 0), at(u0, 1), at(u1, 1), at(u1, 0)}
		}
		th := ((u0+u1)/2 - 0.5) * span * (1 + 2*quiet)
		shade := float32(0.55 + 0.45*math.Cos(th))
		s.c.Draw(q, 3, func(a, b float64) (float32, bool) {
			u, v := u0+a*(u1-u0), b
			if !vertical {
				u, v = u0+b*(u1-u0), a
			}
			mx, my := int(u*(n+8))-4, int(v*(n+8))-4
			if mx >= 0 && my >= 0 && mx < int(n) && my < int(n) && mods[my][mx] {
				return lo * shade, true
			}
			return hi * shade, true
		})
	}
	c0, c1 := quiet/(1+2*quiet), (1+quiet)/(1+2*quiet)
	q := Quad{at(c0, c0), at(c1, c0), at(c1, c1), at(c0, c1)}
	s.texts = append(s.texts, text)
	s.quads = append(s.quads, q)
	return nil
}

// bentLarge: modules of 3 to 4.5 pixels in a frame 480 pixels high (scaled
// with the frame; at most 85% of its smaller side with the quiet zone), the
// page bowed along one axis: each point moves by bow (1 to 3% of the
// code's side) times (2u-1)², u across the code.
func (s *scene) bentLarge() error {
	text := s.hc1()
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	n := float64(len(mods))
	full := math.Min(s.ppm(3, 4.5)*(n+8), 0.85*float64(min(s.w, s.h)))
	bow := (0.01 + 0.02*s.rng.Float64()) * full
	if s.rng.IntN(2) == 0 {
		bow = -bow
	}
	across := s.rng.IntN(2) == 0 // bowed along the code's rows, else its columns
	p := Pose{CX: float64(s.w)/2 + s.sym(0.05*float64(s.w)), CY: float64(s.h)/2 + s.sym(0.05*float64(s.h)),
		Size: full, Roll: s.sym(20), Pitch: s.sym(15), Yaw: s.sym(15)}
	dark, light := float32(25+s.rng.Float64()*20), float32(200+s.rng.Float64()*35)
	q := s.c.DrawBowed(mods, p, bow, across, dark, light)
	s.texts = append(s.texts, text)
	s.quads = append(s.quads, q)
	return nil
}

// DrawBowed draws mods (a quiet zone of four modules, ink dark on paper
// light) at pose p, the page bowed along the code's rows (or, rows false,
// its columns): each point moves by bow pixels times (2u-1)², u across the
// code, in thin flat strips. It returns the code's corners without the
// quiet zone.
func (c *Canvas) DrawBowed(mods [][]bool, p Pose, bow float64, rows bool, dark, light float32) Quad {
	h := SquareToQuad(p.Quad())
	at := func(u, v float64) Point {
		x, y := h.Apply(u, v)
		if rows {
			return Point{x, y + bow*(2*u-1)*(2*u-1)}
		}
		return Point{x + bow*(2*v-1)*(2*v-1), y}
	}
	shade := CodeShader(mods, 4, dark, light)
	const strips = 48
	for i := 0; i < strips; i++ {
		a0, a1 := float64(i)/strips, float64(i+1)/strips
		q := Quad{at(a0, 0), at(a1, 0), at(a1, 1), at(a0, 1)}
		sh := func(a, b float64) (float32, bool) { return shade(a0+a*(a1-a0), b) }
		if !rows {
			q = Quad{at(0, a0), at(1, a0), at(1, a1), at(0, a1)}
			sh = func(a, b float64) (float32, bool) { return shade(a, a0+b*(a1-a0)) }
		}
		c.Draw(q, 3, sh)
	}
	n := float64(len(mods))
	c0, c1 := 4/(n+8), (n+4)/(n+8)
	return Quad{at(c0, c0), at(c1, c0), at(c1, c1), at(c0, c1)}
}

// toJPEG passes the frame through a JPEG encoder at quality q, as a phone
// saves its photos.
func toJPEG(g *image.Gray, q int) (*image.Gray, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, g, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("encode JPEG: %w", err)
	}
	img, err := jpeg.Decode(&b)
	if err != nil {
		return nil, fmt.Errorf("decode JPEG: %w", err)
	}
	out, ok := img.(*image.Gray)
	if !ok {
		return nil, fmt.Errorf("JPEG decoded as %T", img)
	}
	return out, nil
}

// shortURL is a short link of the kind small printed codes carry (version 2).
func (s *scene) shortURL() string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("HTTPS://QR.GATE.VN/")
	for i := 0; i < 9; i++ {
		b = append(b, alnum[s.rng.IntN(len(alnum))])
	}
	return string(b)
}
