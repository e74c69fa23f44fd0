package decode

import "encoding/binary"

// plane is an 8-bit luminance image: h rows of stride bytes, the first w of
// each row being pixels. It views a frame's buffer or a worker's scratch
// buffer; it never owns memory on its own.
type plane struct {
	w, h, stride int
	pix          []byte
}

// row returns the pixels of row y.
func (p plane) row(y int) []byte { return p.pix[y*p.stride : y*p.stride+p.w] }

// at returns the pixel at (x, y), clamped to the plane.
func (p plane) at(x, y int) byte {
	x = min(max(x, 0), p.w-1)
	y = min(max(y, 0), p.h-1)
	return p.pix[y*p.stride+x]
}

// sub returns the part of p inside the rectangle [x0,x1)×[y0,y1), clipped.
func (p plane) sub(x0, y0, x1, y1 int) plane {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, p.w), min(y1, p.h)
	if x1 <= x0 || y1 <= y0 {
		return plane{}
	}
	return plane{w: x1 - x0, h: y1 - y0, stride: p.stride, pix: p.pix[y0*p.stride+x0:]}
}

// grow returns buf with room for n bytes, reusing it when it is large enough.
func grow(buf []byte, n int) []byte {
	if cap(buf) < n {
		return make([]byte, n)
	}
	return buf[:n]
}

// half writes p scaled down by two (each pixel the mean of a 2×2 block) into
// buf and returns it.
func half(p plane, buf []byte) plane {
	w, h := p.w/2, p.h/2
	buf = grow(buf, w*h)
	for y := 0; y < h; y++ {
		r0 := p.pix[2*y*p.stride : 2*y*p.stride+2*w]
		r1 := p.pix[(2*y+1)*p.stride : (2*y+1)*p.stride+2*w]
		out := buf[y*w : y*w+w]
		x := 0
		for ; x+4 <= w; x += 4 {
			a, b := le64(r0[2*x:]), le64(r1[2*x:])
			s := a&even16 + (a>>8)&even16 + b&even16 + (b>>8)&even16
			s = ((s + 0x0002000200020002) >> 2) & even16
			s |= s >> 8
			binary.LittleEndian.PutUint32(out[x:], uint32(s&0xffff)|uint32((s>>16)&0xffff0000))
		}
		for ; x < w; x++ {
			out[x] = byte((uint(r0[2*x]) + uint(r0[2*x+1]) + uint(r1[2*x]) + uint(r1[2*x+1]) + 2) >> 2)
		}
	}
	return plane{w: w, h: h, stride: w, pix: buf}
}

// up32 writes p enlarged 3/2 times with bilinear interpolation into buf and
// returns it. Output pixel centres fall at source positions 2k-1/6, 2k+1/2
// and 2k+7/6 for k = 0, 1, ..., so the weights repeat every three pixels
// (in sixths: 1:5, 3:3, 5:1). rows is scratch space for two filtered rows.
func up32(p plane, buf []byte, rows []uint16) (plane, []uint16) {
	w, h := p.w*3/2, p.h*3/2
	buf = grow(buf, w*h)
	if cap(rows) < 2*w {
		rows = make([]uint16, 2*w)
	}
	rows = rows[:2*w]
	// hrow filters source row y horizontally into dst (values times 6).
	hrow := func(y int, dst []uint16) {
		y = min(max(y, 0), p.h-1)
		src := p.row(y)
		last := p.w - 1
		// Interior: k from 1 while 2k+2 <= last and 3k+2 < w.
		k := 1
		for ; 2*k+2 <= last && 3*k+2 < w; k++ {
			s := src[2*k-1 : 2*k+3 : 2*k+3]
			d := dst[3*k : 3*k+3 : 3*k+3]
			a, b, c, e := uint16(s[0]), uint16(s[1]), uint16(s[2]), uint16(s[3])
			d[0] = a + 5*b
			d[1] = 3 * (b + c)
			d[2] = 5*c + e
		}
		for _, kk := range [2]int{0, k} {
			for k := kk; 3*k < w && (k == kk || k > 0 && (2*k+2 > last || 3*k+2 >= w)); k++ {
				a := src[max(2*k-1, 0)]
				b := src[min(2*k, last)]
				c := src[min(2*k+1, last)]
				e := src[min(2*k+2, last)]
				dst[3*k] = uint16(a) + 5*uint16(b)
				if 3*k+1 < w {
					dst[3*k+1] = 3*uint16(b) + 3*uint16(c)
				}
				if 3*k+2 < w {
					dst[3*k+2] = 5*uint16(c) + uint16(e)
				}
				if kk == 0 {
					break
				}
			}
		}
	}
	r0, r1 := rows[:w], rows[w:]
	have0, have1 := -2, -2 // source rows in r0, r1
	for y := 0; y < h; y++ {
		k, ph := y/3, y%3
		var sa, sb int
		var wa, wb uint32
		switch ph {
		case 0:
			sa, sb, wa, wb = 2*k-1, 2*k, 1, 5
		case 1:
			sa, sb, wa, wb = 2*k, 2*k+1, 3, 3
		default:
			sa, sb, wa, wb = 2*k+1, 2*k+2, 5, 1
		}
		if have0 != sa {
			if have1 == sa {
				r0, r1 = r1, r0
				have0, have1 = have1, have0
			} else {
				hrow(sa, r0)
				have0 = sa
			}
		}
		if have1 != sb {
			hrow(sb, r1)
			have1 = sb
		}
		out := buf[y*w : y*w+w]
		a, b := r0[:len(out)], r1[:len(out)]
		for x := range out {
			out[x] = byte((wa*uint32(a[x]) + wb*uint32(b[x]) + 18) / 36)
		}
	}
	return plane{w: w, h: h, stride: w, pix: buf}, rows
}
