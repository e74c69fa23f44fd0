package decode

import (
	"context"
	"fmt"
	"testing"

	"checkpoint/decode/corpus"
)

// BenchmarkDecode measures one frame's decoding time and allocations at
// 640x480 and 1280x720, for frames without a code and with one.
func BenchmarkDecode(b *testing.B) {
	for _, sz := range [][2]int{{640, 480}, {1280, 720}} {
		for _, cat := range []corpus.Category{corpus.Empty, corpus.Clean} {
			cs, err := corpus.Generate(corpus.Options{Seed: 1, Width: sz[0], Height: sz[1], PerCat: 8, Categories: []corpus.Category{cat}})
			if err != nil {
				b.Fatal(err)
			}
			name := "empty"
			if cat != corpus.Empty {
				name = "code"
			}
			b.Run(fmt.Sprintf("%dx%d/%s", sz[0], sz[1], name), func(b *testing.B) {
				d := New(Options{})
				ctx := context.Background()
				for _, c := range cs {
					d.Decode(ctx, c.Frame) // warm the buffers
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := d.Decode(ctx, cs[i%len(cs)].Frame); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
