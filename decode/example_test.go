package decode_test

import (
	"context"
	"fmt"
	"math"

	qrcode "github.com/skip2/go-qrcode"

	"checkpoint"
	"checkpoint/decode"
	"checkpoint/decode/corpus"
)

// A frame is a luminance plane (here drawn with the corpus's primitives: a
// code of 4-pixel modules, tilted a little, on a gray card); Decode returns
// every code's text and corners.
func Example() {
	mods, err := corpus.Modules("HTTPS://QR.GATE.VN/EXAMPLE", qrcode.Medium)
	if err != nil {
		panic(err)
	}
	c := corpus.NewCanvas(320, 240, 150)
	side := float64(len(mods)+8) * 4
	c.Draw(corpus.Pose{CX: 160, CY: 120, Size: side, Roll: 8, Pitch: 10}.Quad(), 3, corpus.CodeShader(mods, 4, 30, 220))
	c.Blur(0.7)
	g := c.Gray()
	frame := &checkpoint.Frame{Seq: 1, Width: 320, Height: 240, Stride: 320, Y: g.Pix}

	d := decode.New(decode.Options{})
	syms, err := d.Decode(context.Background(), frame)
	if err != nil {
		panic(err)
	}
	for _, s := range syms {
		// Corners are in frame pixels, clockwise from the code's top-left.
		near5 := func(v float64) float64 { return math.Round(v/5) * 5 }
		fmt.Printf("%s, top-left corner at about (%.0f, %.0f)\n", s.Text, near5(s.Corners[0].X), near5(s.Corners[0].Y))
	}
	// Output:
	// HTTPS://QR.GATE.VN/EXAMPLE, top-left corner at about (115, 65)
}
