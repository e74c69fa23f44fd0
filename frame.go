package checkpoint

import (
	"image"
	"image/color"
)

// FrameFromImage converts an image once into an 8-bit luminance frame
// (ITU-R BT.601 luma, as JPEG's Y plane), with Stride equal to the width.
func FrameFromImage(img image.Image) *Frame {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	f := &Frame{Width: w, Height: h, Stride: w, Y: make([]byte, w*h)}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(f.Y[y*w:(y+1)*w], m.Pix[i:i+w])
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			i := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(f.Y[y*w:(y+1)*w], m.Y[i:i+w])
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4]
				// Transparent pixels are drawn on white, as a viewer shows them.
				r, g, bl, a := uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
				r = (r*a + 255*(255-a)) / 255
				g = (g*a + 255*(255-a)) / 255
				bl = (bl*a + 255*(255-a)) / 255
				f.Y[y*w+x] = luma(r, g, bl)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				a := uint32(c.A)
				r := (uint32(c.R)*a + 255*(255-a)) / 255
				g := (uint32(c.G)*a + 255*(255-a)) / 255
				bl := (uint32(c.B)*a + 255*(255-a)) / 255
				f.Y[y*w+x] = luma(r, g, bl)
			}
		}
	}
	return f
}

// luma is BT.601 luma from 8-bit RGB, as color.GrayModel computes it.
func luma(r, g, b uint32) byte {
	return byte((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
}
