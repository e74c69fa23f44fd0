package camera

import (
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeImages writes one small PNG per name, each filled with its index+1.
func writeImages(t *testing.T, dir string, names ...string) {
	t.Helper()
	for i, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		g := image.NewGray(image.Rect(0, 0, 8, 6))
		for j := range g.Pix {
			g.Pix[j] = byte(i + 1)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, g); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// waitFor polls cond; it fails the test only when cond never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReplayDirectorySortedOnePass(t *testing.T) {
	dir := t.TempDir()
	// Written out of order: the replay sorts by path, recursing into folders.
	writeImages(t, dir, "b.png", "a.png", "sub/c.png")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := NewReplay([]string{dir}, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := []string{"a.png", "b.png", filepath.Join("sub", "c.png")}
	for i, f := range r.Files() {
		if rel, _ := filepath.Rel(dir, f); rel != want[i] {
			t.Fatalf("file %d = %s, want %s", i, rel, want[i])
		}
	}
	// a.png was written second (fill 2), b.png first (fill 1), c third (fill 3).
	fills := []byte{2, 1, 3}
	ctx := context.Background()
	for i, fill := range fills {
		f, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq != uint64(i+1) || f.Width != 8 || f.Height != 6 || f.Y[0] != fill {
			t.Fatalf("frame %d: seq %d %dx%d fill %d, want fill %d", i, f.Seq, f.Width, f.Height, f.Y[0], fill)
		}
	}
	if _, err := r.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("after one pass Next = %v, want io.EOF", err)
	}
	if st := r.Stats(); st.Frames != 3 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReplayLoop(t *testing.T) {
	dir := t.TempDir()
	writeImages(t, dir, "1.png", "2.png")
	r, err := NewReplay([]string{filepath.Join(dir, "2.png"), filepath.Join(dir, "1.png")}, ReplayOptions{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []byte
	for i := 0; i < 5; i++ {
		f, err := r.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f.Y[0])
	}
	if string(got) != "\x02\x01\x02\x01\x02" {
		t.Fatalf("looped fills %v, want 2 1 2 1 2 (the order given)", got)
	}
	r.Close()
	if _, err := r.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
}

func TestReplayTickedDropsWhatTheConsumerMisses(t *testing.T) {
	dir := t.TempDir()
	writeImages(t, dir, "1.png", "2.png", "3.png", "4.png")
	tick := make(chan time.Time)
	r, err := NewReplay([]string{dir}, ReplayOptions{Tick: tick})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	type res struct {
		f   byte
		seq uint64
		err error
	}
	next := make(chan res)
	go func() {
		f, err := r.Next(ctx) // starts the producer, waits for the first tick
		if err != nil {
			next <- res{err: err}
			return
		}
		next <- res{f: f.Y[0], seq: f.Seq}
	}()
	tick <- time.Time{}
	if got := <-next; got.err != nil || got.f != 1 {
		t.Fatalf("first frame %+v", got)
	}
	// Two frames arrive while the consumer is busy: the first is dropped.
	tick <- time.Time{}
	tick <- time.Time{}
	waitFor(t, "frame 3 released", func() bool { return r.Stats().Frames == 3 })
	f, err := r.Next(ctx)
	if err != nil || f.Y[0] != 3 || f.Seq != 3 {
		t.Fatalf("Next = %v %v, want frame 3", f, err)
	}
	tick <- time.Time{}
	if f, err = r.Next(ctx); err != nil || f.Y[0] != 4 {
		t.Fatalf("Next = %v %v, want frame 4", f, err)
	}
	if _, err := r.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
	if st := r.Stats(); st.Frames != 4 || st.Dropped != 1 {
		t.Fatalf("stats frames %d dropped %d, want 4 and 1", st.Frames, st.Dropped)
	}
}

func TestReplayAtFPS(t *testing.T) {
	dir := t.TempDir()
	writeImages(t, dir, "1.png", "2.png", "3.png")
	r, err := NewReplay([]string{dir}, ReplayOptions{FPS: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var last uint64
	for {
		f, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq <= last {
			t.Fatalf("seq %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
	if st := r.Stats(); st.Frames != 3 || last != 3 {
		t.Fatalf("frames %d, last seq %d; want 3", st.Frames, last)
	}
}

func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{nil, "no image files"},
		{[]string{filepath.Join(dir, "missing")}, "missing"},
		{[]string{empty}, "no PNG, JPEG, WebP or PGM files"},
		{[]string{bad}, "bad.png: not a PNG, JPEG, WebP or PGM image"},
	} {
		if _, err := NewReplay(tc.paths, ReplayOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewReplay(%v) = %v, want an error saying %q", tc.paths, err, tc.want)
		}
	}
}

// One unreadable file in a replay folder is skipped with a log line; the
// camera plays the others.
func TestReplaySkipsUnreadableImage(t *testing.T) {
	dir := t.TempDir()
	writeImages(t, dir, "a.png", "c.png")
	if err := os.WriteFile(filepath.Join(dir, "b.png"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	r, err := NewReplay([]string{dir}, ReplayOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Files(); len(got) != 2 || filepath.Base(got[0]) != "a.png" || filepath.Base(got[1]) != "c.png" {
		t.Errorf("files %q, want a.png and c.png", got)
	}
	if !strings.Contains(logs.String(), "image skipped") || !strings.Contains(logs.String(), "b.png") {
		t.Errorf("no log line for the skipped file: %q", logs.String())
	}
}
