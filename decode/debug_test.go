package decode

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strconv"
	"strings"
	"testing"

	"checkpoint/decode/corpus"
)

func TestDebugCounts(t *testing.T) {
	for _, cat := range []corpus.Category{corpus.Clean, corpus.PerspectiveStrong, corpus.LowContrast, corpus.Inverted, corpus.Empty} {
		cs, _ := corpus.Generate(corpus.Options{Seed: 1, Width: 640, Height: 480, PerCat: 10, Categories: []corpus.Category{cat}})
		d := New(Options{})
		for _, c := range cs {

			t0 := threadCPU()
			syms, _ := d.Decode(context.Background(), c.Frame)
			dt := threadCPU() - t0
			w := d.free[0]
			t.Logf("%s: %d syms, %v, found %d ", c.Name, len(syms), dt, len(w.s.found))
		}
	}
}

func TestDebugDump(t *testing.T) {
	name := os.Getenv("DUMP")
	if name == "" {
		t.Skip()
	}
	parts := strings.Split(name, "/")
	var sz [2]int
	fmt.Sscanf(parts[1], "%dx%d", &sz[0], &sz[1])
	idx, _ := strconv.Atoi(parts[2])
	c, err := corpus.Render(1, corpus.Category(parts[0]), sz[0], sz[1], idx)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Frame
	g := image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
	w := newWorker(Options{})
	p := plane{w: f.Width, h: f.Height, stride: f.Stride, pix: f.Y}
	w.full.stats(p)
	inv := os.Getenv("INV") != ""
	w.full.compute(inv)
	binarize(p, &w.full, inv, &w.bm)
	w.s.scan(&w.bm, 2, 0, w.bm.h)
	for y := 0; y < f.Height; y++ {
		for x := 0; x < f.Width; x++ {
			v := f.Y[y*f.Stride+x]/2 + 128
			if w.bm.get(x, y) {
				v = f.Y[y*f.Stride+x] / 2
			}
			g.Set(x, y, color.RGBA{v, v, v, 255})
		}
	}
	for _, fp := range w.s.found {
		for d := -3; d <= 3; d++ {
			g.Set(int(fp.x)+d, int(fp.y), color.RGBA{255, 0, 0, 255})
			g.Set(int(fp.x), int(fp.y)+d, color.RGBA{255, 0, 0, 255})
		}
		t.Logf("finder %+v", fp)
	}
	for _, q := range c.Quads {
		for _, pt := range q {
			for d := -2; d <= 2; d++ {
				g.Set(int(pt.X)+d, int(pt.Y), color.RGBA{0, 200, 0, 255})
				g.Set(int(pt.X), int(pt.Y)+d, color.RGBA{0, 200, 0, 255})
			}
		}
	}
	fh, _ := os.Create("/tmp/dump.png")
	png.Encode(fh, g)
	fh.Close()
	syms, _ := New(Options{}).Decode(context.Background(), f)
	t.Logf("syms %v want %q", syms, c.Texts)
}

func init() {
	dbgf = func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	dbg = os.Getenv("DBG") != ""
}

func TestDebugCrop(t *testing.T) {
	spec := os.Getenv("CROP")
	if spec == "" {
		t.Skip()
	}
	var x0, y0, x1, y1, k int
	fmt.Sscanf(spec, "%d,%d,%d,%d,%d", &x0, &y0, &x1, &y1, &k)
	fh, _ := os.Open("/tmp/dump.png")
	src, _ := png.Decode(fh)
	fh.Close()
	g := image.NewRGBA(image.Rect(0, 0, (x1-x0)*k, (y1-y0)*k))
	for y := 0; y < (y1-y0)*k; y++ {
		for x := 0; x < (x1-x0)*k; x++ {
			g.Set(x, y, src.At(x0+x/k, y0+y/k))
		}
	}
	fh, _ = os.Create("/tmp/crop.png")
	png.Encode(fh, g)
	fh.Close()
}
