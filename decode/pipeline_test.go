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

// TestBudget: with a budget too small for any retry, a clear code is still
// read (the first attempt always runs), and nothing fails.
func TestBudget(t *testing.T) {
	_, cs := corpusFrames(t, corpus.Clean, corpus.Blurred)
	d := New(Options{Budget: time.Nanosecond})
	for _, c := range cs {
		syms, err := d.Decode(context.Background(), c.Frame)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if c.Category == corpus.Clean && len(syms) != 1 {
			t.Errorf("%s: %d codes with a tiny budget", c.Name, len(syms))
		}
	}
}
