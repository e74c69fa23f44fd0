package web

import (
	"testing"
	"time"

	"checkpoint"
)

// BenchmarkFrame is what the server adds to every frame of the loop while
// nobody watches the preview.
func BenchmarkFrame(b *testing.B) {
	s, err := New(Options{Preview: true})
	if err != nil {
		b.Fatal(err)
	}
	f := &checkpoint.Frame{Width: 1280, Height: 720, Stride: 1280, Y: make([]byte, 1280*720)}
	b.ReportAllocs()
	for b.Loop() {
		s.Frame(f, nil, 3*time.Millisecond)
	}
}

// BenchmarkPreviewCopy is one preview copy of a 1280x720 frame, paid at most
// DefaultPreviewFPS times a second while someone watches.
func BenchmarkPreviewCopy(b *testing.B) {
	f := &checkpoint.Frame{Width: 1280, Height: 720, Stride: 1280, Y: make([]byte, 1280*720)}
	syms := []checkpoint.Symbol{{Corners: []checkpoint.Point{{X: 10, Y: 10}, {X: 200, Y: 10}, {X: 200, Y: 200}, {X: 10, Y: 200}}}}
	b.ReportAllocs()
	for b.Loop() {
		copyFrame(f, syms)
	}
}

// BenchmarkVerdict is the cost of a verdict to the loop with ten pages open.
func BenchmarkVerdict(b *testing.B) {
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	for range 10 {
		s.subscribe(true)
	}
	e := checkpoint.Event{Verdict: checkpoint.Verdict{Color: checkpoint.Green, Reasons: []string{"status green"}}}
	b.ReportAllocs()
	for b.Loop() {
		s.Verdict(e)
	}
}
