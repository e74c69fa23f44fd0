package decode

import (
	"math"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// minLocalDim is the smallest dimension sampled cell by cell (version 7):
// from there on a code has three or more alignment-pattern rows, and one
// homography may no longer follow it from end to end.
const minLocalDim = 45

// localGrid is where a large code's alignment patterns were seen: the
// centres' module coordinates and, for each row and column of them, the
// image position (found, or predicted from the neighbours where a pattern
// was not found).
type localGrid struct {
	at    []float64 // module coordinate of each row's (and column's) centres
	pts   []point   // len(at)² image positions, row by row
	off   []point   // each position minus h's
	found int       // patterns found, of the len(at)²-3 there are
	cells []homography
	state []cellState
	quad  quadraticMap
}

// decodeLocal samples a large code cell by cell and decodes it. One
// homography h cannot follow a page's bend or a lens's distortion across a
// code of 45 modules or more: a bow of one module in a hundred spreads the
// grid off by half a module at its far side. The alignment patterns are
// found one by one from the top-left, each searched where h and its found
// neighbours put it; each cell (the modules between four neighbouring
// centres, the border ones beyond) is sampled with the homography of its
// four corners. A bow of several modules bends each cell too: then h moved
// by a quadratic fitted to the centres' offsets is sampled. Either grid is
// sampled whole only when its timing patterns read as a code's.
func (d *detector) decodeLocal(h *homography, dm int) (*common.DecoderResult, bool) {
	g, ok := d.alignGrid(h, dm)
	if !ok {
		return nil, false
	}
	g.prepareCells()
	maps := [2]moduleMap{g.cellAt}
	if q, ok := g.fitQuadratic(h, dm); ok {
		maps[1] = q.at
	}
	bm := d.mat(dm)
	for _, m := range maps {
		if m == nil || d.timingVia(m, dm) < minTiming {
			continue
		}
		bm.Clear()
		d.sampleVia(bm, m, dm)
		if res, err := d.dec.Decode(bm, nil); err == nil {
			return res, true
		}
	}
	return nil, false
}

// moduleMap takes a point in module coordinates to the image, or reports
// false.
type moduleMap func(u, v float64) (float64, float64, bool)

// timingVia is timingAgreement read from the bitmap through m.
func (d *detector) timingVia(m moduleMap, dm int) float64 {
	return timingShare(dm, func(x, y int) bool { return d.darkVia(m, float64(x)+0.5, float64(y)+0.5) })
}

// darkVia reports whether the bitmap is dark under module point (u, v).
func (d *detector) darkVia(m moduleMap, u, v float64) bool {
	px, py, ok := m(u, v)
	return ok && px >= 0 && py >= 0 && d.b.get(int(px), int(py))
}

// sampleVia sets the modules of bm that are dark through m.
func (d *detector) sampleVia(bm *gozxing.BitMatrix, m moduleMap, dm int) {
	for y := 0; y < dm; y++ {
		for x := 0; x < dm; x++ {
			if d.darkVia(m, float64(x)+0.5, float64(y)+0.5) {
				bm.Set(x, y)
			}
		}
	}
}

// alignGrid locates the alignment patterns of the code of dimension dm
// under h. A pattern is searched where h puts it, moved as h was off at
// its found neighbours: by the row's and column's offsets, or along one
// of them at the grid's edges. The three corners under the finder
// patterns are h's (fitted to them). It reports false when none of the
// first patterns searched, those nearest the top-left finder pattern, was
// found (a grid of noise), or none at all: then the grid is h's.
func (d *detector) alignGrid(h *homography, dm int) (*localGrid, bool) {
	v, err := decoder.Version_GetProvisionalVersionForDimension(dm)
	if err != nil {
		return nil, false
	}
	cs := v.GetAlignmentPatternCenters()
	k := len(cs)
	g := &d.local
	g.at = g.at[:0]
	for _, c := range cs {
		g.at = append(g.at, float64(c)+0.5)
	}
	g.pts, g.off = growPoints(g.pts, k*k), growPoints(g.off, k*k)
	g.found = 0
	searched := 0
	for s := 0; s <= 2*(k-1); s++ { // by distance from the top-left
		if searched >= 3 && g.found == 0 {
			return g, false
		}
		for i := max(0, s-k+1); i <= min(s, k-1); i++ {
			j := s - i
			px, py := h.apply(g.at[j], g.at[i])
			if (i == 0 && j == 0) || (i == 0 && j == k-1) || (i == k-1 && j == 0) {
				g.pts[i*k+j], g.off[i*k+j] = point{px, py}, point{}
				continue
			}
			o := predictOffset(g.off, k, i, j)
			m := math.Sqrt(math.Abs(moduleArea(h, g.at[j], g.at[i])))
			p := point{px + o.x, py + o.y}
			searched++
			if ax, ay, ok := d.findAlignment(p.x, p.y, m); ok {
				p = point{ax, ay}
				g.found++
			}
			g.pts[i*k+j], g.off[i*k+j] = p, point{p.x - px, p.y - py}
		}
	}
	return g, g.found > 0
}

// predictOffset is how far from h's position the centre (i, j) is expected,
// from its neighbours above and to the left (already placed): the
// parallelogram of the three, or the one neighbour at an edge.
func predictOffset(off []point, k, i, j int) point {
	switch {
	case i > 0 && j > 0:
		a, b, c := off[(i-1)*k+j], off[i*k+j-1], off[(i-1)*k+j-1]
		return point{a.x + b.x - c.x, a.y + b.y - c.y}
	case i > 0:
		return off[(i-1)*k+j]
	default:
		return off[i*k+j-1]
	}
}

// prepareCells marks every cell's homography not yet fitted.
func (g *localGrid) prepareCells() {
	n := (len(g.at) - 1) * (len(g.at) - 1)
	if cap(g.cells) < n {
		g.cells, g.state = make([]homography, n), make([]cellState, n)
	}
	g.cells, g.state = g.cells[:n], g.state[:n]
	clear(g.state)
}

// cellState is whether a cell's homography is fitted yet, and how.
type cellState uint8

const (
	cellUnfitted cellState = iota
	cellFitted
	cellFailed // its corners fit no homography (folded)
)

// cellAt maps module point (u, v) through its cell: the four centres
// around it, the nearest cell beyond the outer centres.
func (g *localGrid) cellAt(u, v float64) (float64, float64, bool) {
	k := len(g.at)
	ci, cj := cellOf(g.at, v), cellOf(g.at, u)
	c := ci*(k-1) + cj
	if g.state[c] == cellUnfitted {
		var ok bool
		g.cells[c], ok = g.cellHomography(ci, cj)
		g.state[c] = cellFailed
		if ok {
			g.state[c] = cellFitted
		}
	}
	if g.state[c] != cellFitted {
		return 0, 0, false
	}
	x, y := g.cells[c].apply(u, v)
	return x, y, true
}

// cellOf is the cell holding module coordinate u: the last i with
// at[i] <= u, at most len(at)-2.
func cellOf(at []float64, u float64) int {
	i := 0
	for i+2 < len(at) && at[i+1] <= u {
		i++
	}
	return i
}

// cellHomography maps the cell (ci, cj) from module coordinates onto the
// image through its four corner centres.
func (g *localGrid) cellHomography(ci, cj int) (homography, bool) {
	k := len(g.at)
	var ps [4]pair
	for n, c := range [4][2]int{{0, 0}, {0, 1}, {1, 1}, {1, 0}} {
		i, j := ci+c[0], cj+c[1]
		p := g.pts[i*k+j]
		ps[n] = pair{g.at[j], g.at[i], p.x, p.y, 1}
	}
	h, _, ok := fit(ps[:])
	return h, ok
}

// quadraticMap is h moved by a quadratic in the module coordinates
// (normalised to the code's centre and side), one for x and one for y.
type quadraticMap struct {
	h      *homography
	dm     float64
	cx, cy [6]float64
}

func (q *quadraticMap) basis(u, v float64) [6]float64 {
	s, t := u/q.dm-0.5, v/q.dm-0.5
	return [6]float64{1, s, t, s * s, s * t, t * t}
}

func (q *quadraticMap) at(u, v float64) (float64, float64, bool) {
	x, y := q.h.apply(u, v)
	b := q.basis(u, v)
	for a := range b {
		x, y = x+q.cx[a]*b[a], y+q.cy[a]*b[a]
	}
	return x, y, true
}

// fitQuadratic fits the quadratic to the centres' offsets from h, by least
// squares.
func (g *localGrid) fitQuadratic(h *homography, dm int) (*quadraticMap, bool) {
	q := &g.quad
	*q = quadraticMap{h: h, dm: float64(dm)}
	k := len(g.at)
	for n, c := range [2]*[6]float64{&q.cx, &q.cy} {
		var m [8][9]float64
		m[6][6], m[7][7] = 1, 1 // two unknowns unused
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				b, o := q.basis(g.at[j], g.at[i]), g.off[i*k+j]
				r := o.x
				if n == 1 {
					r = o.y
				}
				for a := range b {
					for e := range b {
						m[a][e] += b[a] * b[e]
					}
					m[a][8] += b[a] * r
				}
			}
		}
		var x [8]float64
		if !solve8(&m, &x) {
			return nil, false
		}
		copy(c[:], x[:6])
	}
	return q, true
}

func growPoints(b []point, n int) []point {
	if cap(b) < n {
		return make([]point, n)
	}
	return b[:n]
}
