package camera

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"checkpoint"
)

func TestMailboxKeepsNewestAndCountsDrops(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1630000000, 0)
	tests := []struct {
		name    string
		ops     string // p = publish, n = next (expects the newest seq)
		want    []uint64
		dropped uint64
	}{
		{"one to one", "pnpnpn", []uint64{1, 2, 3}, 0},
		{"slow consumer", "pppnppn", []uint64{3, 5}, 3},
		{"burst then one", "ppppn", []uint64{4}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMailbox()
			var got []uint64
			var i int
			for _, op := range tc.ops {
				switch op {
				case 'p':
					i++
					f := m.Buffer(4, 2, 8)
					f.Y[0] = byte(i)
					m.Publish(t0.Add(time.Duration(i) * time.Millisecond))
				case 'n':
					f, err := m.Next(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if int(f.Y[0]) != int(f.Seq) {
						t.Fatalf("frame %d carries the pixels of frame %d", f.Seq, f.Y[0])
					}
					got = append(got, f.Seq)
				}
			}
			if !equal(got, tc.want) {
				t.Errorf("frames taken %v, want %v", got, tc.want)
			}
			st := m.Stats()
			if st.Dropped != tc.dropped || st.Frames != uint64(i) {
				t.Errorf("stats frames %d dropped %d, want %d and %d", st.Frames, st.Dropped, i, tc.dropped)
			}
			if st.Width != 4 || st.Height != 2 {
				t.Errorf("stats size %dx%d, want 4x2", st.Width, st.Height)
			}
		})
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The frame the consumer holds is never written by the producer.
func TestMailboxConsumerFrameStable(t *testing.T) {
	m := NewMailbox()
	f := m.Buffer(4, 1, 4)
	copy(f.Y, "aaaa")
	m.Publish(time.Now())
	held, _ := m.Next(context.Background())
	for i := 0; i < 10; i++ {
		f := m.Buffer(4, 1, 4)
		copy(f.Y, "bbbb")
		m.Publish(time.Now())
	}
	if string(held.Y) != "aaaa" {
		t.Fatalf("held frame changed to %q while the producer published", held.Y)
	}
}

func TestMailboxCloseDeliversPendingThenError(t *testing.T) {
	m := NewMailbox()
	m.Buffer(2, 2, 2)
	m.Publish(time.Now())
	m.CloseWith(io.EOF)
	m.CloseWith(errors.New("later error ignored"))
	if f, err := m.Next(context.Background()); err != nil || f.Seq != 1 {
		t.Fatalf("Next after close = %v, %v; want the pending frame", f, err)
	}
	if _, err := m.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
}

func TestMailboxNextHonoursContext(t *testing.T) {
	m := NewMailbox()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := m.Next(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", err)
	}
}

func TestMailboxConcurrent(t *testing.T) {
	m := NewMailbox()
	const n = 2000
	go func() {
		for i := 1; i <= n; i++ {
			f := m.Buffer(8, 8, 8)
			for j := range f.Y {
				f.Y[j] = byte(i)
			}
			m.Publish(time.Now())
		}
		m.CloseWith(io.EOF)
	}()
	var last, taken uint64
	for {
		f, err := m.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq <= last {
			t.Fatalf("frame %d after %d", f.Seq, last)
		}
		for _, b := range f.Y {
			if b != byte(f.Seq) {
				t.Fatalf("frame %d torn: pixel %d", f.Seq, b)
			}
		}
		last = f.Seq
		taken++
	}
	st := m.Stats()
	if st.Frames != n || taken+st.Dropped != n || last != n {
		t.Fatalf("frames %d taken %d dropped %d last %d; want %d = taken + dropped, last %d", st.Frames, taken, st.Dropped, last, n, n)
	}
}

func TestMailboxSteadyStateAllocatesNothing(t *testing.T) {
	m := NewMailbox()
	ctx := context.Background()
	now := time.Now()
	cycle := func() {
		f := m.Buffer(1280, 720, 1280)
		f.Y[0] = 1
		m.Publish(now)
		if _, err := m.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		cycle()
	}
	if a := testing.AllocsPerRun(100, cycle); a != 0 {
		t.Fatalf("%v allocations per frame, want 0", a)
	}
}

func TestMeasure(t *testing.T) {
	flat := &checkpoint.Frame{Width: 4, Height: 4, Stride: 8, Y: make([]byte, 32)}
	for i := range flat.Y {
		flat.Y[i] = 100
		if i%8 >= 4 {
			flat.Y[i] = 255 // padding must not count
		}
	}
	if m, s := Measure(flat); m != 100 || s != 0 {
		t.Fatalf("flat frame: mean %v sharpness %v, want 100 and 0", m, s)
	}
	// A checkerboard is as sharp as a frame gets; a blurred one less so.
	sharp := &checkpoint.Frame{Width: 16, Height: 16, Stride: 16, Y: make([]byte, 256)}
	soft := &checkpoint.Frame{Width: 16, Height: 16, Stride: 16, Y: make([]byte, 256)}
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			if (x+y)%2 == 0 {
				sharp.Y[y*16+x] = 200
			}
			soft.Y[y*16+x] = byte(100 + 5*x)
		}
	}
	ms, ss := Measure(sharp)
	_, sf := Measure(soft)
	if ms != 100 || ss <= sf || sf != 0 {
		t.Fatalf("checkerboard mean %v sharpness %v; ramp sharpness %v", ms, ss, sf)
	}
}
