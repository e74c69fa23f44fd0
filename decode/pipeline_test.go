package decode

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/decode/corpus"
)

// sliceSource replays frames as a camera would: each returned frame is
// only valid until the next call, as the source overwrites one buffer.
type sliceSource struct {
	frames []*checkpoint.Frame
	i      int
	buf    checkpoint.Frame
	closed bool
}

func (s *sliceSource) Next(ctx context.Context) (*checkpoint.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.i == len(s.frames) {
		return nil, io.EOF
	}
	f := s.frames[s.i]
	s.i++
	s.buf = *f
	s.buf.Seq = uint64(s.i)
	s.buf.Y = append(s.buf.Y[:0], f.Y...)
	return &s.buf, nil
}

func (s *sliceSource) Stats() checkpoint.SourceStats {
	return checkpoint.SourceStats{Frames: uint64(s.i)}
}

func (s *sliceSource) Close() error { s.closed = true; return nil }

var _ checkpoint.Source = (*sliceSource)(nil)

func corpusFrames(t *testing.T, cats ...corpus.Category) ([]*checkpoint.Frame, []corpus.Case) {
	t.Helper()
	cs, err := corpus.Generate(corpus.Options{Seed: 3, Width: 640, Height: 480, PerCat: 3, Categories: cats})
	if err != nil {
		t.Fatal(err)
	}
	var fs []*checkpoint.Frame
	for _, c := range cs {
		fs = append(fs, c.Frame)
	}
	return fs, cs
}

// TestPipeline: frames decoded on several workers come out in source order,
// each with the codes a plain Decode finds in it.
func TestPipeline(t *testing.T) {
	fs, cs := corpusFrames(t, corpus.Clean, corpus.Empty, corpus.Several, corpus.Inverted, corpus.Rotated)
	src := &sliceSource{frames: fs}
	p := New(Options{Workers: 3}).Pipeline(context.Background(), src)
	ref := New(Options{})
	var seqs []uint64
	for i := 0; ; i++ {
		f, err := p.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, f.Seq)
		got, err := p.Decode(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ref.Decode(context.Background(), cs[i].Frame)
		if !sameTexts(got, want) {
			t.Errorf("frame %d (%s): %d codes, want %d", f.Seq, cs[i].Name, len(got), len(want))
		}
		if len(cs[i].Texts) > 0 && len(got) == 0 {
			t.Errorf("frame %d (%s): no code", f.Seq, cs[i].Name)
		}
	}
	if len(seqs) != len(fs) || !slices.IsSorted(seqs) || seqs[0] != 1 {
		t.Errorf("frames out of order or missing: %v", seqs)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !src.closed {
		t.Error("Close did not close the source")
	}
}

func sameTexts(a, b []checkpoint.Symbol) bool {
	if len(a) != len(b) {
		return false
	}
	for _, s := range a {
		if !slices.ContainsFunc(b, func(o checkpoint.Symbol) bool { return o.Text == s.Text }) {
			return false
		}
	}
	return true
}

// TestPipelineClose: closing a pipeline over an endless source returns.
func TestPipelineClose(t *testing.T) {
	fs, _ := corpusFrames(t, corpus.Clean)
	var many []*checkpoint.Frame
	for i := 0; i < 1000; i++ {
		many = append(many, fs[i%len(fs)])
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := New(Options{Workers: 2}).Pipeline(ctx, &sliceSource{frames: many})
	if _, err := p.Next(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := p.Next(ctx); err == nil {
		t.Error("Next after Close: no error")
	}
}

// TestRegionOfInterest: in the frames after a code was found, the decoder
// finds it where it was, and reads the same.
func TestRegionOfInterest(t *testing.T) {
	_, cs := corpusFrames(t, corpus.Clean, corpus.PerspectiveStrong, corpus.Inverted)
	for _, c := range cs {
		d := New(Options{})
		var first []checkpoint.Symbol
		for seq := uint64(10); seq < 14; seq++ {
			f := *c.Frame
			f.Seq = seq
			syms, err := d.Decode(context.Background(), &f)
			if err != nil {
				t.Fatal(err)
			}
			if seq == 10 {
				first = syms
				continue
			}
			if !sameTexts(syms, first) {
				t.Errorf("%s frame %d: %d codes, first frame %d", c.Name, seq, len(syms), len(first))
			}
		}
		st := d.Stats()
		if len(first) > 0 && st.ROIHits != 3 {
			t.Errorf("%s: %d of 3 later frames found in the region of interest", c.Name, st.ROIHits)
		}
		if st.Frames != 4 || st.Codes != uint64(4*len(first)) {
			t.Errorf("%s: stats %+v", c.Name, st)
		}
	}
	// An unrelated frame (same sequence number) does not use the region.
	d := New(Options{})
	d.Decode(context.Background(), cs[0].Frame)
	d.Decode(context.Background(), cs[0].Frame)
	if st := d.Stats(); st.ROIHits != 0 {
		t.Errorf("frames with sequence number 0: %d region hits", st.ROIHits)
	}
}

// TestBudget: with a budget too small for any retry the first attempt
// still runs, so clear codes are read, and never more than without a
// budget; nothing fails.
func TestBudget(t *testing.T) {
	_, cs := corpusFrames(t, corpus.Clean, corpus.Blurred, corpus.PerspectiveStrong)
	tiny, free := New(Options{Budget: time.Nanosecond}), New(Options{})
	nt, nf := 0, 0
	for _, c := range cs {
		syms, err := tiny.Decode(context.Background(), c.Frame)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		nt += len(syms)
		syms, _ = free.Decode(context.Background(), c.Frame)
		nf += len(syms)
	}
	t.Logf("codes read with a 1ns budget: %d, without: %d", nt, nf)
	if nt == 0 || nt > nf {
		t.Errorf("codes read with a 1ns budget: %d, without: %d", nt, nf)
	}
}

// TestStaticRegion: something code-like that is no code is skipped while it
// stays as it is, but a code that appears there is read.
func TestStaticRegion(t *testing.T) {
	empty, err := corpus.Render(1, corpus.Empty, 640, 480, 17)
	if err != nil {
		t.Fatal(err)
	}
	code, err := corpus.Render(1, corpus.Clean, 640, 480, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := New(Options{})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if syms, err := d.Decode(ctx, empty.Frame); err != nil || len(syms) != 0 {
			t.Fatalf("empty frame: %v, %v", syms, err)
		}
	}
	if st := d.Stats(); st.Quick != 2 {
		t.Errorf("%d of 2 repeated frames skipped as static, want 2 (stats %+v)", st.Quick, st)
	}
	// The same scene with the code pasted in where it is drawn on its own.
	f := *empty.Frame
	f.Y = slices.Clone(f.Y)
	q := code.Quads[0]
	x0, y0, x1, y1 := int(q[0].X), int(q[0].Y), int(q[0].X), int(q[0].Y)
	for _, p := range q {
		x0, y0, x1, y1 = min(x0, int(p.X)), min(y0, int(p.Y)), max(x1, int(p.X)), max(y1, int(p.Y))
	}
	pad := (x1 - x0) / 4
	m := d.free[0].memo
	if !m.ok || x1+pad <= m.r.x0 || x0-pad >= m.r.x1 || y1+pad <= m.r.y0 || y0-pad >= m.r.y1 {
		t.Fatalf("the code (%d,%d)-(%d,%d) would not land in the remembered region %+v", x0, y0, x1, y1, m.r)
	}
	for y := max(y0-pad, 0); y < min(y1+pad, f.Height); y++ {
		for x := max(x0-pad, 0); x < min(x1+pad, f.Width); x++ {
			f.Y[y*f.Stride+x] = code.Frame.Y[y*code.Frame.Stride+x]
		}
	}
	syms, err := d.Decode(ctx, &f)
	if err != nil || len(syms) != 1 || syms[0].Text != code.Texts[0] {
		t.Errorf("code pasted into the static scene: %v, %v", syms, err)
	}
}
