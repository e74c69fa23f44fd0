package camera

import (
	"context"
	"testing"
	"time"

	"checkpoint"
)

// The cost of handing over one 1280x720 frame, per source. Run with
// make bench-camera.

func benchFrame() *checkpoint.Frame {
	f := &checkpoint.Frame{Width: 1280, Height: 720, Stride: 1280, Y: make([]byte, 1280*720)}
	for i := range f.Y {
		f.Y[i] = byte(i)
	}
	return f
}

// BenchmarkMailbox: the producer copies a frame into the mailbox's buffer
// and the consumer takes it (what rpicam and gocv do after reading).
func BenchmarkMailbox(b *testing.B) {
	src := benchFrame()
	m := NewMailbox()
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(src.Y)))
	for b.Loop() {
		f := m.Buffer(src.Width, src.Height, src.Stride)
		copy(f.Y, src.Y)
		m.Publish(now)
		if _, err := m.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplayPull: Next on an unpaced replay (soak tests, scan).
func BenchmarkReplayPull(b *testing.B) {
	r, err := NewReplayFrames([]*checkpoint.Frame{benchFrame(), benchFrame()}, ReplayOptions{Loop: true})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplayTicked: a paced replay, one tick per frame, through the
// producer goroutine and the mailbox.
func BenchmarkReplayTicked(b *testing.B) {
	tick := make(chan time.Time)
	r, err := NewReplayFrames([]*checkpoint.Frame{benchFrame(), benchFrame()}, ReplayOptions{Loop: true, Tick: tick})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	go func() {
		for {
			select {
			case tick <- time.Time{}:
			case <-r.done:
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRPiCam: 1280x720 YUV420 frames from a fake rpicam-vid writing as
// fast as it can, read from the pipe, Y kept, chroma skipped. The cost
// includes the fake's writes (another process on the same cores).
func BenchmarkRPiCam(b *testing.B) {
	installFakeB(b, "run fast")
	cfg := DefaultRPiCamSettings()
	args, err := RPiCamArgs(cfg)
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewRPiCam(RPiCamOptions{Args: args, Width: cfg.Width, Height: cfg.Height})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	if _, err := src.Next(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(YUV420Size(cfg.Width, cfg.Height)))
	start := src.Stats()
	for b.Loop() {
		if _, err := src.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
	st := src.Stats()
	b.ReportMetric(float64(st.Frames-start.Frames)/float64(b.N), "read/frame")
}
