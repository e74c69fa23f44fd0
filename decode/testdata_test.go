package decode

import (
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"testing"

	"checkpoint"
	"checkpoint/internal/sharedtest"
)

// testdataDir is the shared external test data (see internal/sharedtest).
func testdataDir(t testing.TB) string { return sharedtest.Dir(t) }

// loadFrame reads an image file into a luminance frame.
func loadFrame(t testing.TB, path string) *checkpoint.Frame {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, _, err := image.Decode(fh)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return checkpoint.FrameFromImage(img)
}

// rotate returns f turned clockwise by deg (0, 90, 180 or 270) degrees.
func rotate(f *checkpoint.Frame, deg int) *checkpoint.Frame {
	w, h := f.Width, f.Height
	if deg == 0 {
		return f
	}
	nw, nh := w, h
	if deg == 90 || deg == 270 {
		nw, nh = h, w
	}
	g := &checkpoint.Frame{Seq: f.Seq, Width: nw, Height: nh, Stride: nw, Y: make([]byte, nw*nh)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var nx, ny int
			switch deg {
			case 90:
				nx, ny = h-1-y, x
			case 180:
				nx, ny = w-1-x, h-1-y
			case 270:
				nx, ny = y, w-1-x
			}
			g.Y[ny*nw+nx] = f.Y[y*f.Stride+x]
		}
	}
	return g
}
