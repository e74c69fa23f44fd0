package decode

import (
	"testing"

	"checkpoint/decode/corpus"
)

func benchPlane(b *testing.B) plane {
	cs, err := corpus.Generate(corpus.Options{Seed: 1, Width: 640, Height: 480, PerCat: 1, Categories: []corpus.Category{corpus.Empty}})
	if err != nil {
		b.Fatal(err)
	}
	f := cs[0].Frame
	return plane{w: f.Width, h: f.Height, stride: f.Stride, pix: f.Y}
}

func BenchmarkParts(b *testing.B) {
	p := benchPlane(b)
	w := newWorker(Options{})
	l0 := &w.pyr.lv[0]
	var buf []byte
	b.Run("stats", func(b *testing.B) {
		cpuBench(b, func() { l0.th.stats(p) })
	})
	b.Run("compute", func(b *testing.B) {
		cpuBench(b, func() { l0.th.compute(false) })
	})
	b.Run("binarize", func(b *testing.B) {
		cpuBench(b, func() { binarize(p, &l0.th, false, &w.bm) })
	})
	b.Run("scan2", func(b *testing.B) {
		cpuBench(b, func() { w.s.scan(&w.fs, &w.bm, 2, 0, w.bm.h) })
	})
	b.Run("prescan3", func(b *testing.B) {
		cpuBench(b, func() { w.prescan(p, &l0.th, 0, 3, &l0.hits) })
	})
	b.Run("half", func(b *testing.B) {
		cpuBench(b, func() { buf = half(p, buf).pix })
	})
	b.Run("upscale", func(b *testing.B) {
		cpuBench(b, func() { var up plane; up, w.upRows = up32(p, buf, w.upRows); buf = up.pix })
	})
}
