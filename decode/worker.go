package decode

import (
	"context"
	"math"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	multidetector "github.com/makiuchi-d/gozxing/multi/qrcode/detector"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	zxdetector "github.com/makiuchi-d/gozxing/qrcode/detector"

	"checkpoint"
)

// worker is the scratch state of one decoding goroutine. Its buffers grow
// to the largest frame seen and are reused, so a steady stream of frames
// without codes allocates nothing.
type worker struct {
	opts Options
	dec  *decoder.Decoder

	full, half thresholds // block statistics of the frame and of its half-size copy
	th         thresholds // thresholds of the plane being binarized
	bm         bitmap
	s          searcher
	det        detector
	hitsFull   hits
	hitsHalf   hits
	halfBuf    []byte
	upBuf      []byte
	upRows     []uint16
	rowBuf     []uint64
	runBuf     []int32
	used       []bool
	found      []located
	scale      float64 // frame pixels per plane pixel of the current attempt
}

func newWorker(opts Options) *worker {
	w := &worker{opts: opts, dec: decoder.NewDecoder()}
	w.det.dec = w.dec
	w.det.mats = make(map[int]*gozxing.BitMatrix)
	return w
}

// hit is a place where the prescan saw something like a finder pattern.
type hit struct {
	x, y, size int32 // centre and width of the five runs
	y0, y1     int32 // first and last row that saw it
}

// hits gathers the prescan's hits of one plane, by polarity (dark patterns
// on light, light on dark), merging hits of one pattern seen in several rows.
type hits struct {
	dark, light []hit
}

const maxHits = 48

func (h *hits) reset() {
	h.dark, h.light = h.dark[:0], h.light[:0]
}

func addHit(l []hit, x, y, size int32) []hit {
	for i := range l {
		c := &l[i]
		if abs32(c.x-x) <= c.size/2 && y-c.y1 <= c.size/2 && abs32(c.size-size) <= c.size/2 {
			c.y1 = y
			c.y = (c.y0 + c.y1) / 2
			return l
		}
	}
	if len(l) >= maxHits {
		return l
	}
	return append(l, hit{x: x, y: y, size: size, y0: y, y1: y})
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// rect is a pixel rectangle [x0,x1)×[y0,y1).
type rect struct{ x0, y0, x1, y1 int }

func (r rect) empty() bool { return r.x1 <= r.x0 || r.y1 <= r.y0 }

// noRect is the empty rectangle union starts from.
var noRect = rect{math.MaxInt32, math.MaxInt32, math.MinInt32, math.MinInt32}

// union returns the smallest rectangle holding r and the point (x, y)
// grown by m on every side.
func (r rect) union(x, y, m int) rect {
	return rect{min(r.x0, x-m), min(r.y0, y-m), max(r.x1, x+m), max(r.y1, y+m)}
}

// clip limits r to a w×h plane.
func (r rect) clip(w, h int) rect {
	return rect{max(r.x0, 0), max(r.y0, 0), min(r.x1, w), min(r.y1, h)}
}

// codeLike reports whether three of the hits could be the finder patterns
// of one code, tilted or not: each no taller than a finder pattern, sizes
// within a factor of 2.5, at least ten modules apart, at roughly a right
// angle. It also returns the region such codes could cover.
func codeLike(l []hit) (bool, rect) {
	r := noRect
	n := len(l)
	found := 0
	ok := func(h hit) bool { return h.y1-h.y0 <= 2*h.size }
	for i := 0; i < n && found < 64; i++ {
		a := l[i]
		if !ok(a) {
			continue
		}
		for j := i + 1; j < n; j++ {
			b := l[j]
			if !ok(b) || !near(a, b) || !apart(a, b) {
				continue
			}
			for k := j + 1; k < n; k++ {
				c := l[k]
				if !ok(c) || !near(a, c) || !near(b, c) || !apart(a, c) || !apart(b, c) {
					continue
				}
				var v, e1, e2 hit
				switch {
				case rightish(a, b, c):
					v, e1, e2 = a, b, c
				case rightish(b, a, c):
					v, e1, e2 = b, a, c
				case rightish(c, a, b):
					v, e1, e2 = c, a, b
				default:
					continue
				}
				found++
				// The three centres and the fourth corner they imply, with
				// a margin for the finder patterns, the quiet zone and
				// perspective.
				m := int(max(a.size, b.size, c.size))
				lx, ly := int(e1.x-v.x+e2.x-v.x), int(e1.y-v.y+e2.y-v.y)
				m += (abs(lx) + abs(ly)) / 8
				r = r.union(int(v.x), int(v.y), m)
				r = r.union(int(e1.x), int(e1.y), m)
				r = r.union(int(e2.x), int(e2.y), m)
				r = r.union(int(e1.x+e2.x-v.x), int(e1.y+e2.y-v.y), m)
			}
		}
	}
	return found > 0, r
}

// near reports whether two hits have module sizes within a factor of 2.5.
func near(a, b hit) bool {
	return 2*a.size <= 5*b.size && 2*b.size <= 5*a.size
}

// apart reports whether two hits are at least ten modules apart.
func apart(a, b hit) bool {
	dx, dy := int64(a.x-b.x), int64(a.y-b.y)
	s := int64(a.size+b.size) * 10 / 14 // ten modules of their mean size
	return dx*dx+dy*dy >= s*s
}

// rightish reports whether the angle at v between the other two is 45° to 135°.
func rightish(v, a, b hit) bool {
	ax, ay := float64(a.x-v.x), float64(a.y-v.y)
	bx, by := float64(b.x-v.x), float64(b.y-v.y)
	dot := ax*bx + ay*by
	return dot*dot <= 0.5*(ax*ax+ay*ay)*(bx*bx+by*by)
}

func (w *worker) decode(ctx context.Context, f *checkpoint.Frame) ([]checkpoint.Symbol, error) {
	start := time.Now()
	p := plane{w: f.Width, h: f.Height, stride: f.Stride, pix: f.Y}
	if p.w < minBinarize || p.h < minBinarize {
		return w.plain(f), nil
	}
	w.found = w.found[:0]

	// Fast path: one pass for block statistics, then a sparse row scan for
	// anything shaped like a finder pattern, at full and half size. Most
	// frames hold no code and end here.
	w.full.stats(p)
	w.full.compute(false)
	hf, hh := &w.hitsFull, &w.hitsHalf
	w.prescan(p, &w.full, 3, hf)
	hp := half(p, w.halfBuf)
	w.halfBuf = hp.pix
	hh.reset()
	if hp.w >= minBinarize && hp.h >= minBinarize {
		w.half.stats(hp)
		w.half.compute(false)
		w.prescan(hp, &w.half, 2, hh)
	}
	fd, fdr := codeLike(hf.dark)
	fl, flr := codeLike(hf.light)
	hd, hdr := codeLike(hh.dark)
	hl, hlr := codeLike(hh.light)
	if !fd && !fl && !hd && !hl {
		return nil, nil
	}

	type attempt struct {
		p      plane
		st     *thresholds
		scale  float64
		invert bool
		ok     bool
		r      rect
	}
	attempts := [...]attempt{
		{p, &w.full, 1, false, fd, fdr},
		{hp, &w.half, 2, false, hd, hdr},
		{p, &w.full, 1, true, fl, flr},
		{hp, &w.half, 2, true, hl, hlr},
	}
	for _, a := range attempts {
		if !a.ok || w.over(ctx, start) {
			continue
		}
		r := a.r.clip(a.p.w, a.p.h)
		w.attempt(a.p, a.st, a.invert, a.scale, r)
		if len(w.found) == 0 && (r.x1-r.x0)*(r.y1-r.y0) < a.p.w*a.p.h*2/3 && !w.over(ctx, start) {
			// The code may reach beyond the region the prescan saw.
			w.attempt(a.p, a.st, a.invert, a.scale, rect{0, 0, a.p.w, a.p.h})
		}
		if len(w.found) > 0 {
			break
		}
	}
	if len(w.found) == 0 && !w.over(ctx, start) && !noUp {
		// Small modules: retry on the region enlarged 1.5 times.
		r := noRect
		for _, a := range attempts {
			if a.ok {
				k := int(a.scale)
				r = r.union(a.r.x0*k, a.r.y0*k, 0).union(a.r.x1*k, a.r.y1*k, 0)
			}
		}
		// Grow it: the prescan may have missed a finder pattern the
		// enlarged image shows.
		gx, gy := (r.x1-r.x0)/4, (r.y1-r.y0)/4
		r = rect{r.x0 - gx, r.y0 - gy, r.x1 + gx, r.y1 + gy}.clip(p.w, p.h)
		r.x0 &^= 1
		r.y0 &^= 1
		if sub := p.sub(r.x0, r.y0, r.x1, r.y1); sub.w >= minBinarize && sub.h >= minBinarize {
			var up plane
			up, w.upRows = up32(sub, w.upBuf, w.upRows)
			w.upBuf = up.pix
			w.th.stats(up)
			n := len(w.found)
			w.attempt(up, &w.th, false, 2.0/3, rect{0, 0, up.w, up.h})
			for i := n; i < len(w.found); i++ {
				for k := range w.found[i].corners {
					w.found[i].corners[k].x += float64(r.x0)
					w.found[i].corners[k].y += float64(r.y0)
				}
			}
		}
	}
	if len(w.found) == 0 && !w.over(ctx, start) && !noPlain {
		return w.plain(f), nil
	}
	return w.symbols(), nil
}

// over reports whether the frame's time budget is spent or ctx is done.
func (w *worker) over(ctx context.Context, start time.Time) bool {
	if ctx.Err() != nil {
		return true
	}
	return w.opts.Budget > 0 && time.Since(start) > w.opts.Budget
}

// attempt binarizes the region r of p (whose block statistics st holds) in
// one polarity, finds finder patterns there and decodes every code they
// outline.
func (w *worker) attempt(p plane, st *thresholds, invert bool, scale float64, r rect) {
	st.compute(invert)
	binarizeRect(p, st, invert, &w.bm, r)
	w.s.scan(&w.bm, 2, r.y0, r.y1)
	fs := w.s.found
	if len(fs) < 3 {
		return
	}
	w.det.b = &w.bm
	w.used = w.used[:0]
	for range fs {
		w.used = append(w.used, false)
	}
	tries := 0
	for _, t := range w.det.triples(fs) {
		if w.used[t.tl] || w.used[t.tr] || w.used[t.bl] {
			continue
		}
		if tries++; tries > 24 {
			break
		}
		loc, ok := w.det.decodeTriple(fs, t)
		if !ok {
			continue
		}
		w.used[t.tl], w.used[t.tr], w.used[t.bl] = true, true, true
		for i := range loc.corners {
			loc.corners[i].x *= scale
			loc.corners[i].y *= scale
		}
		w.add(loc)
	}
}

// add records a decoded code unless its text was already found.
func (w *worker) add(loc located) {
	for _, l := range w.found {
		if l.res.GetText() == loc.res.GetText() {
			return
		}
	}
	w.found = append(w.found, loc)
}

func (w *worker) symbols() []checkpoint.Symbol {
	if len(w.found) == 0 {
		return nil
	}
	out := make([]checkpoint.Symbol, len(w.found))
	for i, l := range w.found {
		cs := make([]checkpoint.Point, 4)
		for k, c := range l.corners {
			cs[k] = checkpoint.Point{X: c.x, Y: c.y}
		}
		out[i] = checkpoint.Symbol{Text: l.res.GetText(), Corners: cs}
	}
	return out
}

// prescan binarizes every step-th row of p and counts the places where five
// runs in the ratio 1:1:3:1:1 hold up along the column too, for dark and for
// light patterns.
func (w *worker) prescan(p plane, t *thresholds, step int, h *hits) {
	h.reset()
	words := (p.w + 63) >> 6
	if cap(w.rowBuf) < words {
		w.rowBuf = make([]uint64, words)
	}
	row := w.rowBuf[:words]
	if cap(w.runBuf) < p.w+2 {
		w.runBuf = make([]int32, 0, p.w+2)
	}
	for y := step / 2; y < p.h; y += step {
		binarizeRow(p.row(y), t.thr[min(y>>blockPow, t.bh-1)*t.bw:], false, row)
		r := runs(row, p.w, w.runBuf)
		x := int32(0)
		for i := 0; i+4 < len(r); i++ {
			c := (*[5]int32)(r[i : i+5])
			if ratio5(c) {
				light := i&1 == 0 // runs start with a light one
				cx := x + c[0] + c[1] + c[2]/2
				total := c[0] + c[1] + c[2] + c[3] + c[4]
				if vcheck(p, t, int(cx), y, int(total), light) {
					if light {
						h.light = addHit(h.light, cx, int32(y), total)
					} else {
						h.dark = addHit(h.dark, cx, int32(y), total)
					}
				}
			}
			x += r[i]
		}
		w.runBuf = r
	}
}

// ratio5 is ratio(c, 0.5) in integers: each one-module run within half a
// module and half a pixel of total/7, the centre within three times that.
func ratio5(c *[5]int32) bool {
	T := c[0] + c[1] + c[2] + c[3] + c[4]
	if T < 7 {
		return false
	}
	// |7c - T| < 7(T/14 + 0.5)  <=>  |14c - 2T| < T + 7
	lim := T + 7
	for _, k := range [4]int32{c[0], c[1], c[3], c[4]} {
		d := 14*k - 2*T
		if d >= lim || -d >= lim || k == 0 {
			return false
		}
	}
	// |3T/7 - c2| < 3(T/14 + 0.5)  <=>  |6T - 14c2| < 3T + 21
	d := 6*T - 14*c[2]
	return d < 3*T+21 && -d < 3*T+21
}

// vcheck counts the runs up and down the column through (x, y) on the
// luminance plane and reports whether they look like a finder pattern too.
func vcheck(p plane, t *thresholds, x, y, total int, light bool) bool {
	dark := func(yy int) bool {
		v := int(p.pix[yy*p.stride+x])
		th := int(t.thr[min(yy>>blockPow, t.bh-1)*t.bw+min(x>>blockPow, t.bw-1)])
		return (v <= th) != light
	}
	var c [5]int32
	maxRun := int32(total)
	i := y
	for i >= 0 && dark(i) {
		c[2]++
		i--
	}
	for k := 1; k >= 0; k-- {
		want := k == 0
		for i >= 0 && dark(i) == want && c[k] <= maxRun {
			c[k]++
			i--
		}
	}
	if i < 0 && c[0] == 0 {
		return false
	}
	i = y + 1
	for i < p.h && dark(i) {
		c[2]++
		i++
	}
	for k := 3; k <= 4; k++ {
		want := k == 4
		for i < p.h && dark(i) == want && c[k] <= maxRun {
			c[k]++
			i++
		}
	}
	vt := int(c[0] + c[1] + c[2] + c[3] + c[4])
	if 2*vt < total || vt > 2*total {
		return false
	}
	return ratio(&c, 0.6)
}

var tryHarder = map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}

// plain is gozxing's own detector over the whole frame: the last resort,
// and the path for frames too small for the block binarizer.
func (w *worker) plain(f *checkpoint.Frame) []checkpoint.Symbol {
	src, err := gozxing.NewPlanarYUVLuminanceSource(f.Y, f.Stride, f.Height, 0, 0, f.Width, f.Height, false)
	if err != nil {
		return nil
	}
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		return nil
	}
	m, err := bmp.GetBlackMatrix()
	if err != nil {
		return nil
	}
	if drs, err := multidetector.NewMultiDetector(m).DetectMulti(tryHarder); err == nil {
		for _, dr := range drs {
			w.addPlain(dr)
		}
	}
	if len(w.found) == 0 {
		if dr, err := zxdetector.NewDetector(m).Detect(tryHarder); err == nil {
			w.addPlain(dr)
		}
	}
	return w.symbols()
}

// addPlain decodes one of gozxing's detector results.
func (w *worker) addPlain(dr *common.DetectorResult) {
	res, err := w.dec.Decode(dr.GetBits(), nil)
	if err != nil {
		return
	}
	pts := dr.GetPoints()
	if len(pts) < 3 {
		return
	}
	bl, tl, tr := pts[0], pts[1], pts[2]
	var ap *zxdetector.AlignmentPattern
	if len(pts) > 3 {
		ap, _ = pts[3].(*zxdetector.AlignmentPattern)
	}
	dim := dr.GetBits().GetWidth()
	t := zxdetector.Detector_createTransform(tl, tr, bl, ap, dim)
	d := float64(dim)
	xy := []float64{0, 0, d, 0, d, d, 0, d}
	if md, ok := res.GetOther().(*decoder.QRCodeDecoderMetaData); ok && md.IsMirrored() {
		xy = []float64{0, 0, 0, d, d, d, d, 0}
	}
	t.TransformPoints(xy)
	var loc located
	loc.res = res
	for i := range loc.corners {
		loc.corners[i] = point{xy[2*i], xy[2*i+1]}
		if math.IsNaN(xy[2*i]) {
			return
		}
	}
	w.add(loc)
}
