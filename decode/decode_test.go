package decode

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"checkpoint"
)

func TestDecodeStride(t *testing.T) {
	f := loadFrame(t, filepath.Join(testdataDir(t), "zxing-blackbox", "qrcode-1", "1.png"))
	want, err := New(Options{}).Decode(context.Background(), f)
	if err != nil || len(want) != 1 {
		t.Fatalf("plain frame: %v, %d codes", err, len(want))
	}
	// The same picture in rows padded to a multiple of 64 bytes, the padding
	// filled with black that must not be read.
	stride := (f.Width + 63) &^ 63
	if stride == f.Width {
		stride += 64
	}
	g := &checkpoint.Frame{Width: f.Width, Height: f.Height, Stride: stride, Y: make([]byte, stride*f.Height)}
	for y := 0; y < f.Height; y++ {
		copy(g.Y[y*stride:], f.Y[y*f.Stride:y*f.Stride+f.Width])
	}
	got, err := New(Options{}).Decode(context.Background(), g)
	if err != nil || len(got) != 1 {
		t.Fatalf("padded frame: %v, %d codes", err, len(got))
	}
	if got[0].Text != want[0].Text {
		t.Errorf("padded frame text %q, want %q", got[0].Text, want[0].Text)
	}
	for i := range want[0].Corners {
		if got[0].Corners[i] != want[0].Corners[i] {
			t.Errorf("corner %d: %v, want %v", i, got[0].Corners[i], want[0].Corners[i])
		}
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, size := range [][2]int{{640, 480}, {1, 1}, {7, 3}} {
		f := &checkpoint.Frame{Width: size[0], Height: size[1], Stride: size[0], Y: make([]byte, size[0]*size[1])}
		for i := range f.Y {
			f.Y[i] = byte(i * 7)
		}
		syms, err := New(Options{}).Decode(context.Background(), f)
		if err != nil || syms != nil {
			t.Errorf("%dx%d: %v, %v; want nil, nil", size[0], size[1], syms, err)
		}
	}
}

func TestDecodeBadFrame(t *testing.T) {
	for name, f := range map[string]*checkpoint.Frame{
		"nil":          nil,
		"zero size":    {Width: 0, Height: 10, Stride: 0},
		"short":        {Width: 10, Height: 10, Stride: 10, Y: make([]byte, 99)},
		"small stride": {Width: 10, Height: 10, Stride: 9, Y: make([]byte, 100)},
	} {
		_, err := New(Options{}).Decode(context.Background(), f)
		if !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: err %v, want ErrBadFrame", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &checkpoint.Frame{Width: 10, Height: 10, Stride: 10, Y: make([]byte, 100)}
	if _, err := New(Options{}).Decode(ctx, f); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}
}

func TestCorners(t *testing.T) {
	f := loadFrame(t, filepath.Join(testdataDir(t), "zxing-blackbox", "multi-qrcode-1", "1.png"))
	syms, err := New(Options{}).Decode(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		c := s.Corners
		if len(c) != 4 {
			t.Fatalf("%d corners", len(c))
		}
		// Clockwise on screen (y down): the cross products of successive
		// edges are all positive.
		for i := 0; i < 4; i++ {
			a, b, d := c[i], c[(i+1)%4], c[(i+2)%4]
			cross := (b.X-a.X)*(d.Y-b.Y) - (b.Y-a.Y)*(d.X-b.X)
			if cross <= 0 {
				t.Errorf("%q: corners %v not clockwise at %d", s.Text, c, i)
			}
		}
		for _, p := range c {
			if p.X < -5 || p.Y < -5 || p.X > float64(f.Width)+5 || p.Y > float64(f.Height)+5 {
				t.Errorf("%q: corner %v outside the frame", s.Text, p)
			}
		}
	}
}
