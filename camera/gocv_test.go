//go:build gocv

package camera

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"checkpoint/decode"
)

// writeQRVideo writes n frames of w x h, frame i showing the code "GOCV-i",
// as an MJPEG AVI file through OpenCV's VideoWriter.
func writeQRVideo(t testing.TB, path string, n, w, h int) {
	t.Helper()
	vw, err := gocv.VideoWriterFile(path, "MJPG", 10, w, h, true)
	if err != nil {
		t.Fatal(err)
	}
	if !vw.IsOpened() {
		t.Fatalf("VideoWriter cannot write %s", path)
	}
	bgr := gocv.NewMat()
	defer bgr.Close()
	for i := 0; i < n; i++ {
		y := renderY(fmt.Sprintf("GOCV-%d", i), 0, 0, w, h, w)
		y[0], y[1] = 220, 220
		gray, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC1, y)
		if err != nil {
			t.Fatal(err)
		}
		gocv.CvtColor(gray, &bgr, gocv.ColorGrayToBGR)
		gray.Close()
		if err := vw.Write(bgr); err != nil {
			t.Fatal(err)
		}
	}
	vw.Close()
}

func TestGoCVReadsVideoAndReopensAtItsEnd(t *testing.T) {
	const n, w, h = 8, 320, 240
	path := filepath.Join(t.TempDir(), "codes.avi")
	writeQRVideo(t, path, n, w, h)

	src, err := NewGoCV(GoCVOptions{Device: path, Backoff: time.Millisecond, ReadFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.New(decode.Options{})
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for frames := 0; len(seen) < 3 || src.Stats().Restarts == 0; frames++ {
		f, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("after %d frames, codes %v, restarts %d: %v", frames, seen, src.Stats().Restarts, err)
		}
		if f.Width != w || f.Height != h || f.Stride != w {
			t.Fatalf("frame %dx%d stride %d, want %dx%d", f.Width, f.Height, f.Stride, w, h)
		}
		syms, err := dec.Decode(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(syms) != 1 || !strings.HasPrefix(syms[0].Text, "GOCV-") {
			t.Fatalf("frame %d decoded as %v, want one GOCV- code", f.Seq, syms)
		}
		seen[syms[0].Text] = true
	}
	st := src.Stats()
	if st.Width != w || st.Height != h || st.Frames == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestGoCVMissingDevice(t *testing.T) {
	_, err := NewGoCV(GoCVOptions{Device: "/nonexistent/camera.avi"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/camera.avi") {
		t.Fatalf("error %v does not name the device", err)
	}
	if _, err := NewGoCV(GoCVOptions{}); err == nil {
		t.Fatal("no device and no pipeline accepted")
	}
}

// BenchmarkGoCV: 1280x720 frames from an MJPEG video file through OpenCV,
// converted to gray (the cost includes OpenCV's JPEG decoding and the
// reopening at each end of the file).
func BenchmarkGoCV(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.avi")
	writeQRVideo(b, path, 30, 1280, 720)
	src, err := NewGoCV(GoCVOptions{Device: path, Backoff: time.Millisecond, ReadFailures: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	if _, err := src.Next(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
