package decode

import (
	"testing"

	"checkpoint/decode/corpus"
)

func TestDebugEmpty(t *testing.T) {
	cs, _ := corpus.Generate(corpus.Options{Seed: 1, Width: 640, Height: 480, PerCat: 6, Categories: []corpus.Category{corpus.Empty}})
	w := newWorker(Options{})
	for _, c := range cs {
		f := c.Frame
		p := plane{w: f.Width, h: f.Height, stride: f.Stride, pix: f.Y}
		hp := half(p, nil)
		w.half.stats(hp)
		w.half.compute(false)
		w.hitsFull.reset()
		w.hitsHalf.reset()
		w.full.statsFromHalf(p, hp)
		w.full.compute(false)
		w.prescan(p, &w.full, 0, 3, &w.hitsFull)
		w.prescan(hp, &w.half, 0, 2, &w.hitsHalf)
		a, _ := codeLike(w.hitsFull.dark, nil, 1)
		b, _ := codeLike(w.hitsFull.light, nil, 1)
		t.Logf("%s full %d %d %v %v half %d %d", c.Name, len(w.hitsFull.dark), len(w.hitsFull.light), a, b, len(w.hitsHalf.dark), len(w.hitsHalf.light))
		t.Logf("%v", w.hitsFull.light)
	}
}
