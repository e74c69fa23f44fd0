package decode

// A finder pattern may be hidden: a point of light on it, a thumb, the
// frame's edge through a card's corner. Two patterns of one code fix the
// third's centre to one of six places (either of them the top-left corner,
// turning either way, or neither: then they are the diagonal). Each place
// is tried as the third pattern in the strict pass only, where both copies
// of the format information must agree: a wrong place is rejected cheaply
// and almost never read.

// maxPairPatterns bounds the patterns whose pairs are completed: more, and
// a frame holds enough patterns that a hidden one is not what stops it, while
// the pairs grow with their square.
const maxPairPatterns = 12

// completePairs tries the third pattern of each pair of unused patterns fs
// in level lv, and keeps the codes read.
func (w *worker) completePairs(fs []finder, lv *level, invert bool) {
	if len(fs) > maxPairPatterns {
		return
	}
	tries := 0
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			a, b := fs[i], fs[j]
			if w.used[i] || w.used[j] || a.module > 1.5*b.module || b.module > 1.5*a.module {
				continue
			}
			for _, c := range thirdPlaces(a, b) {
				if c.x < 0 || c.y < 0 || c.x >= float64(lv.p.w) || c.y >= float64(lv.p.h) {
					continue
				}
				w.trio = [3]finder{a, b, c}
				for _, t := range w.det.triples(w.trio[:]) {
					if tries++; w.fs.cancelled() || (tries > 24 && w.over(&w.fs)) {
						return // beyond the first 24, only within the budget
					}
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
