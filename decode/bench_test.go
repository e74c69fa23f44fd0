package decode

import (
	"io"
	"math/rand/v2"

	"checkpoint"
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

// BenchmarkPipeline measures frames per second through a Pipeline with one
// and with two workers, on a mix of 640x480 frames with and without codes.
func BenchmarkPipeline(b *testing.B) {
	cs, err := corpus.Generate(corpus.Options{Seed: 1, Width: 640, Height: 480, PerCat: 2})
	if err != nil {
		b.Fatal(err)
	}
	var frames []*checkpoint.Frame
	for _, c := range cs {
		frames = append(frames, c.Frame)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			src := &loopSource{frames: frames, n: b.N}
			p := New(Options{Workers: workers}).Pipeline(context.Background(), src)
			defer p.Close()
			b.ResetTimer()
			for {
				f, err := p.Next(context.Background())
				if err != nil {
					break
				}
				p.Decode(context.Background(), f)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// loopSource yields n frames, cycling through frames, without copying.
type loopSource struct {
	frames []*checkpoint.Frame
	n, i   int
}

func (s *loopSource) Next(ctx context.Context) (*checkpoint.Frame, error) {
	if s.i == s.n {
		return nil, io.EOF
	}
	f := *s.frames[s.i%len(s.frames)]
	f.Seq = uint64(s.i + 1)
	s.i++
	return &f, nil
}

func (s *loopSource) Stats() checkpoint.SourceStats { return checkpoint.SourceStats{} }
func (s *loopSource) Close() error                  { return nil }

// BenchmarkNoise measures a worst case: a 640x480 frame of pixel noise,
// where finder-like runs are everywhere and every attempt runs (no budget,
// nothing remembered between runs).
func BenchmarkNoise(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	pix := make([]byte, 640*480)
	for i := range pix {
		pix[i] = byte(rng.IntN(256))
	}
	f := &checkpoint.Frame{Width: 640, Height: 480, Stride: 640, Y: pix}
	d := New(Options{})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.Reset()
		d.Decode(context.Background(), f)
	}
}
