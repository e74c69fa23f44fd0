package checkpoint_test

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"checkpoint"
)

// TestFrameFromImage checks each image type's fast conversion against the
// luma of the colour model's conversion of every pixel, drawn on white.
func TestFrameFromImage(t *testing.T) {
	r := image.Rect(3, 2, 40, 21) // an offset origin, odd sizes
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(pix []byte) {
		for i := range pix {
			pix[i] = byte(rng.IntN(256))
		}
	}
	pal := color.Palette{}
	for i := 0; i < 200; i++ {
		pal = append(pal, color.NRGBA{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	rgba := image.NewRGBA(r)
	for i := 0; i+3 < len(rgba.Pix); i += 4 { // valid premultiplied values
		a := byte(rng.IntN(256))
		rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2], rgba.Pix[i+3] = byte(rng.IntN(int(a)+1)), byte(rng.IntN(int(a)+1)), byte(rng.IntN(int(a)+1)), a
	}
	rgba64 := image.NewRGBA64(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			a := uint16(rng.IntN(65536))
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(rng.IntN(int(a) + 1)), uint16(rng.IntN(int(a) + 1)), uint16(rng.IntN(int(a) + 1)), a})
		}
	}
	imgs := map[string]image.Image{"RGBA": rgba, "RGBA64": rgba64}
	g := image.NewGray(r)
	fill(g.Pix)
	imgs["Gray"] = g
	g16 := image.NewGray16(r)
	fill(g16.Pix)
	imgs["Gray16"] = g16
	n := image.NewNRGBA(r)
	fill(n.Pix)
	imgs["NRGBA"] = n
	n64 := image.NewNRGBA64(r)
	fill(n64.Pix)
	imgs["NRGBA64"] = n64
	c := image.NewCMYK(r)
	fill(c.Pix)
	imgs["CMYK"] = c
	p := image.NewPaletted(r, pal)
	for i := range p.Pix {
		p.Pix[i] = byte(rng.IntN(len(pal)))
	}
	imgs["Paletted"] = p
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio444} {
		y := image.NewYCbCr(r, ratio)
		fill(y.Y)
		fill(y.Cb)
		fill(y.Cr)
		imgs["YCbCr "+ratio.String()] = y
		a := image.NewNYCbCrA(r, ratio)
		fill(a.Y)
		fill(a.Cb)
		fill(a.Cr)
		fill(a.A)
		imgs["NYCbCrA "+ratio.String()] = a
	}
	imgs["Alpha (generic path)"] = func() image.Image { a := image.NewAlpha(r); fill(a.Pix); return a }()
	for name, img := range imgs {
		f := checkpoint.FrameFromImage(img)
		if f.Width != r.Dx() || f.Height != r.Dy() || f.Stride != f.Width || len(f.Y) != f.Width*f.Height {
			t.Fatalf("%s: frame %dx%d stride %d, %d bytes", name, f.Width, f.Height, f.Stride, len(f.Y))
		}
		bad := 0
		for y := 0; y < f.Height; y++ {
			for x := 0; x < f.Width; x++ {
				want := refLuma(img, r.Min.X+x, r.Min.Y+y)
				if d := int(f.Y[y*f.Stride+x]) - int(want); d > 1 || d < -1 {
					if bad++; bad < 4 {
						t.Errorf("%s: pixel %d,%d = %d, want %d", name, x, y, f.Y[y*f.Stride+x], want)
					}
				}
			}
		}
	}
}

// refLuma is the pixel's colour through the NRGBA model, drawn on white,
// then BT.601 luma.
func refLuma(img image.Image, x, y int) byte {
	var r, g, b uint32
	switch m := img.(type) {
	case *image.YCbCr: // luma is Y itself; the RGB round trip rounds
		return m.Y[m.YOffset(x, y)]
	case *image.NYCbCrA:
		a := uint32(m.A[m.AOffset(x, y)])
		return byte((uint32(m.Y[m.YOffset(x, y)])*a + 255*(255-a)) / 255)
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	a := uint32(c.A)
	r = (uint32(c.R)*a + 255*(255-a)) / 255
	g = (uint32(c.G)*a + 255*(255-a)) / 255
	b = (uint32(c.B)*a + 255*(255-a)) / 255
	return byte((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
}
