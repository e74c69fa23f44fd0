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
	ok    []bool // whether cells[i] is fitted
}

// decodeLocal samples a large code cell by cell and decodes it. One
// homography h cannot follow a page's bend or a lens's distortion across a
// code of 45 modules or more: a bow of one module in a hundred spreads the
// grid off by half a module at its far side. The alignment patterns are
// found one by one from the top-left, each searched where h and its found
// neighbours put it; each cell (the modules between four neighbouring
// centres, the border ones beyond) is sampled with the homography of its
// four corners.
func (d *detector) decodeLocal(h *homography, dm int) (*common.DecoderResult, bool) {
	g, ok := d.alignGrid(h, dm)
	if !ok {
		return nil, false
	}
	bm := d.mats[dm]
	for _, smooth := range [2]bool{false, true} {
		bm.Clear()
		if smooth {
			if !d.sampleSmooth(bm, g, h, dm) {
				break
			}
		} else {
			d.sampleCells(bm, g, dm)
		}
		if timingAgreement(bm, dm) < minTiming {
			continue
		}
		if res, err := d.dec.Decode(bm, nil); err == nil {
			return res, true
		}
	}
	return nil, false
}

// sampleSmooth samples bm through h moved by a quadratic in the module
// coordinates, fitted to how far the grid's centres lie from h's: a bow
// of several modules bends each cell too, which its four corners do not
// follow.
func (d *detector) sampleSmooth(bm *gozxing.BitMatrix, g *localGrid, h *homography, dm int) bool {
	k := len(g.at)
	D := float64(dm)
	basis := func(u, v float64) [6]float64 {
		s, t := u/D-0.5, v/D-0.5
		return [6]float64{1, s, t, s * s, s * t, t * t}
	}
	var cx, cy [6]float64
	for n, c := range [2]*[6]float64{&cx, &cy} {
		var m [8][9]float64
		m[6][6], m[7][7] = 1, 1 // two unknowns unused
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				b, o := basis(g.at[j], g.at[i]), g.off[i*k+j]
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
			return false
		}
		copy(c[:], x[:6])
	}
	for y := 0; y < dm; y++ {
		for x := 0; x < dm; x++ {
			u, v := float64(x)+0.5, float64(y)+0.5
			px, py := h.apply(u, v)
			b := basis(u, v)
			for a := range b {
				px, py = px+cx[a]*b[a], py+cy[a]*b[a]
			}
			if px >= 0 && py >= 0 && d.b.get(int(px), int(py)) {
				bm.Set(x, y)
			}
		}
	}
	return true
}

// alignGrid locates the alignment patterns of the code of dimension dm
// under h. A pattern is searched where h puts it, moved as h was off at
// its found neighbours: by the row's and column's offsets, or along one
// of them at the grid's edges. The three corners under the finder
// patterns are h's (fitted to them). It reports false when none of the
// patterns nearest the finder patterns was found (a grid of noise), or
// none at all: then the grid is h's.
func (d *detector) alignGrid(h *homography, dm int) (*localGrid, bool) {
	v, err := decoder.Version_GetProvisionalVersionForDimension(dm)
	if err != nil {
		return nil, false
	}
	cs := v.GetAlignmentPatternCenters()
	k := len(cs)
	g := &d.grid2
	g.at = g.at[:0]
	for _, c := range cs {
		g.at = append(g.at, float64(c)+0.5)
	}
	g.pts = growPoints(g.pts, k*k)
	g.found = 0
	g.off = growPoints(g.off, k*k)
	off := g.off
	searched := 0
	for s := 0; s <= 2*(k-1); s++ { // by distance from the top-left
		if searched >= 3 && g.found == 0 {
			return g, false // three nearest the finder patterns missing: no code's
		}
		for i := max(0, s-k+1); i <= min(s, k-1); i++ {
			j := s - i
			px, py := h.apply(g.at[j], g.at[i])
			if (i == 0 && j == 0) || (i == 0 && j == k-1) || (i == k-1 && j == 0) {
				g.pts[i*k+j], off[i*k+j] = point{px, py}, point{}
				continue
			}
			o := predictOffset(off, k, i, j)
			m := math.Sqrt(math.Abs(moduleArea(h, g.at[j], g.at[i])))
			p := point{px + o.x, py + o.y}
			searched++
			if ax, ay, ok := d.findAlignment(p.x, p.y, m); ok {
				p = point{ax, ay}
				g.found++
			}
			g.pts[i*k+j], off[i*k+j] = p, point{p.x - px, p.y - py}
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

// sampleCells samples each module of bm through the homography of its
// cell: the four centres around it, the nearest cell beyond the outer
// centres.
func (d *detector) sampleCells(bm *gozxing.BitMatrix, g *localGrid, dm int) {
	k := len(g.at)
	n := (k - 1) * (k - 1)
	if cap(g.cells) < n {
		g.cells, g.ok = make([]homography, n), make([]bool, n)
	}
	g.cells, g.ok = g.cells[:n], g.ok[:n]
	clear(g.ok)
	for y := 0; y < dm; y++ {
		ci := cellOf(g.at, float64(y)+0.5)
		for x := 0; x < dm; x++ {
			cj := cellOf(g.at, float64(x)+0.5)
			c := ci*(k-1) + cj
			if !g.ok[c] {
				g.cells[c], g.ok[c] = g.cellHomography(ci, cj)
				if !g.ok[c] {
					continue
				}
			}
			px, py := g.cells[c].apply(float64(x)+0.5, float64(y)+0.5)
			if px >= 0 && py >= 0 && d.b.get(int(px), int(py)) {
				bm.Set(x, y)
			}
		}
	}
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

func growPoints(b []point, n int) []point {
	if cap(b) < n {
		return make([]point, n)
	}
	return b[:n]
}
