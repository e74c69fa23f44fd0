package decode

import (
	"testing"

	"checkpoint/decode/corpus"
)

func TestDebugVchecks(t *testing.T) {
	cs, _ := corpus.Generate(corpus.Options{Seed: 1, Width: 640, Height: 480, PerCat: 5, Categories: []corpus.Category{corpus.Clean, corpus.Empty}})
	w := newWorker(Options{})
	for _, c := range cs {
		f := c.Frame
		p := plane{w: f.Width, h: f.Height, stride: f.Stride, pix: f.Y}
		hp := half(p, nil)
		w.full.statsFromHalf(p, hp)
		w.full.compute(false)
		w.hitsFull.reset()
		dbgV, dbgR = 0, 0
		w.prescan(p, &w.full, 0, 3, &w.hitsFull)
		t.Logf("%s ratio5 hits %d vchecks passed %d clusters %d/%d", c.Name, dbgR, dbgV, len(w.hitsFull.dark), len(w.hitsFull.light))
	}
}
