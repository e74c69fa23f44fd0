package decode

// A finder pattern may be hidden: a point of light on it, a thumb, a
// card's corner cut so close that its light ring is gone. Two patterns of
// one code fix the third's centre to one of six places (either of them
// the top-left corner, turning either way, or neither: then they are the
// diagonal). Each place is tried as the third pattern in the strict pass
// only, where both copies of the format information must agree: a wrong
// place is rejected cheaply and almost never read.

// maxPairPatterns bounds the patterns whose pairs are completed: more, and
// a frame holds enough patterns that a hidden one is not what stops it, while
// the pairs grow with their square.
const maxPairPatterns = 12

// maxPairTries bounds the places tried in one frame: the steps after the
// quick look read the same regions again and again, and a frame of clutter
// without a code goes through them all.
const maxPairTries = 64

// completePairs tries the third pattern of each pair of unused patterns fs
// found in region r of level lv, and keeps the codes read. Its tries are
// bounded as the strict pass's are and by maxPairTries, and spent only
// within the budget; the quick look does without them.
func (w *worker) completePairs(fs []finder, lv *level, r rect, invert bool) {
	if !w.fs.thorough || len(fs) > maxPairPatterns || w.over(&w.fs) {
		return
	}
	tries, limit := 0, 24+2*len(fs)
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			a, b := fs[i], fs[j]
			if w.used[i] || w.used[j] || a.module > 1.5*b.module || b.module > 1.5*a.module {
				continue
			}
			for _, c := range thirdPlaces(a, b) {
				if c.x < float64(r.x0) || c.y < float64(r.y0) || c.x >= float64(r.x1) || c.y >= float64(r.y1) {
					continue // where the attempt binarized nothing
				}
				w.trio = [3]finder{a, b, c}
				for _, t := range w.det.triples(w.trio[:]) {
					if tries++; tries > limit || w.fs.pairTries >= maxPairTries || w.over(&w.fs) {
						return
					}
					w.fs.pairTries++
					w.tries.Add(1)
					if loc, ok := w.det.decodeTriple(w.trio[:], t, true); ok {
						w.used[i], w.used[j] = true, true
						w.keep(fs, loc, lv, invert)
						break
					}
				}
				if w.used[i] {
					break
				}
			}
		}
	}
}

// thirdPlaces is where the third pattern of a code whose patterns a and b
// are lies when the code is seen straight on, with their mean module size.
func thirdPlaces(a, b finder) [6]finder {
	m := (a.module + b.module) / 2
	dx, dy := b.x-a.x, b.y-a.y
	mx, my := (a.x+b.x)/2, (a.y+b.y)/2
	at := func(x, y float64) finder { return finder{x: x, y: y, module: m} }
	return [6]finder{
		at(a.x+dy, a.y-dx), at(a.x-dy, a.y+dx), // a the corner
		at(b.x+dy, b.y-dx), at(b.x-dy, b.y+dx), // b the corner
		at(mx+dy/2, my-dx/2), at(mx-dy/2, my+dx/2), // a and b the diagonal
	}
}
