package decode

// The pyramid is the frame and its successive halvings, each pixel of a
// level the mean of four of the level above (area averaging, which also
// averages away a screen's sub-pixel grid). Each level keeps its own block
// thresholds, so the eight-pixel blocks of level k are 8·2^k frame pixels
// wide: the threshold's reach follows the scale. Levels are built when a
// step first asks for them and their buffers are reused frame after frame.

const (
	// maxLevels bounds the pyramid: level 5 is 1/32 of the frame, where the
	// 200-pixel modules of a 12 MP close-up are six pixels wide.
	maxLevels = 6
	// minLevelSide is the smallest side a level below the half is scanned at.
	minLevelSide = 64
	// maxUpscale bounds the region the upscale step enlarges, in pixels.
	maxUpscale = 2 << 20
)

// level is one plane the steps read: a pyramid level, or a region of the
// frame enlarged.
type level struct {
	p      plane
	index  int     // pyramid level (0 for the frame and for an enlarged region)
	scale  int     // frame pixels per pixel of a pyramid level (1, 2, 4, …)
	fscale float64 // frame pixels per pixel, as a float (2/3 when enlarged)
	ox, oy float64 // frame position of the plane's origin
	th     thresholds
	hits   hits
	buf    []byte
}

// pyramid holds the levels of the current frame.
type pyramid struct {
	lv    [maxLevels]level
	built int // levels 0 to built-1 are of the current frame
}

// reset makes frame level 0 and forgets the other levels.
func (py *pyramid) reset(frame plane) {
	py.lv[0].p = frame
	py.lv[0].scale, py.lv[0].fscale = 1, 1
	py.built = 1
}

// level returns level k (at most maxLevels-1), halving the level above as
// often as needed.
func (py *pyramid) level(k int) *level {
	k = min(max(k, 0), maxLevels-1)
	for py.built <= k {
		i := py.built
		up, lv := &py.lv[i-1], &py.lv[i]
		lv.p = half(up.p, lv.buf)
		lv.buf = lv.p.pix
		lv.index, lv.scale = i, 1<<i
		lv.fscale = float64(lv.scale)
		py.built++
	}
	return &py.lv[k]
}

// div is r in a plane s times smaller.
func (r rect) div(s int) rect { return rect{r.x0 / s, r.y0 / s, r.x1 / s, r.y1 / s} }

// mul is r in a plane s times larger.
func (r rect) mul(s int) rect { return rect{r.x0 * s, r.y0 * s, r.x1 * s, r.y1 * s} }
