package decode

import (
	"math"
	"slices"
)

// A finder pattern is the 7×7 square in three corners of a QR code: seen
// along any line through its centre, dark, light, dark, light, dark runs in
// the ratio 1:1:3:1:1. The search follows zxing's FinderPatternFinder (row
// scan, vertical, horizontal and diagonal cross-checks), over packed rows,
// with half a pixel more tolerance for small soft codes (as zxing-cpp) and
// more for the foreshortening of tilted codes.

// minModule is the smallest module, in pixels, a finder pattern may have.
const minModule = 1.25

// finder is a finder pattern candidate.
type finder struct {
	x, y   float64 // centre in plane pixels
	module float64 // estimated module size
	count  int     // rows that confirmed it
}

// ratio reports whether five run lengths look like 1:1:3:1:1, with the
// tolerance for each run as a fraction of its expected length (zxing uses
// 0.5 across a row and 0.75 along the diagonal), plus half a pixel.
func ratio(c *[5]int32, tol float64) bool {
	total := c[0] + c[1] + c[2] + c[3] + c[4]
	if total < 7 || c[0] == 0 || c[1] == 0 || c[2] == 0 || c[3] == 0 || c[4] == 0 {
		return false
	}
	m := float64(total) / 7
	v := m*tol + 0.5
	return math.Abs(m-float64(c[0])) < v &&
		math.Abs(m-float64(c[1])) < v &&
		math.Abs(3*m-float64(c[2])) < 3*m*tol+0.5 &&
		math.Abs(m-float64(c[3])) < v &&
		math.Abs(m-float64(c[4])) < v
}

// searcher finds finder patterns in a bitmap. Its buffers are reused.
type searcher struct {
	b     *bitmap
	runs  []int32
	found []finder
}

// scan looks for finder patterns in every step-th row of b from y0 to y1
// (set bits are dark) and collects them, merged, in s.found. It stops
// early when the frame's context is done.
func (s *searcher) scan(fs *frameState, b *bitmap, step, y0, y1 int) {
	s.b = b
	s.found = s.found[:0]
	if cap(s.runs) < b.w+2 {
		s.runs = make([]int32, 0, b.w+2)
	}
	for y := y0 + step/2; y < y1; y += step {
		if y&63 < step && fs.cancelled() {
			break
		}
		s.runs = runs(b.row(y), b.w, s.runs)
		r := s.runs
		x := int32(0) // start of run i
		for i := 0; i+4 < len(r); i++ {
			if i&1 == 1 { // runs alternate light, dark, ...: odd runs are dark
				c := (*[5]int32)(r[i : i+5])
				if ratio5(c) {
					end := x + c[0] + c[1] + c[2] + c[3] + c[4]
					s.confirm(c, y, int(end))
				}
			}
			x += r[i]
		}
		if len(s.found) > 1024 {
			break // a busy texture, not codes
		}
	}
	s.isolate()
	slices.SortStableFunc(s.found, func(a, b finder) int { return b.count - a.count })
}

// centerFromEnd is the centre of five runs ending at end.
func centerFromEnd(c *[5]int32, end int) float64 {
	return float64(end) - float64(c[4]) - float64(c[3]) - float64(c[2])/2
}

// confirm cross-checks a row hit ending at (end, y) and records it.
func (s *searcher) confirm(c *[5]int32, y, end int) {
	total := c[0] + c[1] + c[2] + c[3] + c[4]
	cx := centerFromEnd(c, end)
	cy, vtotal, ok := s.crossVertical(int(cx), y, int(c[2]), int(total))
	if !ok {
		return
	}
	cx2, htotal, ok := s.crossHorizontal(int(cx), int(cy), int(c[2]), int(total))
	if !ok {
		return
	}
	if !s.crossDiagonal(int(cx2), int(cy), 1) || !s.crossDiagonal(int(cx2), int(cy), -1) {
		return
	}
	m := float64(htotal+vtotal) / 14
	if m < minModule {
		return // sensor noise, or a code too small to read here (the 1.5× retry may)
	}
	for i := range s.found {
		f := &s.found[i]
		if math.Abs(cy-f.y) <= m && math.Abs(cx2-f.x) <= m {
			d := math.Abs(m - f.module)
			if d <= 1 || d <= f.module {
				n := float64(f.count)
				f.x = (f.x*n + cx2) / (n + 1)
				f.y = (f.y*n + cy) / (n + 1)
				f.module = (f.module*n + m) / (n + 1)
				f.count++
				return
			}
		}
	}
	s.found = append(s.found, finder{x: cx2, y: cy, module: m, count: 1})
}

// crossVertical counts the runs up and down column x from (x, y) and returns
// the pattern's vertical centre and total height. A tilted code's patterns
// may be from a third to three times as tall as wide.
func (s *searcher) crossVertical(x, y, maxCount, total int) (float64, int, bool) {
	b := s.b
	var c [5]int32
	maxCount = maxCount * 2
	i := y
	for i >= 0 && b.get(x, i) {
		c[2]++
		i--
	}
	if i < 0 {
		return 0, 0, false
	}
	for i >= 0 && !b.get(x, i) && int(c[1]) <= maxCount {
		c[1]++
		i--
	}
	if i < 0 || int(c[1]) > maxCount {
		return 0, 0, false
	}
	for i >= 0 && b.get(x, i) && int(c[0]) <= maxCount {
		c[0]++
		i--
	}
	if int(c[0]) > maxCount {
		return 0, 0, false
	}
	i = y + 1
	for i < b.h && b.get(x, i) {
		c[2]++
		i++
	}
	if i == b.h {
		return 0, 0, false
	}
	for i < b.h && !b.get(x, i) && int(c[3]) < maxCount {
		c[3]++
		i++
	}
	if i == b.h || int(c[3]) >= maxCount {
		return 0, 0, false
	}
	for i < b.h && b.get(x, i) && int(c[4]) < maxCount {
		c[4]++
		i++
	}
	if int(c[4]) >= maxCount {
		return 0, 0, false
	}
	vt := int(c[0] + c[1] + c[2] + c[3] + c[4])
	if 3*vt < total || vt > 3*total {
		return 0, 0, false
	}
	if !ratio(&c, 0.5) {
		return 0, 0, false
	}
	return centerFromEnd(&c, i), vt, true
}

// crossHorizontal re-measures the row through (x, y) and returns the
// horizontal centre and total width.
func (s *searcher) crossHorizontal(x, y, maxCount, total int) (float64, int, bool) {
	b := s.b
	var c [5]int32
	maxCount = maxCount * 2
	j := x
	for j >= 0 && b.get(j, y) {
		c[2]++
		j--
	}
	if j < 0 {
		return 0, 0, false
	}
	for j >= 0 && !b.get(j, y) && int(c[1]) <= maxCount {
		c[1]++
		j--
	}
	if j < 0 || int(c[1]) > maxCount {
		return 0, 0, false
	}
	for j >= 0 && b.get(j, y) && int(c[0]) <= maxCount {
		c[0]++
		j--
	}
	if int(c[0]) > maxCount {
		return 0, 0, false
	}
	j = x + 1
	for j < b.w && b.get(j, y) {
		c[2]++
		j++
	}
	if j == b.w {
		return 0, 0, false
	}
	for j < b.w && !b.get(j, y) && int(c[3]) < maxCount {
		c[3]++
		j++
	}
	if j == b.w || int(c[3]) >= maxCount {
		return 0, 0, false
	}
	for j < b.w && b.get(j, y) && int(c[4]) < maxCount {
		c[4]++
		j++
	}
	if int(c[4]) >= maxCount {
		return 0, 0, false
	}
	ht := int(c[0] + c[1] + c[2] + c[3] + c[4])
	if 5*abs(ht-total) >= 2*total {
		return 0, 0, false
	}
	if !ratio(&c, 0.5) {
		return 0, 0, false
	}
	return centerFromEnd(&c, j), ht, true
}

// crossDiagonal checks the pattern along the down-right diagonal (dx = 1)
// or the down-left one (dx = -1). Stripes and other textures that pass
// along rows and columns rarely pass both diagonals.
func (s *searcher) crossDiagonal(x, y, dx int) bool {
	b := s.b
	var c [5]int32
	i := 0
	for b.get(x-dx*i, y-i) {
		c[2]++
		i++
	}
	if c[2] == 0 {
		return false
	}
	for y-i >= 0 && x-dx*i >= 0 && x-dx*i < b.w && !b.get(x-dx*i, y-i) {
		c[1]++
		i++
	}
	for b.get(x-dx*i, y-i) {
		c[0]++
		i++
	}
	i = 1
	for b.get(x+dx*i, y+i) {
		c[2]++
		i++
	}
	for y+i < b.h && x+dx*i >= 0 && x+dx*i < b.w && !b.get(x+dx*i, y+i) {
		c[3]++
		i++
	}
	for b.get(x+dx*i, y+i) {
		c[4]++
		i++
	}
	return ratio(&c, 0.9)
}

// isolate drops candidates crowded by others: a finder pattern has light
// separators around it, so no other pattern's centre lies within four of
// its modules, while repetitive textures give many close together.
func (s *searcher) isolate() {
	out := s.found[:0]
	for i, f := range s.found {
		crowd := 0
		r := 4 * f.module
		for j, g := range s.found {
			if i != j && math.Abs(g.x-f.x) < r && math.Abs(g.y-f.y) < r {
				crowd++
			}
		}
		if crowd < 2 {
			out = append(out, f)
		}
	}
	s.found = out
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
