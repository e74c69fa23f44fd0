package decode

import (
	"context"
	"math"
	"slices"
	"time"

	"checkpoint"
)

// A frame goes through a chain of steps, cheapest first; each looks for
// codes its own way and says whether the frame is done. The order is the
// chain below: read it top to bottom to follow a frame.
var chain = [...]struct {
	name string
	run  func(*worker, *frameState) bool
}{
	{"region", (*worker).region},         // where the last codes were
	{"quick look", (*worker).quickLook},  // the frame's rows, thresholds from its half
	{"half", (*worker).halfLook},         // the half-size frame's own rows
	{"pyramid", (*worker).pyramidLook},   // quarter size and below: large modules
	{"nothing", (*worker).nothing},       // no code-like hits anywhere: an empty frame
	{"thresholds", (*worker).thresholds}, // each code-like region at its scale and polarity
	{"whole plane", (*worker).wholePlane},
	{"global", (*worker).globalLook}, // one histogram threshold per region (glare, flat areas)
	{"upscale", (*worker).upscale},   // the regions enlarged 1.5 times (small modules)
	{"fallback", (*worker).fallback}, // gozxing's own detector
}

// frameState is one frame on its way through the chain.
type frameState struct {
	ctx   context.Context
	start time.Time
	f     *checkpoint.Frame
	hint  roi
	base  int // codes found before the quick look (in the hinted region)
	cands []candidate
	// thorough is set once the quick look has read nothing: from then on
	// an attempt that reads nothing completes pairs of patterns too.
	thorough  bool
	pairTries int // places of hidden patterns tried (completePairs)
}

// candidate is a region where a prescan saw three hits shaped like one
// code's finder patterns: in the pyramid level it was seen at, in one
// polarity.
type candidate struct {
	level  int
	invert bool
	r      rect    // in the level's pixels
	module float64 // the hits' module size, in the level's pixels
	score  int     // hits seen in several rows: finder patterns are
	tried  bool    // looked at with the prescan's thresholds
}

// decode finds the codes in f, looking first in the region hint gives, and
// returns them with the region they were found in.
func (w *worker) decode(ctx context.Context, f *checkpoint.Frame, hint roi) ([]checkpoint.Symbol, roi) {
	w.found = w.found[:0]
	w.roiHit, w.quick = false, false
	w.skip = w.skip[:0]
	fs := &w.fs
	*fs = frameState{ctx: ctx, start: time.Now(), f: f, hint: hint, cands: fs.cands[:0]}
	if f.Width < minBinarize || f.Height < minBinarize {
		return w.plain(fs, f, 0), roi{}
	}
	w.pyr.reset(plane{w: f.Width, h: f.Height, stride: f.Stride, pix: f.Y})
	for _, s := range chain {
		if fs.cancelled() {
			return nil, roi{} // Decode reports ctx's error
		}
		if w.trace != nil {
			w.trace(w, s.name)
		}
		if s.run(w, fs) {
			break
		}
	}
	if fs.cancelled() {
		return nil, roi{}
	}
	if len(w.found) == 0 {
		if !w.quick && !w.over(fs) {
			// Something code-like that is no code: while that part of the
			// picture stays as it is, skip it.
			w.remember(w.candidateBounds(fs).clip(f.Width, f.Height))
		}
		return nil, roi{}
	}
	return w.result()
}

// foundNew reports whether codes were found since the quick look began.
func (w *worker) foundNew(fs *frameState) bool { return len(w.found) > fs.base }

// region looks where the last codes were, grown by half their size each
// way, at their scale and polarity; codes found there are skipped by the
// prescans that follow.
func (w *worker) region(fs *frameState) bool {
	if !fs.hint.ok {
		return false
	}
	h := fs.hint
	r := h.r
	gx, gy := (r.x1-r.x0)/2, (r.y1-r.y0)/2
	r = rect{r.x0 - gx, r.y0 - gy, r.x1 + gx, r.y1 + gy}
	lv := w.pyr.level(h.level)
	r = r.div(lv.scale).clip(lv.p.w, lv.p.h)
	lv.th.size(lv.p)
	w.attempt(lv, h.invert, r, measured)
	if len(w.found) == 0 {
		return false
	}
	w.roiHit = true
	for _, l := range w.found {
		b := noRect
		for _, c := range l.corners {
			b = b.union(int(c.x), int(c.y), 2)
		}
		w.skip = append(w.skip, b)
	}
	return false
}

// quickLook estimates the frame's block thresholds from its half (built
// once, also for the steps after), scans every third row of the frame for
// finder-pattern runs of either polarity, and reads the code-like region
// of the stronger polarity with those thresholds. Most frames with a code
// end here; so does any frame whose hinted region held its codes.
func (w *worker) quickLook(fs *frameState) bool {
	fs.base = len(w.found)
	l0 := w.pyr.level(0)
	l1 := w.pyr.level(1)
	if l1.p.w < minBinarize || l1.p.h < minBinarize {
		l0.th.stats(l0.p)
	} else {
		l0.th.statsFromHalf(l0.p, l1.p)
	}
	l0.th.compute(false)
	l0.hits.reset()
	w.prescan(l0.p, &l0.th, 0, 3, &l0.hits)
	w.memo.age++
	w.addCandidates(fs, 0)
	// Large modules first (few hits, read at a coarse level: cheap), then
	// the stronger evidence: patterns seen in several rows, as a finder
	// pattern is and data modules mostly are not.
	slices.SortStableFunc(fs.cands, func(a, b candidate) int {
		if la, lb := levelFor(a.module), levelFor(b.module); la != lb {
			return lb - la
		}
		return b.score - a.score
	})
	for i := range fs.cands {
		// The first attempt runs whatever the budget, not once ctx is done.
		c := &fs.cands[i]
		if w.foundNew(fs) || fs.cancelled() || (i > 0 && w.over(fs)) {
			break
		}
		if k := levelFor(c.module); k > 0 {
			// Large modules: read where they are about four pixels wide,
			// a screen's pixel grid averaged away.
			lv := w.pyr.level(k)
			lv.th.size(lv.p)
			w.attempt(lv, c.invert, c.r.div(lv.scale).clip(lv.p.w, lv.p.h), measured)
			continue
		}
		w.attempt(l0, c.invert, c.r.clip(l0.p.w, l0.p.h), estimated)
		c.tried = true
	}
	return len(w.found) > 0
}

// levelFor is the pyramid level at which modules m frame pixels wide are
// nearest four pixels, from modules of eight pixels on (finer ones are
// read in the frame itself).
func levelFor(m float64) int {
	k := 0
	for m >= 8 && k+1 < maxLevels {
		m /= 2
		k++
	}
	return k
}

// halfLook measures the half-size frame's own blocks and scans every other
// row of it: codes of large modules, and screens whose pixel grid the
// halving averages away.
func (w *worker) halfLook(fs *frameState) bool {
	l1 := w.pyr.level(1)
	if l1.p.w < minBinarize || l1.p.h < minBinarize {
		return false
	}
	w.scanLevel(fs, 1)
	return false
}

// pyramidLook scans the quarter-size frame and the levels below it, each
// halved again, with blocks eight of its pixels wide: a module of 60 to
// 200 frame pixels is a few pixels wide at one of them. Each level costs a
// quarter of the one above.
func (w *worker) pyramidLook(fs *frameState) bool {
	for k := 2; k < maxLevels && !fs.cancelled(); k++ {
		lv := w.pyr.level(k)
		if lv.p.w < minLevelSide || lv.p.h < minLevelSide {
			break
		}
		w.scanLevel(fs, k)
	}
	return false
}

// scanLevel measures level k's blocks, scans every other row and adds its
// code-like regions to the candidates.
func (w *worker) scanLevel(fs *frameState, k int) {
	lv := w.pyr.level(k)
	lv.th.stats(lv.p)
	lv.th.compute(false)
	lv.hits.reset()
	w.prescan(lv.p, &lv.th, 0, 2, &lv.hits)
	w.addCandidates(fs, k)
}

// addCandidates adds level k's code-like regions, in either polarity,
// unless they lie in a remembered region without a code. In the frame
// itself hits of large modules make candidates of their own (read at a
// coarser level), apart from small ones: a screen's pixel grid gives many
// small hits, which would otherwise hide its code's finder patterns.
func (w *worker) addCandidates(fs *frameState, k int) {
	lv := w.pyr.level(k)
	classes := []sizeClass{{}}
	switch {
	case k == 0:
		// All hits, and those of modules of seven pixels and more.
		classes = []sizeClass{{}, {7 * 7, 0}}
	case k >= 2:
		// Below the half, only what finer levels cannot see well: finder
		// patterns of modules 2.5 pixels wide and more at this level.
		classes = []sizeClass{{17, 0}}
	}
	for _, invert := range [2]bool{false, true} {
		if lv.hits.full(invert) {
			continue // a texture at this scale: a coarser level may see through it
		}
		l := lv.hits.of(invert)
		for _, cls := range classes {
			ok, r, m := codeLike(l, w.skip, lv.scale, cls, &w.hitIdx)
			if !ok || w.static(r.mul(lv.scale).clip(fs.f.Width, fs.f.Height)) {
				continue
			}
			fs.cands = append(fs.cands, candidate{level: k, invert: invert, r: r, module: m, score: strong(l, cls)})
		}
	}
}

// nothing ends a frame in which no prescan saw anything code-like (unless
// the hinted region held codes): most frames end here, having allocated
// nothing.
func (w *worker) nothing(fs *frameState) bool {
	if len(fs.cands) > 0 {
		w.order(fs)
		fs.thorough = true
		return false
	}
	w.quick = len(w.found) == 0
	return true
}

// order sorts the candidates best first: the level at which the hits'
// modules are closest to four pixels (large enough to sample, small
// enough for the eight-pixel blocks), then the stronger polarity.
func (w *worker) order(fs *frameState) {
	cost := func(c candidate) float64 {
		m := c.module
		if m <= 0 {
			m = 4
		}
		return math.Abs(math.Log2(m / 4))
	}
	dark, light := 0, 0
	for _, c := range fs.cands {
		if c.invert {
			light += c.score
		} else {
			dark += c.score
		}
	}
	slices.SortStableFunc(fs.cands, func(a, b candidate) int {
		if a.invert != b.invert {
			if (light > dark) == a.invert {
				return -1
			}
			return 1
		}
		ca, cb := cost(a), cost(b)
		switch {
		case ca < cb-0.5:
			return -1
		case cb < ca-0.5:
			return 1
		}
		return a.level - b.level
	})
}

// each runs fn on the candidates in order until a code is found or the
// budget is spent, and reports whether one was found.
func (w *worker) each(fs *frameState, fn func(lv *level, c *candidate, r rect)) bool {
	for i := range fs.cands {
		if w.foundNew(fs) || w.over(fs) {
			break
		}
		c := &fs.cands[i]
		lv := w.pyr.level(c.level)
		fn(lv, c, c.r.clip(lv.p.w, lv.p.h))
	}
	return w.foundNew(fs)
}

// thresholds reads each candidate region with the thresholds its prescan
// had (those measured at its level, or estimated for the frame), then the
// frame's regions with measured ones.
func (w *worker) thresholds(fs *frameState) bool {
	if w.each(fs, func(lv *level, c *candidate, r rect) {
		if !c.tried {
			w.attempt(lv, c.invert, r, estimated)
		}
	}) {
		return true
	}
	return w.each(fs, func(lv *level, c *candidate, r rect) {
		if c.level == 0 {
			w.attempt(lv, c.invert, r, measured)
		}
	})
}

// wholePlane reads each candidate's whole level: the code may reach beyond
// the region the prescan saw.
func (w *worker) wholePlane(fs *frameState) bool {
	type levelPolarity struct {
		level  int
		invert bool
	}
	var done []levelPolarity // a level read whole once per polarity: the same pixels give the same nothing
	return w.each(fs, func(lv *level, c *candidate, r rect) {
		if pl := (levelPolarity{c.level, c.invert}); (r.x1-r.x0)*(r.y1-r.y0) < lv.p.w*lv.p.h*2/3 && !slices.Contains(done, pl) {
			done = append(done, pl)
			w.attempt(lv, c.invert, rect{0, 0, lv.p.w, lv.p.h}, measured)
		}
	})
}

// globalLook reads each region with one threshold from its histogram.
func (w *worker) globalLook(fs *frameState) bool {
	return w.each(fs, func(lv *level, c *candidate, r rect) {
		if c.level <= 1 {
			w.attempt(lv, c.invert, r, global)
		}
	})
}

// upscale reads the frame's candidate regions, grown by a quarter and
// enlarged 1.5 times, in the stronger polarity: small modules, and finder
// patterns the prescan missed.
func (w *worker) upscale(fs *frameState) bool {
	if w.over(fs) {
		return true
	}
	p := w.pyr.level(0).p
	r := noRect
	for _, c := range fs.cands {
		if c.module < 4 || c.level == 0 {
			s := w.pyr.level(c.level).scale
			r = r.union(c.r.x0*s, c.r.y0*s, 0).union(c.r.x1*s, c.r.y1*s, 0)
		}
	}
	if r.x1 <= r.x0 {
		return false
	}
	gx, gy := (r.x1-r.x0)/4, (r.y1-r.y0)/4
	r = rect{r.x0 - gx, r.y0 - gy, r.x1 + gx, r.y1 + gy}.clip(p.w, p.h)
	r.x0 &^= 1
	r.y0 &^= 1
	sub := p.sub(r.x0, r.y0, r.x1, r.y1)
	if sub.w < minBinarize || sub.h < minBinarize || sub.w*sub.h > maxUpscale {
		return false
	}
	up := &w.up
	up.p, w.upRows = up32(sub, up.buf, w.upRows)
	up.buf = up.p.pix
	up.th.size(up.p)
	up.fscale, up.scale = 2.0/3, 0
	up.ox, up.oy = float64(r.x0), float64(r.y0)
	w.attempt(up, fs.cands[0].invert, rect{0, 0, up.p.w, up.p.h}, measured)
	return w.foundNew(fs)
}

// fallback is gozxing's own detector over the frame, or over the pyramid
// level nearest a million pixels for larger frames, where it sees few
// finder patterns (plain).
func (w *worker) fallback(fs *frameState) bool {
	if w.over(fs) {
		return true
	}
	k := 0
	for k+1 < maxLevels {
		if lv := w.pyr.level(k); lv.p.w*lv.p.h <= 1<<20 {
			break
		}
		k++
	}
	w.plain(fs, fs.f, k)
	return true
}

// candidateBounds is the union of the candidates' regions in frame pixels.
func (w *worker) candidateBounds(fs *frameState) rect {
	r := noRect
	for _, c := range fs.cands {
		s := w.pyr.level(c.level).scale
		r = r.union(c.r.x0*s, c.r.y0*s, 0).union(c.r.x1*s, c.r.y1*s, 0)
	}
	return r
}

// result returns the codes found, and the region they cover with the
// level and polarity of the first.
func (w *worker) result() ([]checkpoint.Symbol, roi) {
	r := noRect
	for _, l := range w.found {
		for _, c := range l.corners {
			r = r.union(int(c.x), int(c.y), 1)
		}
	}
	l := w.found[0]
	return w.symbols(), roi{ok: true, r: r, level: l.level, invert: l.invert}
}

// over reports whether the frame's time budget is spent or ctx is done.
func (w *worker) over(fs *frameState) bool {
	if fs.cancelled() {
		return true
	}
	return w.opts.Budget > 0 && time.Since(fs.start) > w.opts.Budget
}

// cancelled reports whether the frame's context is done: every step and
// every long loop in one stops then.
func (fs *frameState) cancelled() bool { return fs.ctx != nil && fs.ctx.Err() != nil }
