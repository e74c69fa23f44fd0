package decode

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"checkpoint/decode/corpus"
)

func TestDebugFails(t *testing.T) {
	spec := os.Getenv("FAILS")
	if spec == "" {
		t.Skip()
	}
	for _, sz := range [][2]int{{640, 480}, {1280, 720}} {
		cs, _ := corpus.Generate(corpus.Options{Seed: 1, Width: sz[0], Height: sz[1], PerCat: 20, Categories: []corpus.Category{corpus.Category(spec)}})
		d := New(Options{})
		for _, c := range cs {
			syms, _ := d.Decode(context.Background(), c.Frame)
			var got []string
			for _, s := range syms {
				got = append(got, s.Text)
			}
			miss := 0
			for _, w := range c.Texts {
				if !slices.Contains(got, w) {
					miss++
				}
			}
			if miss > 0 || (len(c.Texts) == 0 && len(got) > 0) {
				t.Logf("%s: missed %d of %d (got %d) %s", c.Name, miss, len(c.Texts), len(got), strings.Join(nil, ""))
			}
		}
	}
}

func TestDebugListMisses(t *testing.T) {
	if os.Getenv("MISSES") == "" {
		t.Skip()
	}
	d := New(Options{})
	for _, sz := range [][2]int{{640, 480}, {1280, 720}} {
		cs, _ := corpus.Generate(corpus.Options{Seed: 1, Width: sz[0], Height: sz[1], PerCat: 10})
		for _, c := range cs {
			syms, _ := d.Decode(context.Background(), c.Frame)
			if !readAll(t, c, syms) {
				t.Logf("MISS %q", c.Name)
			}
		}
	}
}
