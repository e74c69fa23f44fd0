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

// upscale writes p scaled by num/den (> 1) with bilinear interpolation into
// buf and returns it.
func upscale(p plane, num, den int, buf []byte) plane {
	w, h := p.w*num/den, p.h*num/den
	buf = grow(buf, w*h)
	// Source coordinate of output pixel centre x: (x+0.5)*den/num - 0.5, in
	// 1/256 pixel units.
	for y := 0; y < h; y++ {
		sy := ((2*y+1)*den*256/num - 256) / 2
		sy = max(sy, 0)
		y0 := min(sy>>8, p.h-1)
		y1 := min(y0+1, p.h-1)
		fy := sy & 255
		r0, r1 := p.row(y0), p.row(y1)
		out := buf[y*w : y*w+w]
		for x := range out {
			sx := ((2*x+1)*den*256/num - 256) / 2
			sx = max(sx, 0)
			x0 := min(sx>>8, p.w-1)
			x1 := min(x0+1, p.w-1)
			fx := sx & 255
			a := int(r0[x0])*(256-fx) + int(r0[x1])*fx
			b := int(r1[x0])*(256-fx) + int(r1[x1])*fx
			out[x] = byte((a*(256-fy) + b*fy + 1<<15) >> 16)
		}
	}
	return plane{w: w, h: h, stride: w, pix: buf}
}
