package decode

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/decode/corpus"
)

// scrambledSheet is a 4000x3000 sheet of 60 codes whose lower right
// quarters (data modules only) are noise: every finder pattern, timing
// pattern and format word stays, so the decoder finds 180 finder patterns,
// forms triples whose format information agrees and samples them again and
// again, and reads nothing: the whole chain of steps runs, each long.
func scrambledSheet(t *testing.T) *checkpoint.Frame {
	t.Helper()
	c, err := corpus.Render(1, corpus.Sheet, 4000, 3000, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Frame
	for _, q := range c.Quads {
		inv := corpus.SquareToQuad(q).Inverse()
		x0, y0, x1, y1 := q[0].X, q[0].Y, q[0].X, q[0].Y
		for _, p := range q {
			x0, y0, x1, y1 = min(x0, p.X), min(y0, p.Y), max(x1, p.X), max(y1, p.Y)
		}
		for y := int(y0); y <= int(y1); y++ {
			for x := int(x0); x <= int(x1); x++ {
				u, v := inv.Apply(float64(x), float64(y))
				const lo = 9.0 / 21 // modules 9 to 20 of a version 1 code
				if u < lo || v < lo || u >= 1 || v >= 1 || x < 0 || y < 0 || x >= f.Width || y >= f.Height {
					continue
				}
				h := fnv.New32a()
				h.Write([]byte{byte(u * 21), byte(v * 21), byte(x0), byte(y0)})
				f.Y[y*f.Stride+x] = byte(30 + 190*(h.Sum32()&1))
			}
		}
	}
	return f
}

// TestDecodeCancel: a decode whose context is cancelled returns
// context.Canceled promptly, however much work the frame holds: no step
// starts after the cancellation and the triple search in progress stops
// at its next try. Cancelled between steps (at the start of the half
// step) and inside the quick look's triple search (once it has tried a
// few triples). A deadline guards against a decode that never returns;
// nothing is timed.
func TestDecodeCancel(t *testing.T) {
	f := scrambledSheet(t)
	for _, tc := range []struct {
		name string
		// cancel is called as each step starts; it cancels the decode
		// itself or starts something that will.
		cancel func(w *worker, step string, cancel func(), stop <-chan struct{})
	}{
		{"between steps", func(w *worker, step string, cancel func(), _ <-chan struct{}) {
			if step == "half" {
				cancel()
			}
		}},
		{"in the triple search", func(w *worker, step string, cancel func(), stop <-chan struct{}) {
			if step != "quick look" {
				return
			}
			start := w.tries.Load()
			go func() {
				for w.tries.Load() < start+3 {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Microsecond):
					}
				}
				cancel()
			}()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			var steps, late []string
			var triesAtCancel, triesAtEnd int64 = -1, 0
			var w0 *worker
			cancelNow := func() {
				mu.Lock()
				triesAtCancel = w0.tries.Load()
				mu.Unlock()
				cancel()
			}
			stop := make(chan struct{})
			defer close(stop)
			d := New(Options{})
			d.trace = func(w *worker, step string) {
				mu.Lock()
				w0 = w
				if ctx.Err() != nil {
					late = append(late, step)
				}
				steps = append(steps, step)
				mu.Unlock()
				tc.cancel(w, step, cancelNow, stop)
			}
			type result struct {
				syms []checkpoint.Symbol
				err  error
			}
			done := make(chan result, 1)
			go func() {
				syms, err := d.Decode(ctx, f)
				done <- result{syms, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("Decode did not return within 60 s of a cancelled context")
			}
			mu.Lock()
			defer mu.Unlock()
			triesAtEnd = w0.tries.Load()
			t.Logf("steps %q; triples tried %d at the cancellation, %d at the end", steps, triesAtCancel, triesAtEnd)
			for _, s := range r.syms {
				t.Logf("read %q at %v", s.Text, s.Corners)
			}
			if !errors.Is(r.err, context.Canceled) || r.syms != nil {
				t.Errorf("Decode = %d codes, %v; want none and context.Canceled", len(r.syms), r.err)
			}
			if triesAtCancel < 0 {
				t.Fatal("the decode ended before it was cancelled: the frame holds too little work")
			}
			if len(late) > 0 {
				t.Errorf("steps started after the cancellation: %q", late)
			}
			if triesAtEnd > triesAtCancel+1 {
				t.Errorf("%d triples tried after the cancellation, want at most the one under way", triesAtEnd-triesAtCancel)
			}
			if i := slices.Index(steps, "half"); tc.name == "between steps" && (i < 0 || i != len(steps)-1) {
				t.Errorf("steps %q: want the chain to end at the half step", steps)
			}
		})
	}
}
