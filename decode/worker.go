package decode

import (
	"math"
	"slices"
	"sync/atomic"

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
	opts   Options
	trace  func(w *worker, step string)
	dec    *decoder.Decoder
	pyr    pyramid // the frame and its halvings, with their thresholds and hits
	up     level   // a region enlarged 1.5 times
	fs     frameState
	bm     bitmap
	s      searcher
	det    detector
	expBuf []uint8
	upRows []uint16
	rowBuf []uint64
	runBuf []int32
	used   []bool
	found  []located
	roiHit bool   // the last frame's codes were found in the hinted region
	quick  bool   // the prescan found nothing like a code in the last frame
	skip   []rect // codes found in the region of interest
	hitIdx []int32
	trio   [3]finder    // a pair of patterns and a place for the third (completePairs)
	tries  atomic.Int64 // finder triples tried, ever (tests watch it from outside)
	memo   memo
	hist   [32]int
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
	// tilted: every row that saw it found it over twice as tall as wide,
	// or under half (a pattern squashed by a strong tilt)
	tilted bool
}

// hits gathers the prescan's hits of one plane, by polarity (dark patterns
// on light, light on dark), merging hits of one pattern seen in several rows.
type hits struct {
	dark, light []hit
}

// maxHits bounds each polarity's hits in a plane. A list that fills is a
// texture at that scale (a screen's pixel grid, fabric, noise): the
// prescan stops adding to it, and its hits, from the rows above the one
// where it filled, make no candidate. A code of fine modules below such a
// texture is not seen at that level; coarser levels may see it.
const maxHits = 512

func (h *hits) reset() {
	h.dark, h.light = h.dark[:0], h.light[:0]
}

// of returns the hits of one polarity.
func (h *hits) of(light bool) []hit {
	if light {
		return h.light
	}
	return h.dark
}

// full reports whether the hits of one polarity have reached maxHits.
func (h *hits) full(light bool) bool { return len(h.of(light)) >= maxHits }

func addHit(l []hit, x, y, size int32, tilted bool) []hit {
	for i := range l {
		c := &l[i]
		if abs32(c.x-x) <= c.size/2 && y-c.y1 <= c.size/2 && abs32(c.size-size) <= c.size/2 {
			c.y1 = y
			c.y = (c.y0 + c.y1) / 2
			c.tilted = c.tilted && tilted
			return l
		}
	}
	if len(l) >= maxHits {
		return l
	}
	return append(l, hit{x: x, y: y, size: size, y0: y, y1: y, tilted: tilted})
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// rect is a pixel rectangle [x0,x1)×[y0,y1).
type rect struct{ x0, y0, x1, y1 int }

// noRect is the empty rectangle union starts from.
var noRect = rect{math.MaxInt32, math.MaxInt32, math.MinInt32, math.MinInt32}

// union returns the smallest rectangle holding r and the point (x, y)
// grown by m on every side.
func (r rect) union(x, y, m int) rect {
	return rect{min(r.x0, x-m), min(r.y0, y-m), max(r.x1, x+m), max(r.y1, y+m)}
}

// join returns the smallest rectangle holding r and q.
func (r rect) join(q rect) rect {
	return rect{min(r.x0, q.x0), min(r.y0, q.y0), max(r.x1, q.x1), max(r.y1, q.y1)}
}

// skipped reports whether the hits a, b, c (in a plane scaled down by k)
// all lie in one of the rectangles.
func skipped(rs []rect, k int, a, b, c hit) bool {
	for _, r := range rs {
		in := func(h hit) bool {
			x, y := int(h.x)*k, int(h.y)*k
			return x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1
		}
		if in(a) && in(b) && in(c) {
			return true
		}
	}
	return false
}

// clip limits r to a w×h plane.
func (r rect) clip(w, h int) rect {
	return rect{max(r.x0, 0), max(r.y0, 0), min(r.x1, w), min(r.y1, h)}
}

// codeLike reports whether three of the hits could be the finder patterns
// of one code, tilted or not: each no taller than a finder pattern, sizes
// within a factor of 2.5, spread as one code's patterns are, at roughly a right
// angle. It also returns the region such codes could cover and their
// module size (the hits' mean). Three hits all inside one of the skip
// rectangles (frame pixels; the hits' plane is the frame scaled down by
// scale) do not count.
//
// It scales with the number of hits: a hit crowded by others within its
// own width is texture (a finder pattern has a light ring, then its
// code's modules, around it) and is dropped; the rest are sorted along x
// and each pairs only with hits at most 30 finder widths away (a code of
// version 40 spans 25), so a sheet of many codes costs about the hits
// times their neighbours squared; of many hits, only those seen in rows
// over a fifth of their height count. Only hits of the size class count.
// scratch is reused.
func codeLike(l []hit, skip []rect, scale int, cls sizeClass, scratch *[]int32) (bool, rect, float64) {
	idx := (*scratch)[:0]
	for i, h := range l {
		if !cls.holds(h) {
			continue
		}
		if h.y1-h.y0 <= 2*h.size && !crowded(l, i) {
			idx = append(idx, int32(i))
		}
	}
	if len(idx) > 48 {
		// Many hits: keep those seen over a fifth of their height, as a
		// finder pattern's three middle modules are and the chance 1:1:3:1:1
		// runs of a large code's data modules mostly are not.
		n := 0
		for _, i := range idx {
			if h := l[i]; 5*(h.y1-h.y0) >= h.size {
				idx[n] = i
				n++
			}
		}
		idx = idx[:n]
	}
	slices.SortFunc(idx, func(a, b int32) int { return int(l[a].x - l[b].x) })
	*scratch = idx
	r := noRect
	found, sizes := 0, 0
	for ii, i := range idx {
		a := l[i]
		reach := 30 * a.size
		for jj := ii + 1; jj < len(idx) && l[idx[jj]].x-a.x <= reach; jj++ {
			b := l[idx[jj]]
			if !near(a, b) || !apart(a, b, 5) || abs32(b.y-a.y) > reach {
				continue
			}
			for _, k := range idx[jj+1:] {
				c := l[k]
				if c.x-a.x > reach {
					break
				}
				if abs32(c.y-a.y) > reach || !near(a, c) || !near(b, c) || !spread(a, b, c) || !alike(a, b, c) {
					continue
				}
				if skipped(skip, scale, a, b, c) {
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
				sizes += int(a.size + b.size + c.size)
				r = r.join(codeBox(v, e1, e2))
			}
		}
	}
	if found == 0 {
		return false, r, 0
	}
	return true, r, float64(sizes) / float64(3*found) / 7
}

// sizeClass is a range of hit widths [lo, hi) (hi 0: no bound); with lo
// set, only hits seen in more than one row count.
type sizeClass struct{ lo, hi int32 }

func (c sizeClass) holds(h hit) bool {
	return (c.lo == 0 || h.size >= c.lo && h.y1 > h.y0) && (c.hi == 0 || h.size < c.hi)
}

// crowded reports whether two other hits lie within hit i's width of it.
func crowded(l []hit, i int) bool {
	h, n := l[i], 0
	for j, g := range l {
		if j != i && abs32(g.x-h.x) < h.size && abs32(g.y-h.y) < h.size {
			if n++; n >= 2 {
				return true
			}
		}
	}
	return false
}

// codeBox is the rectangle holding the three finder centres of a code (v
// the corner one) and the fourth corner they imply, with a margin for the
// finder patterns, the quiet zone and perspective.
func codeBox(v, e1, e2 hit) rect {
	m := int(max(v.size, e1.size, e2.size))
	lx, ly := int(e1.x-v.x+e2.x-v.x), int(e1.y-v.y+e2.y-v.y)
	m += (abs(lx) + abs(ly)) / 8
	r := noRect.union(int(v.x), int(v.y), m)
	r = r.union(int(e1.x), int(e1.y), m)
	r = r.union(int(e2.x), int(e2.y), m)
	return r.union(int(e1.x+e2.x-v.x), int(e1.y+e2.y-v.y), m)
}

// strong counts the hits of the size class seen in more than one row.
func strong(l []hit, cls sizeClass) int {
	n := 0
	for _, h := range l {
		if cls.holds(h) && h.y1 > h.y0 && h.y1-h.y0 <= 2*h.size {
			n++
		}
	}
	return n
}

// near reports whether two hits have module sizes within a factor of 2.5.
func near(a, b hit) bool {
	return 2*a.size <= 5*b.size && 2*b.size <= 5*a.size
}

// apart reports whether two hits are at least n modules apart (of their
// mean width).
func apart(a, b hit, n int64) bool {
	dx, dy := int64(a.x-b.x), int64(a.y-b.y)
	s := int64(a.size+b.size) * n / 14
	return dx*dx+dy*dy >= s*s
}

// alike reports whether three hits are all tilted or none is: one code's
// patterns are squashed alike.
func alike(a, b, c hit) bool { return a.tilted == b.tilted && b.tilted == c.tilted }

// spread reports whether three hits lie as one code's finder patterns do:
// 14 modules apart or more seen straight on. A tilt of up to 69 degrees
// shortens one leg to five modules, or both legs to ten (tilted along the
// diagonal), but never two of the three distances below ten.
func spread(a, b, c hit) bool {
	if !apart(a, b, 5) || !apart(a, c, 5) || !apart(b, c, 5) {
		return false
	}
	long := 0
	for _, p := range [3][2]hit{{a, b}, {a, c}, {b, c}} {
		if apart(p[0], p[1], 10) {
			long++
		}
	}
	return long >= 2
}

// rightish reports whether the angle at v between the other two is 45° to 135°.
func rightish(v, a, b hit) bool {
	ax, ay := float64(a.x-v.x), float64(a.y-v.y)
	bx, by := float64(b.x-v.x), float64(b.y-v.y)
	dot := ax*bx + ay*by
	return dot*dot <= 0.5*(ax*ax+ay*ay)*(bx*bx+by*by)
}

// binarizer says how attempt thresholds a region.
type binarizer uint8

const (
	// estimated uses the block statistics st holds (for the frame itself,
	// those the prescan estimated from its half) and, for dark codes, the
	// thresholds computed from them.
	estimated binarizer = iota
	// measured measures the region's block statistics first: zxing's
	// HybridBinarizer.
	measured
	// global uses one threshold for the region, from its histogram: zxing's
	// GlobalHistogramBinarizer, for codes the local thresholds break up
	// (glare, large flat areas).
	global
)

// attempt binarizes the region r of the level's plane in one polarity,
// finds finder patterns and decodes every code they outline; when none is
// read, codes of which it saw only two patterns (completePairs).
func (w *worker) attempt(lv *level, invert bool, r rect, how binarizer) {
	p, st := lv.p, &lv.th
	br := blocksOf(r, st.bw, st.bh)
	switch how {
	case measured:
		st.statsRect(p, br)
		st.computeRect(invert, br)
	case estimated:
		if invert {
			st.computeRect(invert, br)
		}
	case global:
		t, ok := globalThreshold(p, r, &w.hist)
		if !ok {
			return
		}
		if invert {
			t = 254 - t // light pixels, p > t, are set
		}
		for by := br.y0; by < br.y1; by++ {
			row := st.of(invert)[by*st.bw : by*st.bw+st.bw]
			for bx := br.x0; bx < br.x1; bx++ {
				row[bx] = uint8(t)
			}
		}
	}
	binarizeRect(p, st, invert, &w.bm, r)
	w.s.scan(&w.fs, &w.bm, 2, r.y0, r.y1)
	fs := w.s.found
	if len(fs) < 2 {
		return
	}
	w.det.b, w.det.lum, w.det.th, w.det.inv = &w.bm, p, st, invert
	w.used = w.used[:0]
	for range fs {
		w.used = append(w.used, false)
	}
	// First only where the format information agrees (cheap to reject),
	// then, if nothing was read, the best few triples in full (a damaged
	// copy of the format information). Every pattern may be in a code, so
	// the tries grow with their number.
	// Once a code is read, the patterns inside it are used, and only
	// triples of modules like its own are tried (a sheet's other codes,
	// not a screen's pixel grid about it).
	ts := w.det.triples(fs)
	n := len(w.found)
	var first float64
	for _, strict := range [2]bool{true, false} {
		tries, limit := 0, 24+2*len(fs)
		if !strict {
			limit = 4 + len(fs)/4
		}
		for _, t := range ts {
			if w.used[t.tl] || w.used[t.tr] || w.used[t.bl] {
				continue
			}
			if m := (fs[t.tl].module + fs[t.tr].module + fs[t.bl].module) / 3; first > 0 && (2*m > 5*first || 2*first > 5*m) {
				continue
			}
			if tries++; tries > limit || w.fs.cancelled() || (tries > 24 && w.over(&w.fs)) {
				break // beyond the first 24, only within the budget
			}
			w.tries.Add(1)
			loc, ok := w.det.decodeTriple(fs, t, strict)
			if !ok {
				continue
			}
			w.used[t.tl], w.used[t.tr], w.used[t.bl] = true, true, true
			if first == 0 {
				first = (fs[t.tl].module + fs[t.tr].module + fs[t.bl].module) / 3
			}
			w.keep(fs, loc, lv, invert)
		}
		if len(w.found) > n {
			return
		}
	}
	w.completePairs(fs, lv, r, invert)
}

// keep records a code read in level lv: the patterns inside it are used,
// and its corners are taken to frame pixels.
func (w *worker) keep(fs []finder, loc located, lv *level, invert bool) {
	w.useInside(fs, loc.corners)
	for i := range loc.corners {
		loc.corners[i].x = loc.corners[i].x*lv.fscale + lv.ox
		loc.corners[i].y = loc.corners[i].y*lv.fscale + lv.oy
	}
	loc.level, loc.invert = lv.index, invert
	w.add(loc)
}

// useInside marks the finder patterns inside the quadrilateral q (a code
// just read, in the attempt's plane) used: they belong to no other code.
func (w *worker) useInside(fs []finder, q [4]point) {
	for i, f := range fs {
		in := true
		for k := range q {
			a, b := q[k], q[(k+1)%4]
			if (b.x-a.x)*(f.y-a.y)-(b.y-a.y)*(f.x-a.x) < 0 {
				in = false
				break
			}
		}
		if in {
			w.used[i] = true
		}
	}
}

// add records a decoded code unless its text is empty (what noise that
// error correction happens to accept mostly reads as) or was already
// found.
func (w *worker) add(loc located) {
	if loc.res.GetText() == "" {
		return
	}
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

// prescan binarizes every step-th row of p and records the places where
// five runs in the ratio 1:1:3:1:1 hold up along the column too, for dark
// and for light patterns. The thresholds t are those of p scaled down by
// 2^shift.
func (w *worker) prescan(p plane, t *thresholds, shift uint, step int, h *hits) {
	words := (p.w + 63) >> 6
	if cap(w.rowBuf) < words {
		w.rowBuf = make([]uint64, words)
	}
	row := w.rowBuf[:words]
	if cap(w.runBuf) < p.w+2 {
		w.runBuf = make([]int32, 0, p.w+2)
	}
	nb := (p.w + blockSize - 1) >> blockPow
	w.expBuf = growU8(w.expBuf, nb)
	exp := w.expBuf
	last := -1
	for y := step / 2; y < p.h; y += step {
		if y&63 < step && w.fs.cancelled() {
			return
		}
		if tr := min(y>>(blockPow+shift), t.bh-1); tr != last {
			last = tr
			src := t.thr[tr*t.bw : tr*t.bw+t.bw]
			for k := range exp {
				exp[k] = src[min(k>>shift, t.bw-1)]
			}
		}
		binarizeRow(p.row(y), exp, false, row)
		r := runs(row, p.w, w.runBuf)
		x := int32(0)
		for i := 0; i+4 < len(r); i++ {
			c := (*[5]int32)(r[i : i+5])
			light := i&1 == 0 // runs start with a light one
			if ratio5(c) && !h.full(light) {
				cx := x + c[0] + c[1] + c[2]/2
				total := c[0] + c[1] + c[2] + c[3] + c[4]
				if ok, tilted := vcheck(p, t, shift, int(cx), y, int(total), light); ok {
					if light {
						h.light = addHit(h.light, cx, int32(y), total, tilted)
					} else {
						h.dark = addHit(h.dark, cx, int32(y), total, tilted)
					}
				}
			}
			x += r[i]
		}
		w.runBuf = r
		if h.full(false) && h.full(true) {
			return
		}
	}
}

// ratio5 is ratio(c, 0.5) in integers: each one-module run within half a
// module and half a pixel of total/7, the centre within one and a half
// modules and half a pixel of 3·total/7.
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
	// |3T/7 - c2| < 3T/14 + 0.5  <=>  |6T - 14c2| < 3T + 7: the half pixel
	// once only, or even stripes would pass.
	d := 6*T - 14*c[2]
	return d < 3*T+7 && -d < 3*T+7
}

// vcheck counts the runs up and down the column through (x, y) on the
// luminance plane and reports whether they look like a finder pattern too.
func vcheck(p plane, t *thresholds, shift uint, x, y, total int, light bool) (ok, tilted bool) {
	col := t.thr[min(x>>(blockPow+shift), t.bw-1):]
	dark := func(yy int) bool {
		v := int(p.pix[yy*p.stride+x])
		th := int(col[min(yy>>(blockPow+shift), t.bh-1)*t.bw])
		return (v <= th) != light
	}
	// A tilt (of up to 70 degrees) may make the pattern three times as tall
	// as wide, or a third: no run may be longer than three times its share
	// of the width.
	lim := [5]int32{int32(total*3/7 + 1), int32(total*3/7 + 1), int32(total*9/7 + 1), int32(total*3/7 + 1), int32(total*3/7 + 1)}
	var c [5]int32
	i := y
	for i >= 0 && dark(i) {
		if c[2]++; c[2] > lim[2] {
			return false, false
		}
		i--
	}
	for k := 1; k >= 0; k-- {
		want := k == 0
		for i >= 0 && dark(i) == want {
			if c[k]++; c[k] > lim[k] {
				return false, false
			}
			i--
		}
	}
	i = y + 1
	for i < p.h && dark(i) {
		if c[2]++; c[2] > lim[2] {
			return false, false
		}
		i++
	}
	for k := 3; k <= 4; k++ {
		want := k == 4
		for i < p.h && dark(i) == want {
			if c[k]++; c[k] > lim[k] {
				return false, false
			}
			i++
		}
	}
	vt := int(c[0] + c[1] + c[2] + c[3] + c[4])
	if 3*vt < total || vt > 3*total {
		return false, false
	}
	return ratio(&c, 0.6), 2*vt < total || vt > 2*total
}

var tryHarder = map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}

// plain is gozxing's own detector over the frame, or over pyramid level k
// of it: the last resort, and the path for frames too small for the block
// binarizer. Its cost grows with the cube of the finder patterns it sees
// (it weighs every triple of them and samples each plausible one in
// full), so it runs only where our finder search, over gozxing's own
// binarization, sees at most maxPlainFinders; its triples are decoded one
// at a time, each after checking ctx and the budget.
func (w *worker) plain(fs *frameState, f *checkpoint.Frame, k int) []checkpoint.Symbol {
	p := plane{w: f.Width, h: f.Height, stride: f.Stride, pix: f.Y}
	scale := 1.0
	if k > 0 {
		lv := w.pyr.level(k)
		p, scale = lv.p, lv.fscale
	}
	src, err := gozxing.NewPlanarYUVLuminanceSource(p.pix, p.stride, p.h, 0, 0, p.w, p.h, false)
	if err != nil {
		return nil
	}
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		return nil
	}
	m, err := bmp.GetBlackMatrix()
	if err != nil || w.plainFinders(fs, m) > maxPlainFinders {
		return w.symbols()
	}
	det := zxdetector.NewDetector(m)
	if infos, err := multidetector.NewMultiFinderPatternFinder(m, nil).FindMulti(tryHarder); err == nil {
		for _, info := range infos {
			if w.over(fs) {
				return w.symbols()
			}
			if dr, err := det.ProcessFinderPatternInfo(info); err == nil {
				w.addPlain(dr, scale)
			}
		}
	}
	if len(w.found) == 0 && !w.over(fs) {
		if dr, err := det.Detect(tryHarder); err == nil {
			w.addPlain(dr, scale)
		}
	}
	return w.symbols()
}

// maxPlainFinders is the most finder patterns gozxing's detector is given.
const maxPlainFinders = 24

// plainFinders counts the finder patterns our search sees in gozxing's
// bitmap m (copied into the worker's bitmap).
func (w *worker) plainFinders(fs *frameState, m *gozxing.BitMatrix) int {
	b := &w.bm
	b.reset(m.GetWidth(), m.GetHeight())
	var row *gozxing.BitArray
	for y := 0; y < b.h; y++ {
		row = m.GetRow(y, row)
		words := row.GetBitArray()
		out := b.row(y)
		for i := range out {
			var lo, hi uint64
			if 2*i < len(words) {
				lo = uint64(words[2*i])
			}
			if 2*i+1 < len(words) {
				hi = uint64(words[2*i+1])
			}
			out[i] = lo | hi<<32
		}
	}
	w.s.scan(fs, b, 2, 0, b.h)
	return len(w.s.found)
}

// addPlain decodes one of gozxing's detector results, found in a plane
// scale times smaller than the frame.
func (w *worker) addPlain(dr *common.DetectorResult, scale float64) {
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
		loc.corners[i] = point{xy[2*i] * scale, xy[2*i+1] * scale}
		if math.IsNaN(xy[2*i]) {
			return
		}
	}
	w.add(loc)
}

// globalThreshold estimates one black point for the region r of p from its
// histogram, as zxing's GlobalHistogramBinarizer: the deepest valley
// between the two main peaks. It fails when the region has one peak only.
func globalThreshold(p plane, r rect, hist *[32]int) (int, bool) {
	clear(hist[:])
	// Every other row and column is plenty for a histogram.
	for y := r.y0; y < r.y1; y += 2 {
		row := p.row(y)[r.x0:r.x1]
		for x := 0; x < len(row); x += 2 {
			hist[row[x]>>3]++
		}
	}
	maxCount, first, firstSize := 0, 0, 0
	for x, c := range hist {
		if c > firstSize {
			first, firstSize = x, c
		}
		maxCount = max(maxCount, c)
	}
	second, secondScore := 0, 0
	for x, c := range hist {
		d := x - first
		if score := c * d * d; score > secondScore {
			second, secondScore = x, score
		}
	}
	if first > second {
		first, second = second, first
	}
	if second-first <= len(hist)/16 {
		return 0, false
	}
	valley, valleyScore := second-1, -1
	for x := second - 1; x > first; x-- {
		d := x - first
		if score := d * d * (second - x) * (maxCount - hist[x]); score > valleyScore {
			valley, valleyScore = x, score
		}
	}
	return valley << 3, true
}

// memoFrames is how many frames a static region without a code is skipped
// before it is looked at again.
const memoFrames = 30

// memo is a region where the prescan saw something code-like that no
// attempt could read, with the block sums it had then. A fixed camera sees
// the same poster, barcode or pattern in every frame; while the region
// stays as it was, the attempts are not repeated.
type memo struct {
	ok     bool
	r      rect  // frame pixels
	br     brect // its blocks in the frame's block grid
	bw, bh int   // the grid's size
	sums   []uint16
	age    int // frames since it was stored
}

// remember stores r as a region without a code, with the frame's current
// block sums.
func (w *worker) remember(r rect) {
	m := &w.memo
	t := &w.pyr.level(0).th
	if r.x1 <= r.x0 || r.y1 <= r.y0 {
		m.ok = false
		return
	}
	m.ok, m.r, m.age = true, r, 0
	m.br = blocksOf(r, t.bw, t.bh)
	m.bw, m.bh = t.bw, t.bh
	m.sums = m.sums[:0]
	for by := m.br.y0; by < m.br.y1; by++ {
		m.sums = append(m.sums, t.sum[by*t.bw+m.br.x0:by*t.bw+m.br.x1]...)
	}
}

// static reports whether r lies in the remembered region and the frame's
// block sums there (as the prescan estimated them) are as they were: the
// mean block differs by at most 3 levels, none by more than 12.
func (w *worker) static(r rect) bool {
	m := &w.memo
	t := &w.pyr.level(0).th
	if !m.ok || m.age > memoFrames || m.bw != t.bw || m.bh != t.bh ||
		r.x0 < m.r.x0 || r.y0 < m.r.y0 || r.x1 > m.r.x1 || r.y1 > m.r.y1 {
		return false
	}
	total, k := 0, 0
	for by := m.br.y0; by < m.br.y1; by++ {
		for _, v := range t.sum[by*t.bw+m.br.x0 : by*t.bw+m.br.x1] {
			d := int(v) - int(m.sums[k])
			if d < 0 {
				d = -d
			}
			if d > 12*64 {
				return false
			}
			total += d
			k++
		}
	}
	return total <= 3*64*k
}
