// Package corpus renders a reproducible set of camera-like frames holding QR
// codes: clean, rotated, tilted, blurred, low-contrast, on a phone screen
// with a pixel grid and glare, on a printed card in shadow, several at once,
// light-on-dark, and frames without any code. The same seed always gives the
// same frames. Its drawing primitives (Canvas, Pose, Draw, CodeShader) are
// exported for other generators.
package corpus

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"

	qrcode "github.com/skip2/go-qrcode"

	"checkpoint"
)

// Category names a kind of generated frame.
type Category string

// The generated categories.
const (
	Clean             Category = "clean"
	Rotated           Category = "rotated"
	PerspectiveMild   Category = "perspective-mild"
	PerspectiveStrong Category = "perspective-strong"
	Blurred           Category = "blur"
	LowContrast       Category = "low-contrast"
	PhoneScreen       Category = "phone-screen"
	CardShadow        Category = "card-shadow"
	Several           Category = "several"
	Inverted          Category = "inverted"
	CloseUp           Category = "close-up"
	Empty             Category = "empty"
)

// Categories lists the categories of the first corpus in a stable order
// (GateCategories are the later ones).
var Categories = []Category{Clean, Rotated, PerspectiveMild, PerspectiveStrong, Blurred, LowContrast,
	PhoneScreen, CardShadow, Several, Inverted, CloseUp, Empty}

// Case is one generated frame and the texts of the codes drawn on it.
type Case struct {
	Name     string // category/WxH/index, e.g. "blur/640x480/003"
	Category Category
	Frame    *checkpoint.Frame
	Texts    []string // one per code drawn; none for Empty
	Quads    []Quad   // the outer corners of each code (without quiet zone), as Texts
}

// Options say which frames Generate renders.
type Options struct {
	Seed       uint64
	Width      int
	Height     int
	PerCat     int        // frames per category
	Categories []Category // nil: all
}

// Generate renders PerCat frames of each category, on all CPUs. Each frame
// depends only on the seed, its size, category and index.
func Generate(o Options) ([]Case, error) {
	if o.Width < 64 || o.Height < 64 {
		return nil, fmt.Errorf("corpus: frame size %dx%d too small", o.Width, o.Height)
	}
	cats := o.Categories
	if cats == nil {
		cats = Categories
	}
	type item struct {
		cat Category
		i   int
	}
	var items []item
	for _, cat := range cats {
		for i := 0; i < o.PerCat; i++ {
			items = append(items, item{cat, i})
		}
	}
	out := make([]Case, len(items))
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				out[k], errs[k] = Render(o.Seed, items[k].cat, o.Width, o.Height, items[k].i)
			}
		}()
	}
	for k := range items {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Render draws frame i of a category.
func Render(seed uint64, cat Category, w, h, i int) (Case, error) {
	hs := fnv.New64a()
	fmt.Fprintf(hs, "%s/%dx%d/%d", cat, w, h, i)
	rng := rand.New(rand.NewPCG(seed, hs.Sum64()))
	s := &scene{rng: rng, w: w, h: h, scale: float64(min(w, h)) / 480}
	s.c = NewCanvas(w, h, 0)
	s.c.Texture(rng, 90+rng.Float64()*80, 40)
	s.distractors()
	var err error
	switch cat {
	case Clean:
		err = s.code(s.payload(), s.ppm(2.5, 6), 0, look{roll: s.sym(4), pitch: s.sym(8), yaw: s.sym(8)})
	case Rotated:
		err = s.code(s.payload(), s.ppm(2.5, 6), 0, look{roll: rng.Float64() * 360, pitch: s.sym(8), yaw: s.sym(8)})
	case PerspectiveMild:
		err = s.code(s.payload(), s.ppm(3, 6), 0, look{roll: s.sym(30), pitch: s.tilt(15, 30), yaw: s.tilt(10, 30), focal: 2.5})
	case PerspectiveStrong:
		err = s.code(s.payload(), s.ppm(4, 7), 0, look{roll: s.sym(30), pitch: s.tilt(35, 50), yaw: s.tilt(5, 30), focal: 1.5})
	case Blurred:
		ppm := s.ppm(4, 7)
		err = s.code(s.payload(), ppm, 0, look{roll: s.sym(20), pitch: s.sym(10), yaw: s.sym(10), blur: ppm * (0.3 + 0.15*rng.Float64())})
	case LowContrast:
		err = s.code(s.payload(), s.ppm(3, 6), 0, look{roll: s.sym(20), pitch: s.sym(10), yaw: s.sym(10), dark: 105 + rng.Float64()*20, light: 150 + rng.Float64()*15})
	case PhoneScreen:
		err = s.phone()
	case CardShadow:
		err = s.card()
	case Several:
		err = s.several()
	case Inverted:
		err = s.code(s.payload(), s.ppm(3, 6), 0, look{roll: s.sym(30), pitch: s.sym(12), yaw: s.sym(12), dark: 225, light: 30})
	case CloseUp:
		err = s.closeUp()
	case Empty:
	default:
		var known bool
		if known, err = s.gate(cat); !known {
			return Case{}, fmt.Errorf("corpus: unknown category %q", cat)
		}
	}
	if err != nil {
		return Case{}, fmt.Errorf("corpus %s/%dx%d/%d: %w", cat, w, h, i, err)
	}
	s.camera()
	g := s.c.Gray()
	if s.jpeg > 0 {
		if g, err = toJPEG(g, s.jpeg); err != nil {
			return Case{}, fmt.Errorf("corpus %s/%dx%d/%d: %w", cat, w, h, i, err)
		}
	}
	f := &checkpoint.Frame{Width: w, Height: h, Stride: w, Y: g.Pix}
	return Case{Name: fmt.Sprintf("%s/%dx%d/%03d", cat, w, h, i), Category: cat, Frame: f, Texts: s.texts, Quads: s.quads}, nil
}

// scene is a frame being composed.
type scene struct {
	rng   *rand.Rand
	w, h  int
	scale float64 // min(w, h) / 480: module sizes grow with the frame
	c     *Canvas
	texts []string
	quads []Quad
	blur  float64 // extra optical blur
	noise float64
	jpeg  int // JPEG quality the frame is saved at (0: not)
}

// look is how one code faces the camera and how it is printed.
type look struct {
	roll, pitch, yaw float64
	focal            float64 // camera distance in code sizes (0: far, no perspective)
	blur             float64
	dark, light      float64 // 0, 0: ink 25..45 on paper 200..235
}

func (s *scene) sym(a float64) float64 { return (s.rng.Float64()*2 - 1) * a }

// tilt is a random angle of magnitude lo..hi and random sign.
func (s *scene) tilt(lo, hi float64) float64 {
	a := lo + s.rng.Float64()*(hi-lo)
	if s.rng.IntN(2) == 0 {
		return -a
	}
	return a
}

// ppm is a random module size in pixels, scaled with the frame.
func (s *scene) ppm(lo, hi float64) float64 {
	return (lo + s.rng.Float64()*(hi-lo)) * s.scale
}

// code draws one code of text with modules of about ppm pixels centred in a
// random spot where it fits (maxFrac: largest side as a fraction of the
// frame's smaller side, 0 for 0.8).
func (s *scene) code(text string, ppm, maxFrac float64, lk look) error {
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	if maxFrac == 0 {
		maxFrac = 0.8
	}
	n := float64(len(mods))
	size := n * ppm
	if lim := maxFrac * float64(min(s.w, s.h)) / (1 + 8/n); size > lim {
		size = lim
	}
	full := size * (n + 8) / n // with the quiet zone
	for try := 0; ; try++ {
		margin := full * 0.5
		cx := margin + s.rng.Float64()*math.Max(0, float64(s.w)-2*margin)
		cy := margin + s.rng.Float64()*math.Max(0, float64(s.h)-2*margin)
		p := Pose{CX: cx, CY: cy, Size: full, Roll: lk.roll, Pitch: lk.pitch, Yaw: lk.yaw, Focal: lk.focal * full}
		if s.inside(p.Quad()) || try == 50 {
			s.place(mods, text, p, lk)
			return nil
		}
		if try%10 == 9 {
			full *= 0.95
		}
	}
}

// inside reports whether q lies within the frame.
func (s *scene) inside(q Quad) bool {
	for _, p := range q {
		if p.X < 1 || p.Y < 1 || p.X > float64(s.w-1) || p.Y > float64(s.h-1) {
			return false
		}
	}
	return true
}

// place draws mods (with a 4-module quiet zone) at pose.
func (s *scene) place(mods [][]bool, text string, p Pose, lk look) {
	dark, light := lk.dark, lk.light
	if dark == 0 && light == 0 {
		dark, light = 25+s.rng.Float64()*20, 200+s.rng.Float64()*35
	}
	q := p.Quad()
	s.c.Draw(q, 3, CodeShader(mods, 4, float32(dark), float32(light)))
	n := float64(len(mods))
	s.texts = append(s.texts, text)
	s.quads = append(s.quads, q.Inner(4/(n+8), 4/(n+8), (n+4)/(n+8), (n+4)/(n+8)))
	s.blur = math.Max(s.blur, lk.blur)
}

// camera applies the lens blur and sensor noise every frame gets.
func (s *scene) camera() {
	s.c.Blur(math.Max(0.5+s.rng.Float64()*0.3, s.blur))
	s.c.Noise(s.rng, math.Max(1.5+s.rng.Float64()*1.5, s.noise))
}

// distractors draws things that are not codes: boxes, stripes, text lines.
func (s *scene) distractors() {
	n := 2 + s.rng.IntN(5)
	for k := 0; k < n; k++ {
		w := (20 + s.rng.Float64()*150) * s.scale
		h := (20 + s.rng.Float64()*150) * s.scale
		p := Pose{CX: s.rng.Float64() * float64(s.w), CY: s.rng.Float64() * float64(s.h), Size: w, Roll: s.sym(45)}
		q := p.Quad()
		q = Quad{q[0], q[1], Lerp(q[1], q[2], h/w), Lerp(q[0], q[3], h/w)}
		lum := float32(s.rng.Float64() * 255)
		switch s.rng.IntN(3) {
		case 0: // flat box
			s.c.Draw(q, 2, func(u, v float64) (float32, bool) { return lum, true })
		case 1: // stripes, like a barcode or blinds
			f := 3 + s.rng.Float64()*12
			s.c.Draw(q, 2, func(u, v float64) (float32, bool) {
				if frac(u*f) < 0.5 {
					return lum, true
				}
				return 255 - lum, true
			})
		case 2: // lines of "text"
			lines := 3 + s.rng.Float64()*8
			seed := s.rng.Uint64()
			s.c.Draw(q, 2, func(u, v float64) (float32, bool) {
				row := math.Floor(v * lines)
				if frac(v*lines) > 0.55 {
					return 230, true
				}
				word := uint64(u*30) + uint64(row)*31 + seed
				if (word*2654435761)>>7%5 == 0 {
					return 230, true
				}
				return 40, true
			})
		}
	}
}

// payload is a random text as the scanner meets it: a 1405 personal QR, a
// CCCD QR, or an HC1 certificate (versions 11 to 16).
func (s *scene) payload() string {
	switch r := s.rng.IntN(10); {
	case r < 4:
		return s.vn1405()
	case r < 7:
		return s.cccd()
	}
	return s.hc1()
}

var (
	families = []string{"NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "VU", "DANG", "BUI", "DO", "HO"}
	middles  = []string{"VAN", "THI", "DUC", "MINH", "NGOC", "HUU", "THANH"}
	givens   = []string{"AN", "BINH", "CHI", "DUNG", "HA", "KHANH", "LAN", "MAI", "NAM", "PHUONG", "QUANG", "TUAN"}
	vnNames  = []string{"Nguyễn Văn An", "Trần Thị Bình", "Lê Đức Chí", "Phạm Ngọc Dũng", "Hoàng Thị Hà", "Võ Minh Khánh"}
	places   = []string{"Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh", "Xã Tân Phú, Huyện Đồng Phú, Bình Phước",
		"Phường Láng Hạ, Quận Đống Đa, Hà Nội", "Thị trấn Phong Điền, Thừa Thiên Huế"}
)

func (s *scene) digits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(byte('0' + s.rng.IntN(10)))
	}
	return b.String()
}

func (s *scene) pick(l []string) string { return l[s.rng.IntN(len(l))] }

func (s *scene) vn1405() string {
	name := s.pick(families) + " " + s.pick(middles) + " " + s.pick(givens)
	t := fmt.Sprintf("******%s|%s|%d-%02d-%02d|%d|%s%s|", s.digits(6), name, 1940+s.rng.IntN(70),
		1+s.rng.IntN(12), 1+s.rng.IntN(28), s.rng.IntN(2), s.digits(6), strings.ToUpper(fmt.Sprintf("%x", s.rng.Uint64())))
	if s.rng.IntN(2) == 0 {
		t += fmt.Sprintf("<%d<0%s", s.rng.IntN(3), s.digits(9))
	}
	return t
}

func (s *scene) cccd() string {
	return fmt.Sprintf("0%s|%s|%s|%02d%02d%d|%s|%s|%02d%02d%d", s.digits(11), s.digits(9), s.pick(vnNames),
		1+s.rng.IntN(28), 1+s.rng.IntN(12), 1950+s.rng.IntN(55), []string{"Nam", "Nữ"}[s.rng.IntN(2)],
		s.pick(places), 1+s.rng.IntN(28), 1+s.rng.IntN(12), 2016+s.rng.IntN(6))
}

const base45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

func (s *scene) hc1() string {
	n := 330 + s.rng.IntN(300)
	b := []byte("HC1:")
	for i := 0; i < n; i++ {
		b = append(b, base45[s.rng.IntN(len(base45))])
	}
	return string(b)
}

// phone draws a phone held up to the camera: a dark body, a bright screen
// whose pixel grid beats against the camera's (moiré), the code on it, and a
// lamp's glare on the glass.
func (s *scene) phone() error {
	text := s.payload()
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	n := float64(len(mods))
	ppm := s.ppm(3.5, 6)
	code := math.Min(n*ppm, 0.62*float64(min(s.w, s.h)))
	screenW := code * (n + 10) / n
	bodyW := screenW * 1.12
	lk := look{roll: s.sym(25), pitch: s.sym(18), yaw: s.sym(18)}
	codeFrac := 0.9 * n / (n + 10) // code side as a fraction of the screen width
	u0 := (1 - codeFrac) / 2
	v0 := 0.5 - codeFrac/1.45/2*0.98
	var tall, screen Quad
	for try := 0; ; try++ {
		margin := bodyW * 0.6
		cx := margin + s.rng.Float64()*math.Max(0, float64(s.w)-2*margin)
		cy := margin + s.rng.Float64()*math.Max(0, float64(s.h)-2*margin)
		p := Pose{CX: cx, CY: cy + 0.22*bodyW, Size: bodyW, Roll: lk.roll, Pitch: lk.pitch, Yaw: lk.yaw, Focal: 3 * bodyW}
		body := p.Quad()
		// The body is taller than wide; the code sits in its middle.
		tall = Quad{Lerp(body[3], body[0], 1.45), Lerp(body[2], body[1], 1.45), body[2], body[3]}
		screen = tall.Inner(0.05, 0.04, 0.95, 0.96)
		m := 4 / n
		ch := codeFrac / 1.45 * 0.98
		if s.inside(screen.Inner(u0-m*codeFrac, v0-m*ch, u0+(1+m)*codeFrac, v0+(1+m)*ch)) || try == 50 {
			break
		}
	}
	s.c.Draw(tall, 2, func(u, v float64) (float32, bool) { return 18, true })
	// Screen pixels: about one per camera pixel, with dark gaps between.
	pitch := 0.85 + s.rng.Float64()*0.5
	cols := screenW * 0.9 / pitch
	rows := cols * 1.45 * 0.92 / 0.9
	light := float32(215 + s.rng.Float64()*30)
	dark := float32(20 + s.rng.Float64()*25)
	s.c.DrawFine(screen, 4, func(u, v float64) (float32, bool) {
		gu, gv := frac(u*cols), frac(v*rows)
		gap := float32(1)
		if gu > 0.75 || gv > 0.8 {
			gap = 0.55
		}
		mu := (u - u0) / codeFrac
		mv := (v - v0) / (codeFrac / 1.45 * 0.98)
		lum := light
		if mu >= 0 && mv >= 0 && mu < 1 && mv < 1 && mods[int(mv*n)][int(mu*n)] {
			lum = dark
		}
		return lum * gap, true
	})
	q := screen.Inner(u0, v0, u0+codeFrac, v0+codeFrac/1.45*0.98)
	s.texts = append(s.texts, text)
	s.quads = append(s.quads, q)
	// Glare over part of the code, then the sensor clips.
	gx, gy := SquareToQuad(q).Apply(0.2+0.6*s.rng.Float64(), 0.2+0.6*s.rng.Float64())
	s.c.Glare(gx, gy, code*(0.06+0.06*s.rng.Float64()), 90+s.rng.Float64()*80)
	s.c.Clip()
	return nil
}

// card draws a printed card with the code, tilted, half in a shadow.
func (s *scene) card() error {
	text := s.payload()
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	n := float64(len(mods))
	ppm := s.ppm(3, 6)
	code := math.Min(n*ppm, 0.55*float64(min(s.w, s.h)))
	// The card is 1.59 times wider than tall and leaves the code a quiet
	// zone of at least four modules.
	cardW := code * math.Max(1.9, (1+8/n)/0.63*1.05)
	lk := look{roll: s.sym(25), pitch: s.sym(25), yaw: s.sym(25)}
	cw, ch := code/cardW, code/cardW/0.63
	cu0, cv0 := 1-cw-4*cw/n-0.02, 0.5-ch/2
	var cardQ Quad
	for try := 0; ; try++ {
		cx := float64(s.w)/2 + s.sym(float64(s.w)*0.2)
		cy := float64(s.h)/2 + s.sym(float64(s.h)*0.15)
		p := Pose{CX: cx, CY: cy + 0.185*cardW, Size: cardW, Roll: lk.roll, Pitch: lk.pitch, Yaw: lk.yaw, Focal: 2.5 * cardW}
		sq := p.Quad()
		cardQ = Quad{sq[0], sq[1], Lerp(sq[1], sq[2], 0.63), Lerp(sq[0], sq[3], 0.63)}
		m := 4 / n // quiet zone in code units
		if s.inside(cardQ.Inner(cu0-m*cw, cv0-m*ch, cu0+(1+m)*cw, cv0+(1+m)*ch)) || try == 50 {
			break
		}
		if try%10 == 9 {
			cardW *= 0.95
			code *= 0.95
		}
	}
	paper := float32(205 + s.rng.Float64()*30)
	// Code on the right of the card; lines of text on the left.
	s.c.Draw(cardQ, 3, func(u, v float64) (float32, bool) {
		mu, mv := (u-cu0)/cw, (v-cv0)/ch
		if mu >= 0 && mv >= 0 && mu < 1 && mv < 1 {
			if mods[int(mv*n)][int(mu*n)] {
				return 30, true
			}
			return paper, true
		}
		if u > 0.06 && u < cu0-0.06 && v > 0.15 && v < 0.85 && frac(v*12) < 0.35 && frac(u*23) < 0.8 {
			return 60, true
		}
		return paper, true
	})
	q := cardQ.Inner(cu0, cv0, cu0+cw, cv0+ch)
	s.texts = append(s.texts, text)
	s.quads = append(s.quads, q)
	// A shadow falling across the card from one side.
	a := s.rng.Float64() * 2 * math.Pi
	r := code * (0.1 + 0.2*s.rng.Float64())
	cx, cy := SquareToQuad(cardQ).Apply(0.5+0.3*s.rng.Float64(), 0.5)
	s.c.Shade(cx-r*math.Cos(a), cy-r*math.Sin(a), cx+r*math.Cos(a), cy+r*math.Sin(a), 0.3+0.15*s.rng.Float64(), 1)
	return nil
}

// several draws two to four 1405 codes side by side.
func (s *scene) several() error {
	k := 2 + s.rng.IntN(3)
	cols := 2
	rows := (k + 1) / 2
	cw, ch := float64(s.w)/float64(cols), float64(s.h)/float64(rows)
	for i := 0; i < k; i++ {
		text := s.vn1405()
		mods, err := Modules(text, qrcode.Medium)
		if err != nil {
			return err
		}
		n := float64(len(mods))
		full := math.Min(n*s.ppm(2.5, 5), 0.72*math.Min(cw, ch)/(1+8/n)) * (n + 8) / n
		cx := (float64(i%cols)+0.5)*cw + s.sym((cw-full*1.2)/2*0.8)
		cy := (float64(i/cols)+0.5)*ch + s.sym(math.Max(0, (ch-full*1.2)/2*0.8))
		s.place(mods, text, Pose{CX: cx, CY: cy, Size: full, Roll: s.sym(25), Pitch: s.sym(10), Yaw: s.sym(10)}, look{})
	}
	return nil
}

// closeUp draws a code held too close: large, soft, partly out of focus.
func (s *scene) closeUp() error {
	text := s.vn1405()
	if s.rng.IntN(2) == 0 {
		text = s.cccd()
	}
	mods, err := Modules(text, qrcode.Medium)
	if err != nil {
		return err
	}
	n := float64(len(mods))
	full := float64(min(s.w, s.h)) * (0.85 + 0.1*s.rng.Float64())
	ppm := full / (n + 8)
	lk := look{roll: s.sym(15), pitch: s.sym(10), yaw: s.sym(10), blur: ppm * (0.25 + 0.1*s.rng.Float64())}
	cx := float64(s.w)/2 + s.sym(float64(s.w-min(s.w, s.h))/2)
	cy := float64(s.h) / 2
	s.place(mods, text, Pose{CX: cx, CY: cy, Size: full, Roll: lk.roll, Pitch: lk.pitch, Yaw: lk.yaw, Focal: 3 * full}, lk)
	return nil
}
