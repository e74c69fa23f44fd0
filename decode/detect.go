package decode

import (
	"cmp"
	"math"
	"slices"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// The detector turns three finder patterns into a sampled module grid for
// gozxing's decoder. Unlike zxing's detector it does not trust a single
// module-size estimate: it traces each finder pattern's outer square, fits a
// homography (perspective included) to the twelve corners and three centres
// for each plausible dimension, reads the version information of large
// codes to settle the dimension, and adds the alignment patterns to the fit
// before sampling.

type point struct{ x, y float64 }

// line is a line through p with unit direction d.
type line struct{ p, d point }

func intersect(a, b line) (point, bool) {
	den := a.d.x*b.d.y - a.d.y*b.d.x
	if math.Abs(den) < 1e-6 {
		return point{}, false
	}
	t := ((b.p.x-a.p.x)*b.d.y - (b.p.y-a.p.y)*b.d.x) / den
	return point{a.p.x + t*a.d.x, a.p.y + t*a.d.y}, true
}

// fitLine fits a line to points by total least squares.
func fitLine(ps []point) (line, bool) {
	if len(ps) < 2 {
		return line{}, false
	}
	var mx, my float64
	for _, p := range ps {
		mx += p.x
		my += p.y
	}
	n := float64(len(ps))
	mx, my = mx/n, my/n
	var sxx, sxy, syy float64
	for _, p := range ps {
		dx, dy := p.x-mx, p.y-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	theta := 0.5 * math.Atan2(2*sxy, sxx-syy)
	return line{point{mx, my}, point{math.Cos(theta), math.Sin(theta)}}, true
}

// quad is a finder pattern's outer square: the corners at module offsets
// (0,0), (7,0), (7,7), (0,7) in the code's orientation.
type quad [4]point

const rays = 48

// rayDirs are the unit directions of the rays finderQuad casts.
var rayDirs = func() (d [rays][2]float64) {
	for k := range d {
		th := 2 * math.Pi * (float64(k) + 0.5) / rays
		d[k] = [2]float64{math.Cos(th), math.Sin(th)}
	}
	return d
}()

// ringEdge casts ray k from the centre of f and reports where it leaves
// the outer dark ring: dark centre, light ring, dark ring, light.
func (d *detector) ringEdge(f finder, k int) (point, bool) {
	dx, dy := rayDirs[k][0], rayDirs[k][1]
	phase := 0 // 0 centre dark, 1 light ring, 2 dark ring
	for t := 0.5; t < 12*f.module; t += 0.5 {
		dark := d.b.get(int(math.Floor(f.x+t*dx)), int(math.Floor(f.y+t*dy)))
		switch {
		case phase == 1:
			if dark {
				phase = 2
			}
		case !dark && phase == 2:
			return point{f.x + (t-0.25)*dx, f.y + (t-0.25)*dy}, true
		case !dark:
			phase = 1
		}
	}
	return point{}, false
}

// finderQuad traces the outer edge of the finder pattern f along rays from
// its centre and fits its four sides. (ux, uy) and (vx, vy) are the code's
// axes (towards the top-right and bottom-left patterns) in pixels per module
// at this pattern, roughly.
func (d *detector) finderQuad(f finder, ux, uy, vx, vy float64) (quad, bool) {
	var q quad
	if !d.b.get(int(f.x), int(f.y)) {
		return q, false
	}
	// Inverse of the axes matrix, to express offsets in modules.
	det := ux*vy - uy*vx
	if math.Abs(det) < 1e-9 {
		return q, false
	}
	var sides [4][]point // top, right, bottom, left
	for i := range sides {
		sides[i] = d.sidePts[i][:0]
	}
	for k := 0; k < rays; k++ {
		p, ok := d.ringEdge(f, k)
		if !ok {
			continue
		}
		// Offset in modules along the code's axes.
		ox, oy := p.x-f.x, p.y-f.y
		a := (ox*vy - oy*vx) / det
		c := (ux*oy - uy*ox) / det
		aa, ac := math.Abs(a), math.Abs(c)
		if aa < 1.5 && ac < 1.5 || aa > 6 || ac > 6 {
			continue // not on the outer ring
		}
		if math.Abs(aa-ac) < 0.25*math.Max(aa, ac) {
			continue // near a corner: belongs to no side
		}
		switch {
		case ac > aa && c < 0:
			sides[0] = append(sides[0], p)
		case aa > ac && a > 0:
			sides[1] = append(sides[1], p)
		case ac > aa && c > 0:
			sides[2] = append(sides[2], p)
		default:
			sides[3] = append(sides[3], p)
		}
	}
	for i := range sides {
		d.sidePts[i] = sides[i]
	}
	return d.quadOfSides(f, sides, 8*f.module)
}

// quadOfSides fits a line to each side's points (top, right, bottom, left)
// and returns their intersections: top-left, top-right, bottom-right,
// bottom-left, each at most reach from the centre (farther, a side was
// fitted to noise).
func (d *detector) quadOfSides(f finder, sides [4][]point, reach float64) (quad, bool) {
	var q quad
	var ls [4]line
	for i := range sides {
		if len(sides[i]) < 3 {
			return q, false
		}
		l, ok := fitLine(sides[i])
		if !ok {
			return q, false
		}
		ls[i] = l
	}
	var ok bool
	for i, pr := range [4][2]int{{0, 3}, {0, 1}, {2, 1}, {2, 3}} {
		if q[i], ok = intersect(ls[pr[0]], ls[pr[1]]); !ok {
			return q, false
		}
		if math.Hypot(q[i].x-f.x, q[i].y-f.y) > reach {
			return q, false
		}
	}
	return q, true
}

// cornerQuad traces the outer edge of f as finderQuad does, but finds its
// corners from the edge points alone (ringCorners) and fits each side to
// the points between two corners, leaving out the rays next to a corner
// (they may meet the other side). Under strong perspective a pattern's
// sides point tens of degrees away from the code's legs, and an acute
// corner's rays reach far along them: finderQuad, sorting the points by
// the legs, gives such points to the wrong side. (ux, uy) only names the
// sides; (vx, vy), unused, keeps finderQuad's signature.
func (d *detector) cornerQuad(f finder, ux, uy, _, _ float64) (quad, bool) {
	var pts [rays]point
	var have [rays]bool
	for k := range rays {
		pts[k], have[k] = d.ringEdge(f, k)
	}
	cs, ok := ringCorners(f, &pts, &have)
	if !ok {
		return quad{}, false
	}
	var sides [4][]point // in ray order, from corner cs[i] to cs[i+1]
	for i := range cs {
		from, to := cs[i], cs[(i+1)%4]
		if to < from {
			to += rays
		}
		// The rays next to a corner may meet the other side; a thin
		// pattern's short side has too few rays to leave them out.
		for skip := 2; skip >= 0; skip-- {
			sides[i] = d.sidePts[i][:0]
			for k := from + skip; k <= to-skip; k++ {
				if kk := k % rays; have[kk] {
					sides[i] = append(sides[i], pts[kk])
				}
			}
			if len(sides[i]) >= 3 {
				break
			}
		}
		d.sidePts[i] = sides[i]
		if len(sides[i]) == 0 {
			return quad{}, false
		}
	}
	// A thin pattern's acute corners lie farther than its module says.
	reach := 0.0
	for _, c := range cs {
		reach = max(reach, 1.25*math.Hypot(pts[c].x-f.x, pts[c].y-f.y))
	}
	return d.quadOfSides(f, nameSides(f, &sides, ux, uy), reach)
}

// nameSides orders a square's sides, given in ray order, as top, right,
// bottom and left of the code whose u axis is (ux, uy). Top is the side
// whose middle lies farthest back along v, in the code's axes. Rays turn
// clockwise on screen (y down), as triples do from top-right to
// bottom-left (corner), so right, bottom and left follow top.
func nameSides(f finder, sides *[4][]point, ux, uy float64) [4][]point {
	top, best := 0, math.Inf(1)
	for i, sp := range sides {
		// The middle point's coordinate along v, times u×v (positive).
		m := sp[len(sp)/2]
		if c := ux*(m.y-f.y) - uy*(m.x-f.x); c < best {
			top, best = i, c
		}
	}
	var named [4][]point
	for i := range named {
		named[i] = sides[(top+i)%4]
	}
	return named
}

// ringCorners finds the rays of a traced square's four corners, in ray
// order: the edge point farthest from the centre, the one farthest from
// it, and the farthest on either side of the line through those two.
func ringCorners(f finder, pts *[rays]point, have *[rays]bool) ([4]int, bool) {
	far := func(score func(p point) float64) int {
		best, bi := math.Inf(-1), -1
		for k, p := range pts {
			if s := score(p); have[k] && s > best {
				best, bi = s, k
			}
		}
		return bi
	}
	a := far(func(p point) float64 { return math.Hypot(p.x-f.x, p.y-f.y) })
	if a < 0 {
		return [4]int{}, false
	}
	c := far(func(p point) float64 { return math.Hypot(p.x-pts[a].x, p.y-pts[a].y) })
	side := func(p point) float64 {
		return (pts[c].x-pts[a].x)*(p.y-pts[a].y) - (pts[c].y-pts[a].y)*(p.x-pts[a].x)
	}
	cs := [4]int{a, far(side), c, far(func(p point) float64 { return -side(p) })}
	slices.Sort(cs[:])
	return cs, cs[0] != cs[1] && cs[1] != cs[2] && cs[2] != cs[3]
}

// triple is three finder patterns that may belong to one code.
type triple struct {
	tl, tr, bl int // indices into the found patterns
	score      float64
}

// triples lists plausible (top-left, top-right, bottom-left) choices among
// the found patterns, best first. Tilted codes are allowed: module sizes may
// differ by 2.5 times and the corner angle may be 55° to 125°. Up to 24
// patterns, every triple is weighed; beyond, each pattern is the corner of
// triples with its nearest neighbours only, so many codes in a frame cost
// the patterns times their neighbours squared, and no pattern is left out.
func (d *detector) triples(fs []finder) []triple {
	out := d.tri[:0]
	if n := len(fs); n <= 24 {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				for k := j + 1; k < n; k++ {
					for _, c := range [3][3]int{{i, j, k}, {j, i, k}, {k, i, j}} {
						if t, ok := corner(fs, c[0], c[1], c[2]); ok {
							out = append(out, t)
						}
					}
				}
			}
		}
	} else {
		for i := range fs {
			nb := d.neighbours(fs, i)
			for a := 0; a < len(nb); a++ {
				for b := a + 1; b < len(nb); b++ {
					if t, ok := corner(fs, i, int(nb[a]), int(nb[b])); ok {
						out = append(out, t)
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b triple) int { return cmp.Compare(a.score, b.score) })
	d.tri = out
	return out
}

// maxNeighbours is how many of its nearest patterns a pattern forms triples
// with when a frame holds many: its own code's two others are among them
// (the next code's patterns lie beyond both quiet zones).
const maxNeighbours = 10

// neighbours returns the nearest patterns to fs[i] that could share a code
// with it (module sizes within 2.5 times, 8 to 200 modules away), nearest
// first, at most maxNeighbours.
func (d *detector) neighbours(fs []finder, i int) []int32 {
	f := fs[i]
	var dist [maxNeighbours]float64
	nb := d.nb[:0]
	for j, g := range fs {
		if j == i || g.module > 2.5*f.module || f.module > 2.5*g.module {
			continue
		}
		m := (f.module + g.module) / 2
		dd := (g.x-f.x)*(g.x-f.x) + (g.y-f.y)*(g.y-f.y)
		if dd < 64*m*m || dd > 40000*m*m {
			continue
		}
		if len(nb) == maxNeighbours && dd >= dist[len(nb)-1] {
			continue
		}
		// Insert in order of distance.
		if len(nb) < maxNeighbours {
			nb = append(nb, 0)
		}
		k := len(nb) - 1
		for k > 0 && dist[k-1] > dd {
			dist[k], nb[k] = dist[k-1], nb[k-1]
			k--
		}
		dist[k], nb[k] = dd, int32(j)
	}
	d.nb = nb
	return nb
}

// corner weighs fs[c] as the top-left pattern of a code whose other two are
// fs[e1] and fs[e2]: the legs 8 to 200 modules long and within 3 times of
// each other, the angle 55° to 125°; the score is lower for a squarer,
// more even, better confirmed triple.
func corner(fs []finder, c, e1, e2 int) (triple, bool) {
	tl, a, b := fs[c], fs[e1], fs[e2]
	mmin := math.Min(tl.module, math.Min(a.module, b.module))
	mmax := math.Max(tl.module, math.Max(a.module, b.module))
	if mmax > 2.5*mmin {
		return triple{}, false
	}
	mavg := (tl.module + a.module + b.module) / 3
	l1, l2 := math.Hypot(a.x-tl.x, a.y-tl.y), math.Hypot(b.x-tl.x, b.y-tl.y)
	if l1 < 8*mavg || l2 < 8*mavg || l1 > 200*mavg || l2 > 200*mavg {
		return triple{}, false
	}
	if math.Max(l1, l2) > 3*math.Min(l1, l2) {
		return triple{}, false
	}
	cos := ((a.x-tl.x)*(b.x-tl.x) + (a.y-tl.y)*(b.y-tl.y)) / (l1 * l2)
	if math.Abs(cos) > 0.57 {
		return triple{}, false
	}
	// Clockwise on screen from top-right to bottom-left.
	cross := (a.x-tl.x)*(b.y-tl.y) - (a.y-tl.y)*(b.x-tl.x)
	t := triple{tl: c, tr: e1, bl: e2}
	if cross < 0 {
		t.tr, t.bl = t.bl, t.tr
	}
	t.score = math.Abs(cos) + math.Abs(l1-l2)/math.Max(l1, l2) + (mmax-mmin)/mmax
	t.score -= 0.02 * float64(min(tl.count+a.count+b.count, 30))
	// The longest side is opposite the corner in a code seen straight on;
	// under strong perspective another vertex may be.
	if d := (a.x-b.x)*(a.x-b.x) + (a.y-b.y)*(a.y-b.y); d < l1*l1 || d < l2*l2 {
		t.score += 0.3
	}
	return t, true
}

// detector holds the scratch state of detection in one worker.
type detector struct {
	b       *bitmap
	lum     plane       // the plane b was binarized from
	th      *thresholds // and its thresholds
	inv     bool        // b's set bits are light pixels
	grid    []float32   // sampleGrey's luminance of each module
	sidePts [4][]point
	local   localGrid // decodeLocal's alignment patterns
	tri     []triple
	nb      []int32
	pairs   []pair
	order   [][2]int
	mats    map[int]*gozxing.BitMatrix
	dec     *decoder.Decoder
}

// located is a decoded code in plane coordinates.
type located struct {
	res     *common.DecoderResult
	corners [4]point // in frame pixels once the worker has scaled them
	level   int      // the pyramid level it was found at
	invert  bool     // light on dark
}

// decodeTriple tries to decode the code whose finder patterns are t. With
// strict set, a dimension is only sampled and decoded when both copies of
// the format information agree under it: wrong triples cost little then.
func (d *detector) decodeTriple(fs []finder, t triple, strict bool) (located, bool) {
	tf := tripleFit{d: d, f: [3]finder{fs[t.tl], fs[t.tr], fs[t.bl]}, strict: strict}
	tf.trace()
	tf.candidates()
	tf.rank()
	if tf.ncs == 0 || !tf.dropBadSquare() || !tf.fitsWell() {
		return located{}, false
	}
	return tf.decode()
}

// tripleFit is one finder triple on its way to a decoded code: the traced
// squares, the candidate dimensions ranked by how well one homography fits
// them, and the dimensions to sample.
type tripleFit struct {
	d      *detector
	f      [3]finder // top-left, top-right, bottom-left
	strict bool
	qs     [3]quad
	okq    [3]bool // which squares were traced
	cands  [5]int  // candidate dimensions
	nc     int
	cs     [5]dimFit // the candidates that fit, best first
	ncs    int
	order  [12]int // dimensions to sample, best first
	no     int
}

// dimFit is the homography fitted for one dimension and its error.
type dimFit struct {
	dim int
	h   homography
	err float64
}

// trace traces each finder pattern's outer square along the code's axes.
func (tf *tripleFit) trace() { tf.traceWith((*detector).finderQuad) }

// traceWith traces each pattern's square with the given tracer, passing the
// code's axes (unit leg directions times the pattern's module).
func (tf *tripleFit) traceWith(tracer func(d *detector, f finder, ux, uy, vx, vy float64) (quad, bool)) {
	tl, tr, bl := tf.f[0], tf.f[1], tf.f[2]
	ltr := math.Hypot(tr.x-tl.x, tr.y-tl.y)
	lbl := math.Hypot(bl.x-tl.x, bl.y-tl.y)
	ux, uy := (tr.x-tl.x)/ltr, (tr.y-tl.y)/ltr
	vx, vy := (bl.x-tl.x)/lbl, (bl.y-tl.y)/lbl
	for i, f := range tf.f {
		tf.qs[i], tf.okq[i] = tracer(tf.d, f, ux*f.module, uy*f.module, vx*f.module, vy*f.module)
	}
}

// retrace traces the squares again by their own corners (cornerQuad) when
// no dimension fits the first tracing within limit, and keeps the new
// tracing if at least two squares traced and one dimension joins them
// within limit (three squares no homography joins are not one code).
func (tf *tripleFit) retrace(limit float64) bool {
	qs, okq, cs, ncs := tf.qs, tf.okq, tf.cs, tf.ncs
	tf.traceWith((*detector).cornerQuad)
	if tf.traced() >= 2 {
		if tf.rank(); tf.ncs > 0 && tf.cs[0].err <= limit {
			return true
		}
	}
	tf.qs, tf.okq, tf.cs, tf.ncs = qs, okq, cs, ncs
	return false
}

// moduleAlong is pattern i's module size along u (or v), from its traced
// square where known.
func (tf *tripleFit) moduleAlong(i int, v bool) float64 {
	if !tf.okq[i] {
		return tf.f[i].module
	}
	q := tf.qs[i]
	if v {
		return (math.Hypot(q[3].x-q[0].x, q[3].y-q[0].y) + math.Hypot(q[2].x-q[1].x, q[2].y-q[1].y)) / 14
	}
	return (math.Hypot(q[1].x-q[0].x, q[1].y-q[0].y) + math.Hypot(q[2].x-q[3].x, q[2].y-q[3].y)) / 14
}

// candidates estimates the dimension from the legs and the module sizes
// along them, and lists it and its neighbours (±4, and ±8 for large codes).
func (tf *tripleFit) candidates() {
	tl, tr, bl := tf.f[0], tf.f[1], tf.f[2]
	ltr := math.Hypot(tr.x-tl.x, tr.y-tl.y)
	lbl := math.Hypot(bl.x-tl.x, bl.y-tl.y)
	nu := ltr / logMean(tf.moduleAlong(0, false), tf.moduleAlong(1, false))
	nv := lbl / logMean(tf.moduleAlong(0, true), tf.moduleAlong(2, true))
	est := (nu+nv)/2 + 7
	dim := 4*int(math.Round((est-17)/4)) + 17
	for _, dd := range [5]int{0, -4, 4, -8, 8} {
		if (dd == 8 || dd == -8) && dim < 41 {
			continue
		}
		if c := dim + dd; c >= 21 && c <= 177 {
			tf.cands[tf.nc] = c
			tf.nc++
		}
	}
}

// rank fits each candidate dimension to the traced squares and sorts them
// by the fit's error.
func (tf *tripleFit) rank() { tf.rankWith(tf.okq) }

func (tf *tripleFit) rankWith(okq [3]bool) {
	tf.ncs = 0
	for _, dm := range tf.cands[:tf.nc] {
		h, e, ok := tf.d.fitFinders(dm, tf.f, tf.qs, okq)
		if !ok {
			continue
		}
		tf.cs[tf.ncs] = dimFit{dm, h, e}
		tf.ncs++
	}
	slices.SortFunc(tf.cs[:tf.ncs], func(a, b dimFit) int { return cmp.Compare(a.err, b.err) })
}

// meanModule is the three patterns' mean module size.
func (tf *tripleFit) meanModule() float64 {
	return (tf.f[0].module + tf.f[1].module + tf.f[2].module) / 3
}

// dropBadSquare: when no dimension fits all three traced squares well,
// they are first traced again by their own corners (retrace); else one
// may be off (a neighbour touching it, a scratch): it is left out, the one
// whose absence fits best. It reports false when no such fit is good:
// three squares no homography joins are not one code.
func (tf *tripleFit) dropBadSquare() bool {
	limit := 0.35 * tf.meanModule()
	if !tf.okq[0] || !tf.okq[1] || !tf.okq[2] || tf.cs[0].err <= limit || tf.retrace(limit) {
		return true
	}
	best, bestErr := -1, limit
	for i := range tf.okq {
		o := tf.okq
		o[i] = false
		tf.rankWith(o)
		if tf.ncs > 0 && tf.cs[0].err < bestErr {
			best, bestErr = i, tf.cs[0].err
		}
	}
	if best < 0 {
		return false
	}
	tf.okq[best] = false
	tf.rank()
	return true
}

// fitsWell: outside the strict pass only triples with at least two traced
// squares that one homography joins well are sampled, what noise and
// textures rarely give.
func (tf *tripleFit) fitsWell() bool {
	return tf.strict || tf.traced() >= 2 && tf.cs[0].err <= 0.3*tf.meanModule()
}

// traced is how many of the three squares traced.
func (tf *tripleFit) traced() int {
	n := 0
	for _, ok := range tf.okq {
		if ok {
			n++
		}
	}
	return n
}

// push adds a valid dimension to the ones to sample, once.
func (tf *tripleFit) push(dm int) {
	if dm < 21 || dm > 177 || (dm-17)%4 != 0 || slices.Contains(tf.order[:tf.no], dm) || tf.no == len(tf.order) {
		return
	}
	tf.order[tf.no] = dm
	tf.no++
}

// pushVersion adds the dimension the version information read under h
// (fitted for dm) gives, for large codes.
func (tf *tripleFit) pushVersion(h *homography, dm, minDim int) {
	if dm >= minDim {
		if v := tf.d.readVersion(h, dm); v != 0 {
			tf.push(v)
		}
	}
}

// try fits, refines with the alignment patterns, samples and decodes the
// code at dimension dm.
//
// Modules under three pixels wide are traced too coarsely for the squares'
// corners to help: where the fit to them fails, the homography of the
// three centres alone (and the alignment patterns) is sampled too.
func (tf *tripleFit) try(dm int) (located, bool) {
	d := tf.d
	h, _, ok := d.fitFinders(dm, tf.f, tf.qs, tf.okq)
	if !ok || (tf.strict && !d.formatOK(&h, dm)) {
		return located{}, false
	}
	h0 := h
	h = d.refine(h, dm)
	// Sampled again at other offsets only where the format information
	// said this is a code.
	res, ok := d.sampleDecode(&h, dm, tf.strict)
	if !ok && tf.strict && dm >= minLocalDim {
		// Cell by cell from the finder patterns' fit: the refined one
		// averages a bent grid's alignment patterns, off at the corners.
		// (At every candidate dimension: a bend may leave the version
		// information reading as another.)
		res, ok = d.decodeLocal(&h0, dm)
	}
	if !ok && tf.strict && tf.meanModule() < 3 {
		if h, _, ok = d.fitCentres(dm, tf.f); ok {
			h = d.refine(h, dm)
			res, ok = d.sampleDecode(&h, dm, true)
		}
	}
	if !ok {
		return located{}, false
	}
	return located{res: res, corners: cornersOf(&h, dm, res)}, true
}

// decode samples the dimensions best first: that of the version
// information (or the best fit's), then what the timing patterns count,
// then the other candidates by fit.
func (tf *tripleFit) decode() (located, bool) {
	best := tf.cs[0]
	tf.pushVersion(&best.h, best.dim, 41)
	tf.push(best.dim)
	for _, dm := range tf.order[:tf.no] {
		if l, ok := tf.try(dm); ok {
			return l, true
		}
	}
	tried := tf.no
	t1, t2 := tf.d.timingDims(&best.h, best.dim)
	for _, t := range [2]int{t1, t2} {
		if t >= 45 {
			// Confirm a large one by its version information.
			if h, _, ok := tf.d.fitFinders(t, tf.f, tf.qs, tf.okq); ok {
				tf.pushVersion(&h, t, 45)
			}
		}
		tf.push(t)
	}
	for _, c := range tf.cs[1:tf.ncs] {
		tf.pushVersion(&c.h, c.dim, 45)
		tf.push(c.dim)
	}
	for _, dm := range tf.order[tried:min(tf.no, tried+3)] {
		if l, ok := tf.try(dm); ok {
			return l, true
		}
	}
	return located{}, false
}

// timingDims counts the dark modules of the two timing patterns (row and
// column 6, between the finder patterns) under h, fitted for dimension dm,
// and returns the dimensions they give (2n+15), or 0. Near the finder
// patterns h is right whatever dm, so the ends of the count are.
func (d *detector) timingDims(h *homography, dm int) (int, int) {
	D := float64(dm)
	var out [2]int
	for k := 0; k < 2; k++ {
		u0, v0, u1, v1 := 7.0, 6.5, D-7, 6.5
		if k == 1 {
			u0, v0, u1, v1 = 6.5, 7.0, 6.5, D-7
		}
		x0, y0 := h.apply(u0, v0)
		x1, y1 := h.apply(u1, v1)
		l := math.Hypot(x1-x0, y1-y0)
		if l < 4 || l > 4000 {
			continue
		}
		steps := int(2 * l)
		// Runs shorter than a third of a module are noise.
		minRun := int(math.Max(1, 2*l/(D-14)/3))
		dark, run := 0, 0
		cur := false
		for i := 0; i <= steps; i++ {
			t := float64(i) / float64(steps)
			v := d.b.get(int(math.Floor(x0+(x1-x0)*t)), int(math.Floor(y0+(y1-y0)*t)))
			if v == cur {
				run++
				continue
			}
			if run >= minRun || i == 0 {
				if v {
					dark++
				}
				cur, run = v, 1
			} else {
				// A blip: undo it, staying in the run before.
				if cur {
					dark--
				}
				cur = v
				run = minRun // merged into the run it interrupted
			}
		}
		if dark > 0 {
			out[k] = 2*dark + 15
		}
	}
	return out[0], out[1]
}

func logMean(a, b float64) float64 {
	if math.Abs(a-b) < 1e-3*a {
		return (a + b) / 2
	}
	return (a - b) / math.Log(a/b)
}

// fitFinders fits the module-to-pixel homography of a code of dimension dm
// to the finder patterns' centres and traced corners.
func (d *detector) fitFinders(dm int, fs [3]finder, qs [3]quad, okq [3]bool) (homography, float64, bool) {
	D := float64(dm)
	origin := [3]point{{0, 0}, {D - 7, 0}, {0, D - 7}}
	ps := d.pairs[:0]
	for i, f := range fs {
		o := origin[i]
		ps = append(ps, pair{o.x + 3.5, o.y + 3.5, f.x, f.y, 1})
		if okq[i] {
			for k, off := range [4]point{{0, 0}, {7, 0}, {7, 7}, {0, 7}} {
				ps = append(ps, pair{o.x + off.x, o.y + off.y, qs[i][k].x, qs[i][k].y, 1})
			}
		}
	}
	d.pairs = ps
	if len(ps) < 4 {
		return homography{}, 0, false
	}
	return fit(ps)
}

// fitCentres fits the homography of a code of dimension dm to the finder
// patterns' centres alone, the fourth corner completing the parallelogram
// (as zxing's detector without an alignment pattern).
func (d *detector) fitCentres(dm int, fs [3]finder) (homography, float64, bool) {
	c := float64(dm) - 3.5
	tl, tr, bl := fs[0], fs[1], fs[2]
	d.pairs = append(d.pairs[:0], pair{3.5, 3.5, tl.x, tl.y, 1}, pair{c, 3.5, tr.x, tr.y, 1},
		pair{3.5, c, bl.x, bl.y, 1}, pair{c, c, tr.x + bl.x - tl.x, tr.y + bl.y - tl.y, 0.5})
	return fit(d.pairs)
}

// refine adds the alignment patterns found near where h puts them to the
// fit whose pairs d.pairs holds (h's).
func (d *detector) refine(h homography, dm int) homography {
	if dm < 25 {
		return h
	}
	v, err := decoder.Version_GetProvisionalVersionForDimension(dm)
	if err != nil {
		return h
	}
	centers := v.GetAlignmentPatternCenters()
	// Nearest the top-left first is not needed: try the bottom-right one,
	// then the others, refitting as they are found.
	last := len(centers) - 1
	order := append(d.order[:0], [2]int{last, last})
	for i := range centers {
		for j := range centers {
			if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) || (i == last && j == last) {
				continue
			}
			order = append(order, [2]int{i, j})
		}
	}
	d.order = order
	m := math.Sqrt(math.Abs(moduleArea(&h, float64(dm)/2, float64(dm)/2)))
	found := 0
	for _, ij := range order {
		u, vv := float64(centers[ij[1]])+0.5, float64(centers[ij[0]])+0.5
		px, py := h.apply(u, vv)
		mloc := math.Sqrt(math.Abs(moduleArea(&h, u, vv)))
		if mloc <= 0 || math.IsNaN(mloc) {
			mloc = m
		}
		ax, ay, ok := d.findAlignment(px, py, mloc)
		if !ok {
			continue
		}
		d.pairs = append(d.pairs, pair{u, vv, ax, ay, 2})
		found++
		if found == 1 || found%4 == 0 {
			if h2, _, ok := fit(d.pairs); ok {
				h = h2
			}
		}
	}
	if found > 0 {
		if h2, _, ok := fit(d.pairs); ok {
			h = h2
		}
	}
	return h
}

// moduleArea is the area in pixels of the module at (u, v) under h.
func moduleArea(h *homography, u, v float64) float64 {
	x0, y0 := h.apply(u, v)
	x1, y1 := h.apply(u+1, v)
	x2, y2 := h.apply(u, v+1)
	return (x1-x0)*(y2-y0) - (y1-y0)*(x2-x0)
}

// findAlignment looks for an alignment pattern (dark centre module, light
// ring, dark ring) within a few modules of (px, py) and returns its centre.
func (d *detector) findAlignment(px, py, m float64) (float64, float64, bool) {
	b := d.b
	r := 2.5*m + 2
	x0, x1 := int(px-r), int(px+r)
	y0, y1 := int(py-r), int(py+r)
	tol := 0.6*m + 0.75
	best := math.MaxFloat64
	var bx, by float64
	for y := max(y0, 0); y <= min(y1, b.h-1); y++ {
		for x := max(x0, 0); x <= min(x1, b.w-1); x++ {
			if !b.get(x, y) {
				continue
			}
			// Only start at the left end of a dark run.
			if b.get(x-1, y) {
				continue
			}
			e := x
			for e < b.w && b.get(e, y) {
				e++
			}
			run := float64(e - x)
			if math.Abs(run-m) > tol {
				continue
			}
			cx := float64(x+e) / 2
			if !d.ring(cx, float64(y)+0.5, 1, 0, m, tol) {
				continue
			}
			// Vertical extent of the centre module.
			ix := int(cx)
			t, bt := y, y
			for t > 0 && b.get(ix, t-1) {
				t--
			}
			for bt < b.h-1 && b.get(ix, bt+1) {
				bt++
			}
			if math.Abs(float64(bt-t+1)-m) > tol {
				continue
			}
			cy := float64(t+bt+1) / 2
			if !d.ring(cx, cy, 0, 1, m, tol) {
				continue
			}
			dd := (cx-px)*(cx-px) + (cy-py)*(cy-py)
			if dd < best {
				best, bx, by = dd, cx, cy
			}
		}
	}
	return bx, by, best != math.MaxFloat64
}

// ring checks that going both ways along (dx, dy) from the centre (cx, cy)
// the pattern is dark (centre), light about one module, then dark.
func (d *detector) ring(cx, cy, dx, dy, m, tol float64) bool {
	b := d.b
	for _, s := range [2]float64{-1, 1} {
		t := 0.0
		for b.get(int(math.Floor(cx+s*t*dx)), int(math.Floor(cy+s*t*dy))) {
			t += 0.5
			if t > 2*m+2 {
				return false
			}
		}
		l := t
		for !b.get(int(math.Floor(cx+s*t*dx)), int(math.Floor(cy+s*t*dy))) {
			t += 0.5
			if t > 4*m+4 {
				return false
			}
		}
		if math.Abs(t-l-m) > tol {
			return false
		}
	}
	return true
}

// readVersion reads the version information next to the top-right and
// bottom-left finder patterns and returns the dimension it gives, or 0.
func (d *detector) readVersion(h *homography, dm int) int {
	for pass := 0; pass < 2; pass++ {
		bits := 0
		for j := 5; j >= 0; j-- {
			for i := dm - 9; i >= dm-11; i-- {
				u, v := float64(i)+0.5, float64(j)+0.5
				if pass == 1 {
					u, v = v, u
				}
				x, y := h.apply(u, v)
				bits <<= 1
				if d.b.get(int(math.Floor(x)), int(math.Floor(y))) {
					bits |= 1
				}
			}
		}
		if v, err := decoder.Version_decodeVersionInformation(bits); err == nil && v != nil {
			return v.GetDimensionForVersion()
		}
	}
	return 0
}

// sampleOffsets are where in each module sampleDecode reads it, in turn,
// while error correction fails: the centre, the luminance at the centre
// (sampleGrey: modules of two or three pixels, which the binarized pixels
// place half a pixel off and blur into their neighbours), then the centre
// shifted a sixth of a module each way (a grid a little off, a distorted
// code). A grid sampled as one before is not decoded again.
var sampleOffsets = [...]struct {
	u, v float64
	grey bool
}{{0.5, 0.5, false}, {0.5, 0.5, true}, {0.33, 0.33, false}, {0.67, 0.67, false}, {0.33, 0.67, false}, {0.67, 0.33, false}}

// sampleDecode samples the module grid under h and decodes it, sampling
// again at the other offsets (with again set) while error correction fails.
func (d *detector) sampleDecode(h *homography, dm int, again bool) (*common.DecoderResult, bool) {
	bm := d.mat(dm)
	var seen [len(sampleOffsets)]uint64
	for i, o := range sampleOffsets {
		if i > 0 && !again {
			break
		}
		// A grid whose timing patterns do not read as a code's is not worth
		// sampling whole, nor error correction.
		if !o.grey && d.timingAt(h, dm, o.u, o.v) < minTiming {
			continue
		}
		bm.Clear()
		if o.grey {
			seen[i] = d.sampleGrey(bm, h, dm)
		} else {
			seen[i] = d.sample(bm, h, dm, o.u, o.v)
		}
		if slices.Contains(seen[:i], seen[i]) {
			continue // the same grid as before
		}
		if o.grey && timingAgreement(bm, dm) < minTiming {
			continue
		}
		if res, err := d.dec.Decode(bm, nil); err == nil {
			return res, true
		}
	}
	return nil, false
}

// mat is the detector's grid of dimension dm, made on first use.
func (d *detector) mat(dm int) *gozxing.BitMatrix {
	bm := d.mats[dm]
	if bm == nil {
		bm, _ = gozxing.NewSquareBitMatrix(dm)
		d.mats[dm] = bm
	}
	return bm
}

// minTiming is the least share of the timing patterns' modules a sampled
// grid must read right to be decoded. The codes of the corpus and the
// blackbox images read at 71% and above (all but 35 of 1,188 at 100%);
// one timing pattern lost whole still leaves 75%. A screen's pixel grid
// gives finder-pattern triples by the hundred whose format information
// agrees with itself; their grids read about half their timing modules
// right, and each cost a full error correction.
const minTiming = 0.65

// timingAgreement is the share of the two timing patterns' modules (row
// and column 6 between the finder patterns' separators) that alternate as
// a code's do: dark at even positions.
func timingAgreement(bm *gozxing.BitMatrix, dm int) float64 {
	return timingShare(dm, func(x, y int) bool { return bm.Get(x, y) })
}

// timingShare is the share of the timing patterns' modules (x, y) that
// dark reads as a code's: dark at even positions.
func timingShare(dm int, dark func(x, y int) bool) float64 {
	n, ok := 0, 0
	for i := 8; i < dm-8; i++ {
		want := i%2 == 0
		if dark(i, 6) == want {
			ok++
		}
		if dark(6, i) == want {
			ok++
		}
		n += 2
	}
	if n == 0 {
		return 1
	}
	return float64(ok) / float64(n)
}

// timingAt is timingAgreement for the grid under h at (u, v) within its
// modules, read from the bitmap: only the timing patterns' modules.
func (d *detector) timingAt(h *homography, dm int, u, v float64) float64 {
	return timingShare(dm, func(x, y int) bool { return d.darkAt(h, float64(x)+u, float64(y)+v) })
}

// darkAt reports whether the bitmap is dark under grid point (x, y).
func (d *detector) darkAt(h *homography, x, y float64) bool {
	w := h[6]*x + h[7]*y + h[8]
	px, py := (h[0]*x+h[1]*y+h[2])/w, (h[3]*x+h[4]*y+h[5])/w
	return px >= 0 && py >= 0 && d.b.get(int(px), int(py))
}

// sample reads every module of the grid under h at (u, v) within it from
// the bitmap, and returns a hash of the grid.
func (d *detector) sample(bm *gozxing.BitMatrix, h *homography, dm int, u, v float64) uint64 {
	b := d.b
	hash := uint64(14695981039346656037)
	for y := 0; y < dm; y++ {
		// Along a row the projective map's numerators and denominator
		// change by constants.
		vv := float64(y) + v
		nx, ny, nw := h[0]*u+h[1]*vv+h[2], h[3]*u+h[4]*vv+h[5], h[6]*u+h[7]*vv+h[8]
		for x := 0; x < dm; x++ {
			iw := 1 / nw
			px, py := nx*iw, ny*iw
			bit := uint64(0)
			if px >= 0 && py >= 0 && b.get(int(px), int(py)) {
				bm.Set(x, y)
				bit = 1
			}
			hash = (hash ^ bit) * 1099511628211
			nx, ny, nw = nx+h[0], ny+h[3], nw+h[6]
		}
	}
	return hash
}

// lumAt is the luminance at (px, py), interpolated between the four
// nearest pixels, dark low in the attempt's polarity.
func (d *detector) lumAt(px, py float64) float32 {
	p := d.lum
	fx, fy := px-0.5, py-0.5
	x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
	ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
	v00, v10 := float32(p.at(x0, y0)), float32(p.at(x0+1, y0))
	v01, v11 := float32(p.at(x0, y0+1)), float32(p.at(x0+1, y0+1))
	l := (v00*(1-ax)+v10*ax)*(1-ay) + (v01*(1-ax)+v11*ax)*ay
	if d.inv {
		l = 255 - l
	}
	return l
}

// sampleGrey reads each module from the luminance at its centre under h,
// sharpened against its four neighbours (a module of two or three pixels
// is blurred into them: a light one among dark ones reads grey), against
// a threshold midway between the dark and light modules of the finder
// patterns, interpolated across the code (light falling off). It returns
// a hash of the grid, as sample.
func (d *detector) sampleGrey(bm *gozxing.BitMatrix, h *homography, dm int) uint64 {
	g := growF32(d.grid, dm*dm)
	d.grid = g
	for y := 0; y < dm; y++ {
		for x := 0; x < dm; x++ {
			px, py := h.apply(float64(x)+0.5, float64(y)+0.5)
			g[y*dm+x] = d.lumAt(px, py)
		}
	}
	// The midpoint at each finder pattern: its dark square and centre
	// against its light ring.
	var mid [3]float32
	for k, o := range [3][2]int{{0, 0}, {dm - 7, 0}, {0, dm - 7}} {
		var dk, lt float32
		for j := 0; j < 7; j++ {
			for i := 0; i < 7; i++ {
				v := g[(o[1]+j)*dm+o[0]+i]
				if finderDark(i, j) {
					dk += v
				} else {
					lt += v
				}
			}
		}
		mid[k] = (dk/33 + lt/16) / 2
	}
	span := float32(dm - 7)
	hash := uint64(14695981039346656037)
	for y := 0; y < dm; y++ {
		for x := 0; x < dm; x++ {
			i := y*dm + x
			var s float32
			var n float32
			if x > 0 {
				s, n = s+g[i-1], n+1
			}
			if x < dm-1 {
				s, n = s+g[i+1], n+1
			}
			if y > 0 {
				s, n = s+g[i-dm], n+1
			}
			if y < dm-1 {
				s, n = s+g[i+dm], n+1
			}
			v := 2*g[i] - s/n
			fu, fv := float32(x)/span, float32(y)/span
			t := mid[0] + (mid[1]-mid[0])*fu + (mid[2]-mid[0])*fv
			bit := uint64(0)
			if v < t {
				bm.Set(x, y)
				bit = 1
			}
			hash = (hash ^ bit) * 1099511628211
		}
	}
	return hash
}

// finderDark reports whether module (i, j) of a finder pattern is dark:
// the outer square and the centre 3×3.
func finderDark(i, j int) bool {
	return i == 0 || j == 0 || i == 6 || j == 6 || (i >= 2 && i <= 4 && j >= 2 && j <= 4)
}

func growF32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// formatOK reports whether the two copies of the format information,
// sampled under h for dimension dm (straight or mirrored), each read as a
// format word within three bits and agree on it. Random modules pass
// rarely, so most wrong finder triples and dimensions stop here.
func (d *detector) formatOK(h *homography, dm int) bool {
	bit := func(x, y int) uint {
		px, py := h.apply(float64(x)+0.5, float64(y)+0.5)
		if d.b.get(int(math.Floor(px)), int(math.Floor(py))) {
			return 1
		}
		return 0
	}
	for _, mirror := range [2]bool{false, true} {
		get := func(i, j int) uint {
			if mirror {
				return bit(j, i)
			}
			return bit(i, j)
		}
		var f1, f2 uint
		for i := 0; i < 6; i++ {
			f1 = f1<<1 | get(i, 8)
		}
		f1 = f1<<1 | get(7, 8)
		f1 = f1<<1 | get(8, 8)
		f1 = f1<<1 | get(8, 7)
		for j := 5; j >= 0; j-- {
			f1 = f1<<1 | get(8, j)
		}
		for j := dm - 1; j >= dm-7; j-- {
			f2 = f2<<1 | get(8, j)
		}
		for i := dm - 8; i < dm; i++ {
			f2 = f2<<1 | get(i, 8)
		}
		a := decoder.FormatInformation_DecodeFormatInformation(f1, f1)
		b := decoder.FormatInformation_DecodeFormatInformation(f2, f2)
		if a != nil && b != nil && a.GetDataMask() == b.GetDataMask() && a.GetErrorCorrectionLevel() == b.GetErrorCorrectionLevel() {
			return true
		}
	}
	return false
}

// cornersOf maps the code's outer corners into the plane: top-left,
// top-right, bottom-right, bottom-left as printed.
func cornersOf(h *homography, dm int, res *common.DecoderResult) [4]point {
	D := float64(dm)
	uv := [4]point{{0, 0}, {D, 0}, {D, D}, {0, D}}
	if md, ok := res.GetOther().(*decoder.QRCodeDecoderMetaData); ok && md.IsMirrored() {
		uv = [4]point{{0, 0}, {0, D}, {D, D}, {D, 0}}
	}
	var c [4]point
	for i, p := range uv {
		c[i].x, c[i].y = h.apply(p.x, p.y)
	}
	return c
}
