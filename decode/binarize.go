package decode

import "math/bits"

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
	thr    []uint8  // threshold per block: a pixel <= thr is dark
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

// stats measures every block of p. p must be at least minBinarize on each side.
func (t *thresholds) stats(p plane) {
	bw := (p.w + blockSize - 1) >> blockPow
	bh := (p.h + blockSize - 1) >> blockPow
	t.bw, t.bh = bw, bh
	n := bw * bh
	t.sum = growU16(t.sum, n)
	t.mn = growU8(t.mn, n)
	t.mx = growU8(t.mx, n)
	maxX, maxY := p.w-blockSize, p.h-blockSize
	for by := 0; by < bh; by++ {
		y0 := min(by<<blockPow, maxY)
		base := y0 * p.stride
		for bx := 0; bx < bw; bx++ {
			off := base + min(bx<<blockPow, maxX)
			var r [blockSize]uint64
			var s16 uint64
			for yy := range r {
				v := le64(p.pix[off:])
				r[yy] = v
				s16 += v&even16 + (v>>8)&even16
				off += p.stride
			}
			// Tournament for the lane-wise extremes of the eight rows, then
			// across the eight lanes.
			n0, x0 := minMax8(r[0], r[1])
			n1, x1 := minMax8(r[2], r[3])
			n2, x2 := minMax8(r[4], r[5])
			n3, x3 := minMax8(r[6], r[7])
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

// compute derives each block's threshold from the statistics, as zxing's
// HybridBinarizer does, for dark-on-light codes, or for light-on-dark ones
// when invert is set (the threshold is then that of the inverted image).
func (t *thresholds) compute(invert bool) {
	bw, bh := t.bw, t.bh
	n := bw * bh
	t.bp = growI32(t.bp, n)
	t.hs = growI32(t.hs, n)
	t.thr = growU8(t.thr, n)
	bp := t.bp
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			i := by*bw + bx
			sum, mn, mx := int32(t.sum[i]), int32(t.mn[i]), int32(t.mx[i])
			if invert {
				sum, mn, mx = 64*255-sum, 255-mx, 255-mn
			}
			avg := sum >> (2 * blockPow)
			if mx-mn <= minDynamicRange {
				// A flat block: assume background, unless its neighbours say
				// it lies inside something dark.
				avg = max(mn/2, avg-flatMargin)
				if by > 0 && bx > 0 {
					nb := (bp[i-bw] + 2*bp[i-1] + bp[i-bw-1]) / 4
					if mn < nb {
						avg = nb
					}
				}
			}
			bp[i] = avg
		}
	}
	// Average 5×5 black points around each block (clamped to the plane).
	for by := 0; by < bh; by++ {
		row := bp[by*bw : by*bw+bw]
		hs := t.hs[by*bw : by*bw+bw]
		for c := 2; c < bw-2; c++ {
			hs[c] = row[c-2] + row[c-1] + row[c] + row[c+1] + row[c+2]
		}
	}
	for by := 0; by < bh; by++ {
		top := min(max(by, 2), bh-3)
		out := t.thr[by*bw : by*bw+bw]
		for bx := range out {
			left := min(max(bx, 2), bw-3)
			s := int32(0)
			for z := top - 2; z <= top+2; z++ {
				s += t.hs[z*bw+left]
			}
			// For the inverted polarity this is the threshold of the
			// inverted image: binarize flips the pixels before comparing.
			out[bx] = uint8(s / 25)
		}
	}
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
	for y := r.y0; y < r.y1; y++ {
		row := p.row(y)[x0:x1]
		binarizeRow(row, t.thr[min(y>>blockPow, t.bh-1)*t.bw+x0>>blockPow:], invert, b.row(y)[x0>>6:])
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
