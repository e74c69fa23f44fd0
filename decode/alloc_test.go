package decode

import (
	"context"
	"testing"

	"checkpoint/decode/corpus"
)

// TestNoAllocEmpty: once its buffers have grown, the decoder allocates
// nothing for a frame without a code.
func TestNoAllocEmpty(t *testing.T) {
	for _, sz := range [][2]int{{640, 480}, {1280, 720}} {
		cs, err := corpus.Generate(corpus.Options{Seed: 1, Width: sz[0], Height: sz[1], PerCat: 6, Categories: []corpus.Category{corpus.Empty}})
		if err != nil {
			t.Fatal(err)
		}
		d := New(Options{})
		ctx := context.Background()
		n := 0
		for _, c := range cs {
			d.Decode(ctx, c.Frame)
			q := d.Stats().Quick
			d.Decode(ctx, c.Frame)
			if d.Stats().Quick == q {
				continue // not rejected by the quick look: may allocate
			}
			n++
			if a := testing.AllocsPerRun(5, func() { d.Decode(ctx, c.Frame) }); a != 0 {
				t.Errorf("%s: %.1f allocations per frame, want 0", c.Name, a)
			}
		}
		if n < len(cs)/2 {
			t.Errorf("%dx%d: only %d of %d empty frames rejected by the quick look", sz[0], sz[1], n, len(cs))
		}
	}
}
