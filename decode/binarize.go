package decode

import (
	"encoding/binary"
	"math/bits"
)

// The local-threshold binarizer is zxing's HybridBinarizer, rewritten to run
// over a strided plane in place, to reuse its buffers, to give the threshold
// of either polarity from one pass over the pixels, and to pack the result
// into words the finder scans a run at a time.

const (
	blockPow        = 3
	blockSize       = 1 << blockPow
	minDynamicRange = 24
	// flatMargin bounds how far below a flat block's mean its black point
	// may fall (zxing: half the minimum). Closer, a low-contrast code's
	// quiet zone no longer pulls the threshold of its finder patterns below
	// their ink.
	flatMargin = 40
	// minBinarize is the smallest side the block binarizer works on (five
	// blocks, as zxing).
	minBinarize = 5 * blockSize
)

// thresholds holds per-block statistics of a plane and the local threshold
// of each block.
type thresholds struct {
	bw, bh int
	sum    []uint16 // sum of the block's 64 pixels
	mn, mx []uint8  // darkest and lightest pixel of the block
	bp     []int32  // black point per block
	hs     []int32  // horizontal 5-sums of bp
	nr     []uint8  // smallest range of the blocks not flat in each row's 3 about a block (255: none)
	thr    []uint8  // threshold per block: a pixel <= thr is dark
	// thrInv is thr for light-on-dark codes (of the inverted image), apart
	// so that reading a region in one polarity leaves the other's intact.
	thrInv []uint8
}

func growU8(b []uint8, n int) []uint8 {
	if cap(b) < n {
		return make([]uint8, n)
	}
	return b[:n]
}

func growU16(b []uint16, n int) []uint16 {
	if cap(b) < n {
		return make([]uint16, n)
	}
	return b[:n]
}

func growI32(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

// brect is a rectangle of blocks [x0,x1)×[y0,y1).
type brect struct{ x0, y0, x1, y1 int }

// blocksOf returns the blocks covering the pixel rectangle r, grown by two
// blocks (the reach of the 5×5 average) and to at least five blocks a side,
// within the plane's bw×bh blocks.
func blocksOf(r rect, bw, bh int) brect {
	b := brect{(r.x0 >> blockPow) - 2, (r.y0 >> blockPow) - 2, ((r.x1 + blockSize - 1) >> blockPow) + 2, ((r.y1 + blockSize - 1) >> blockPow) + 2}
	if b.x1-b.x0 < 5 {
		b.x1 = b.x0 + 5
	}
	if b.y1-b.y0 < 5 {
		b.y1 = b.y0 + 5
	}
	if b.x1 > bw {
		b.x0, b.x1 = b.x0-(b.x1-bw), bw
	}
	if b.y1 > bh {
		b.y0, b.y1 = b.y0-(b.y1-bh), bh
	}
	b.x0, b.y0 = max(b.x0, 0), max(b.y0, 0)
	return b
}

// size sets the block grid for p and grows the buffers.
func (t *thresholds) size(p plane) {
	bw := (p.w + blockSize - 1) >> blockPow
	bh := (p.h + blockSize - 1) >> blockPow
	t.bw, t.bh = bw, bh
	n := bw * bh
	t.sum = growU16(t.sum, n)
	t.mn = growU8(t.mn, n)
	t.mx = growU8(t.mx, n)
	t.bp = growI32(t.bp, n)
	t.hs = growI32(t.hs, n)
	t.nr = growU8(t.nr, n)
	t.thr = growU8(t.thr, n)
	t.thrInv = growU8(t.thrInv, n)
}

// of is the block thresholds of one polarity.
func (t *thresholds) of(invert bool) []uint8 {
	if invert {
		return t.thrInv
	}
	return t.thr
}

// all is the whole block grid.
func (t *thresholds) all() brect { return brect{0, 0, t.bw, t.bh} }

// stats measures every block of p. p must be at least minBinarize on each side.
func (t *thresholds) stats(p plane) {
	t.size(p)
	t.statsRect(p, t.all())
}

// statsRect measures the blocks of p in r (size must have been called).
func (t *thresholds) statsRect(p plane, r brect) {
	bw := t.bw
	maxX, maxY := p.w-blockSize, p.h-blockSize
	for by := r.y0; by < r.y1; by++ {
		y0 := min(by<<blockPow, maxY)
		base := y0 * p.stride
		for bx := r.x0; bx < r.x1; bx++ {
			off := base + min(bx<<blockPow, maxX)
			var rw [blockSize]uint64
			var s16 uint64
			for yy := range rw {
				v := le64(p.pix[off:])
				rw[yy] = v
				s16 += v&even16 + (v>>8)&even16
				off += p.stride
			}
			// Tournament for the lane-wise extremes of the eight rows, then
			// across the eight lanes.
			n0, x0 := minMax8(rw[0], rw[1])
			n1, x1 := minMax8(rw[2], rw[3])
			n2, x2 := minMax8(rw[4], rw[5])
			n3, x3 := minMax8(rw[6], rw[7])
			n0, _ = minMax8(n0, n1)
			n2, _ = minMax8(n2, n3)
			n0, _ = minMax8(n0, n2)
			_, x0 = minMax8(x0, x1)
			_, x2 = minMax8(x2, x3)
			_, x0 = minMax8(x0, x2)
			n0, _ = minMax8(n0, n0>>32)
			n0, _ = minMax8(n0, n0>>16)
			n0, _ = minMax8(n0, n0>>8)
			_, x0 = minMax8(x0, x0>>32)
			_, x0 = minMax8(x0, x0>>16)
			_, x0 = minMax8(x0, x0>>8)
			i := by*bw + bx
			t.sum[i] = uint16((s16 * 0x0001000100010001) >> 48)
			t.mn[i] = uint8(n0)
			t.mx[i] = uint8(x0)
		}
	}
}

// statsFromHalf estimates the statistics of every block of a plane from
// hp, that plane halved: each 8×8 block is 4×4 pixels of hp. Sums are
// exact but for rounding; minimum and maximum are those of 2×2 means, so a
// little narrower. The prescan needs no more, at a quarter of the reading.
func (t *thresholds) statsFromHalf(p, hp plane) {
	t.size(p)
	bw := t.bw
	maxX, maxY := hp.w-4, hp.h-4
	for by := 0; by < t.bh; by++ {
		y0 := min(4*by, maxY)
		for bx := 0; bx < bw; bx += 2 {
			// Two blocks side by side: eight bytes of four rows.
			x0 := 4 * bx
			two := bx+1 < bw && x0+8 <= hp.w
			if !two {
				x0 = min(x0, maxX)
			}
			var rw [4]uint64
			off := y0*hp.stride + x0
			for k := range rw {
				if two {
					rw[k] = le64(hp.pix[off:])
				} else {
					v := uint64(binary.LittleEndian.Uint32(hp.pix[off:]))
					rw[k] = v | v<<32
				}
				off += hp.stride
			}
			var s16 uint64
			for _, v := range rw {
				s16 += v&even16 + (v>>8)&even16
			}
			n0, x0w := minMax8(rw[0], rw[1])
			n1, x1w := minMax8(rw[2], rw[3])
			n0, _ = minMax8(n0, n1)
			_, x0w = minMax8(x0w, x1w)
			n0, _ = minMax8(n0, n0>>16)
			n0, _ = minMax8(n0, n0>>8)
			_, x0w = minMax8(x0w, x0w>>16)
			_, x0w = minMax8(x0w, x0w>>8)
			// s16 lanes: 0,1 hold the first block's sums, 2,3 the second's.
			i := by*bw + bx
			t.sum[i] = uint16(4 * ((s16 & 0xffff) + (s16 >> 16 & 0xffff)))
			t.mn[i] = uint8(n0)
			t.mx[i] = uint8(x0w)
			if bx+1 < bw {
				if two {
					t.sum[i+1] = uint16(4 * ((s16 >> 32 & 0xffff) + (s16 >> 48)))
					t.mn[i+1] = uint8(n0 >> 32)
					t.mx[i+1] = uint8(x0w >> 32)
				} else {
					t.sum[i+1], t.mn[i+1], t.mx[i+1] = t.sum[i], t.mn[i], t.mx[i]
				}
			}
		}
	}
}

// compute derives every block's threshold from the statistics.
func (t *thresholds) compute(invert bool) { t.computeRect(invert, t.all()) }

// computeRect derives the threshold of each block in r from the statistics,
// as zxing's HybridBinarizer does, for dark-on-light codes, or for
// light-on-dark ones when invert is set (the threshold is then that of the
// inverted image). r's edges count as the image's: r must be at least five
// blocks a side and its statistics measured.
func (t *thresholds) computeRect(invert bool, r brect) {
	bw := t.bw
	bp := t.bp
	t.nearRanges(r)
	for by := r.y0; by < r.y1; by++ {
		for bx := r.x0; bx < r.x1; bx++ {
			i := by*bw + bx
			sum, mn, mx := int32(t.sum[i]), int32(t.mn[i]), int32(t.mx[i])
			if invert {
				sum, mn, mx = 64*255-sum, 255-mx, 255-mn
			}
			avg := sum >> (2 * blockPow)
			if mx-mn <= minDynamicRange {
				// A flat block: assume background, unless its neighbours say
				// it lies inside something dark.
				// Its black point lies below its mean by the contrast of
				// what is printed next to it (the least contrast, so that a
				// strong edge nearby does not sink a faint code's quiet zone).
				near := int32(t.nr[i])
				if by > r.y0 {
					near = min(near, int32(t.nr[i-bw]))
				}
				if by < r.y1-1 {
					near = min(near, int32(t.nr[i+bw]))
				}
				if near == 255 {
					near = 0
				}
				avg = max(mn/2, avg-max(flatMargin, near))
				if by > r.y0 && bx > r.x0 {
					nb := (bp[i-bw] + 2*bp[i-1] + bp[i-bw-1]) / 4
					if mn < nb {
						avg = nb
					}
				}
			}
			bp[i] = avg
		}
	}
	// Average 5×5 black points around each block (clamped to r).
	for by := r.y0; by < r.y1; by++ {
		row := bp[by*bw : by*bw+bw]
		hs := t.hs[by*bw : by*bw+bw]
		for c := r.x0 + 2; c < r.x1-2; c++ {
			hs[c] = row[c-2] + row[c-1] + row[c] + row[c+1] + row[c+2]
		}
	}
	for by := r.y0; by < r.y1; by++ {
		top := min(max(by, r.y0+2), r.y1-3)
		out := t.of(invert)[by*bw : by*bw+bw]
		h0, h1, h2, h3, h4 := t.hs[(top-2)*bw:], t.hs[(top-1)*bw:], t.hs[top*bw:], t.hs[(top+1)*bw:], t.hs[(top+2)*bw:]
		for bx := r.x0; bx < r.x1; bx++ {
			left := min(max(bx, r.x0+2), r.x1-3)
			// For the inverted polarity this is the threshold of the
			// inverted image: binarize flips the pixels before comparing.
			out[bx] = uint8((h0[left] + h1[left] + h2[left] + h3[left] + h4[left]) / 25)
		}
	}
}

// nearRanges sets nr for the blocks of r: the smallest dynamic range among
// the block and its left and right neighbours (within r) that are not
// flat, or 255 when all three are.
func (t *thresholds) nearRanges(r brect) {
	for by := r.y0; by < r.y1; by++ {
		row := by * t.bw
		mn, mx, nr := t.mn[row+r.x0:row+r.x1], t.mx[row+r.x0:row+r.x1], t.nr[row+r.x0:row+r.x1]
		prev, cur := uint8(255), rangeOf(mn[0], mx[0])
		for x := range nr {
			next := uint8(255)
			if x+1 < len(nr) {
				next = rangeOf(mn[x+1], mx[x+1])
			}
			nr[x] = min(prev, cur, next)
			prev, cur = cur, next
		}
	}
}

// rangeOf is a block's dynamic range, or 255 for a flat block.
func rangeOf(mn, mx uint8) uint8 {
	if d := mx - mn; d > minDynamicRange {
		return d
	}
	return 255
}

// bitmap is a binarized image: bit x of row y is bits[y*words+x/64]>>(x%64),
// set where the image is dark (or light, for the inverted polarity).
type bitmap struct {
	w, h, words int
	bits        []uint64
}

func (b *bitmap) reset(w, h int) {
	b.w, b.h = w, h
	b.words = (w + 63) >> 6
	n := b.words * h
	if cap(b.bits) < n {
		b.bits = make([]uint64, n)
	}
	b.bits = b.bits[:n]
}

// get reports whether (x, y) is set; outside the bitmap is unset.
func (b *bitmap) get(x, y int) bool {
	if uint(x) >= uint(b.w) || uint(y) >= uint(b.h) {
		return false
	}
	return b.bits[y*b.words+x>>6]>>(uint(x)&63)&1 != 0
}

// row returns the words of row y.
func (b *bitmap) row(y int) []uint64 { return b.bits[y*b.words : (y+1)*b.words] }

// binarize thresholds p into b with the block thresholds t. With invert set,
// light pixels are set (t must then come from compute(true)).
func binarize(p plane, t *thresholds, invert bool, b *bitmap) {
	binarizeRect(p, t, invert, b, rect{0, 0, p.w, p.h})
}

// binarizeRect is binarize for the pixels in r (widened to whole words);
// the rest of b is unset.
func binarizeRect(p plane, t *thresholds, invert bool, b *bitmap, r rect) {
	b.reset(p.w, p.h)
	clear(b.bits)
	x0 := r.x0 &^ 63
	x1 := min((r.x1+63)&^63, p.w)
	thr := t.of(invert)
	for y := r.y0; y < r.y1; y++ {
		row := p.row(y)[x0:x1]
		binarizeRow(row, thr[min(y>>blockPow, t.bh-1)*t.bw+x0>>blockPow:], invert, b.row(y)[x0>>6:])
	}
}

// binarizeRow thresholds one row of pixels with the thresholds of its block
// row into words.
func binarizeRow(px []byte, thr []uint8, invert bool, out []uint64) {
	w := len(px)
	clear(out[:(w+63)>>6])
	nb := w >> blockPow // whole blocks
	var flip uint64
	if invert {
		flip = ^uint64(0)
	}
	for wi := 0; wi*8 < nb; wi++ {
		var word uint64
		for k := 0; k < 8 && wi*8+k < nb; k++ {
			bx := wi*8 + k
			t := uint64(thr[bx])
			var b uint8
			if t == 255 {
				b = 0xff
			} else {
				// dark when pixel <= t, i.e. pixel < t+1, lane by lane
				b = gather(lt(le64(px[bx<<blockPow:])^flip, (t+1)*ones8))
			}
			word |= uint64(b) << (8 * uint(k))
		}
		out[wi] = word
	}
	if full := nb << blockPow; full < w {
		var fl int64
		if invert {
			fl = 255
		}
		t := int64(thr[min(nb, len(thr)-1)])
		for x := full; x < w; x++ {
			out[x>>6] |= (uint64((int64(px[x])^fl)-t-1) >> 63) << (uint(x) & 63)
		}
	}
}

// runs appends to dst the lengths of the alternating runs of row words of
// width w, starting with a run of unset bits (possibly empty), and returns it.
func runs(row []uint64, w int, dst []int32) []int32 {
	dst = dst[:0]
	x := 0
	cur := uint64(0) // value of the current run: 0 unset, all ones set
	start := 0
	for x < w {
		wi := x >> 6
		word := row[wi] ^ cur
		word >>= uint(x) & 63
		// the first bit differing from the current run's value
		if word == 0 {
			x = (wi + 1) << 6
			continue
		}
		x += bits.TrailingZeros64(word)
		if x >= w {
			break
		}
		dst = append(dst, int32(x-start))
		start = x
		cur = ^cur
	}
	dst = append(dst, int32(w-start))
	return dst
}
