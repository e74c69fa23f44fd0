package checkpoint

import (
	"image"
	"image/color"
)

// FrameFromImage converts an image once into an 8-bit luminance frame
// (ITU-R BT.601 luma, as JPEG's Y plane), with Stride equal to the width.
// Transparent pixels are drawn on white, as a viewer shows them. Every
// image type Go's and x/image's decoders return is converted row by row
// without allocating; others go through color.Model.
func FrameFromImage(img image.Image) *Frame {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	f := &Frame{Width: w, Height: h, Stride: w, Y: make([]byte, w*h)}
	var lut *[256]byte
	if m, ok := img.(*image.Paletted); ok {
		lut = new([256]byte)
		for i, c := range m.Palette {
			lut[i] = lumaOf(c)
		}
	}
	for y := 0; y < h; y++ {
		lumaRow(img, lut, b.Min.X, b.Min.Y+y, f.Y[y*w:(y+1)*w])
	}
	return f
}

// lumaRow writes the luma of the len(out) pixels of img from (x0, y); lut
// is the luma of a paletted image's colours.
func lumaRow(img image.Image, lut *[256]byte, x0, y int, out []byte) {
	switch m := img.(type) {
	case *image.Gray:
		copy(out, m.Pix[m.PixOffset(x0, y):])
	case *image.YCbCr:
		copy(out, m.Y[m.YOffset(x0, y):])
	case *image.NYCbCrA:
		yy, a := m.Y[m.YOffset(x0, y):], m.A[m.AOffset(x0, y):]
		for x := range out {
			out[x] = onWhite(uint32(yy[x]), uint32(a[x]))
		}
	case *image.Gray16:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range out {
			out[x] = p[2*x] // the high byte
		}
	case *image.NRGBA:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range out {
			q := p[4*x : 4*x+4]
			a := uint32(q[3])
			out[x] = luma(uint32(onWhite(uint32(q[0]), a)), uint32(onWhite(uint32(q[1]), a)), uint32(onWhite(uint32(q[2]), a)))
		}
	case *image.RGBA: // premultiplied: on white is c + 255 - a
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range out {
			q := p[4*x : 4*x+4]
			t := 255 - uint32(q[3])
			out[x] = luma(uint32(q[0])+t, uint32(q[1])+t, uint32(q[2])+t)
		}
	case *image.NRGBA64:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range out {
			q := p[8*x : 8*x+8]
			a := uint32(q[6])
			out[x] = luma(uint32(onWhite(uint32(q[0]), a)), uint32(onWhite(uint32(q[2]), a)), uint32(onWhite(uint32(q[4]), a)))
		}
	case *image.RGBA64:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range out {
			q := p[8*x : 8*x+8]
			t := 255 - uint32(q[6])
			out[x] = luma(uint32(q[0])+t, uint32(q[2])+t, uint32(q[4])+t)
		}
	case *image.CMYK:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range out {
			q := p[4*x : 4*x+4]
			r, g, bl := color.CMYKToRGB(q[0], q[1], q[2], q[3])
			out[x] = luma(uint32(r), uint32(g), uint32(bl))
		}
	case *image.Paletted:
		p := m.Pix[m.PixOffset(x0, y):]
		for x := range out {
			out[x] = lut[p[x]]
		}
	default:
		for x := range out {
			out[x] = lumaOf(img.At(x0+x, y))
		}
	}
}

// lumaOf is the luma of one colour drawn on white.
func lumaOf(c color.Color) byte {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	a := uint32(n.A)
	return luma(uint32(onWhite(uint32(n.R), a)), uint32(onWhite(uint32(n.G), a)), uint32(onWhite(uint32(n.B), a)))
}

// onWhite is the 8-bit value v of opacity a (0 to 255) drawn on white.
func onWhite(v, a uint32) byte { return byte((v*a + 255*(255-a)) / 255) }

// luma is BT.601 luma from 8-bit RGB, as color.GrayModel computes it.
func luma(r, g, b uint32) byte {
	return byte((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
}
