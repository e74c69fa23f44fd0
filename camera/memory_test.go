package camera

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/internal/imagebomb"
)

// memoryCeiling is the peak resident memory loading any single image may
// take (SECURITY.md, BENCHMARKS.md).
const memoryCeiling = 400 << 20

// bombCase is one generated image: refused by the decode cap, or loaded.
type bombCase struct {
	kind    imagebomb.Kind
	w, h    int
	refused bool
}

// bombCases are the 8192x8192 bombs (refused before decoding) and, of each
// kind, the largest image under MaxDecodeBytes (decoded): the costliest
// inputs the loader accepts.
func bombCases() []bombCase {
	var cs []bombCase
	for _, k := range []imagebomb.Kind{imagebomb.ProgressiveCMYK, imagebomb.RGBA16, imagebomb.ProgressiveColour} {
		cs = append(cs, bombCase{k, 8192, 8192, true})
	}
	for _, k := range []imagebomb.Kind{imagebomb.ProgressiveCMYK, imagebomb.RGBA16, imagebomb.ProgressiveColour, imagebomb.Gray8} {
		s := 8192
		for n := s * s * k.BytesPerPixel(); n+n/16+256<<10 > MaxDecodeBytes; n = s * s * k.BytesPerPixel() {
			s -= 8 // whole JPEG blocks
		}
		cs = append(cs, bombCase{k, s, s, false})
	}
	return cs
}

// TestLoadMemoryCeiling loads each bomb in a process of its own, as the
// replay source does, and reads that process's peak resident memory.
func TestLoadMemoryCeiling(t *testing.T) {
	if os.Getenv("CHECKPOINT_LOAD_CHILD") != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	for _, c := range bombCases() {
		name := fmt.Sprintf("%s %dx%d", c.kind, c.w, c.h)
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+c.kind.Ext())
			writeBomb(t, path, c)
			t0 := time.Now()
			cmd := exec.Command(os.Args[0], "-test.run=^TestLoadChild$", "-test.v")
			cmd.Env = append(os.Environ(), "CHECKPOINT_LOAD_CHILD="+path)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
			refused := bytes.Contains(out, []byte("needs")) && bytes.Contains(out, []byte("MiB allowed"))
			t.Logf("%s: peak RSS %d MiB, %v, refused %v", name, rss>>20, time.Since(t0).Round(time.Millisecond), refused)
			if refused != c.refused {
				t.Errorf("refused %v, want %v:\n%s", refused, c.refused, out)
			}
			if rss > memoryCeiling {
				t.Errorf("peak RSS %d MiB, ceiling %d MiB", rss>>20, memoryCeiling>>20)
			}
		})
	}
}

func writeBomb(t *testing.T, path string, c bombCase) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := imagebomb.Write(fh, c.kind, c.w, c.h); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLoadChild is the child of TestLoadMemoryCeiling: it loads one file
// through NewReplay and prints the outcome.
func TestLoadChild(t *testing.T) {
	path := os.Getenv("CHECKPOINT_LOAD_CHILD")
	if path == "" {
		t.Skip("run by TestLoadMemoryCeiling")
	}
	r, err := NewReplay([]string{path}, ReplayOptions{})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("loaded", r.Len(), "frame")
}

// TestDecodeCost checks decodeCost against what the decoders really
// allocate: never less, and not far more.
func TestDecodeCost(t *testing.T) {
	var cases []struct {
		name string
		data []byte
	}
	add := func(name string, b []byte) {
		cases = append(cases, struct {
			name string
			data []byte
		}{name, b})
	}
	for _, k := range []imagebomb.Kind{imagebomb.ProgressiveCMYK, imagebomb.ProgressiveColour, imagebomb.RGBA16, imagebomb.Gray8} {
		var b bytes.Buffer
		if err := imagebomb.Write(&b, k, 1000, 750); err != nil {
			t.Fatal(err)
		}
		add(k.String(), b.Bytes())
	}
	for _, f := range webpSamples(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(filepath.Base(f), b)
	}
	for _, c := range cases {
		before := allocated()
		fr, err := Decode(c.data)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		used := allocated() - before - int64(len(fr.Y))
		cfg, format := configOf(t, c.data)
		est, what := decodeCost(c.data, format, cfg[0], cfg[1])
		t.Logf("%s (%s): estimated %d, allocated %d bytes besides the frame", c.name, what, est, used)
		if used > est {
			t.Errorf("%s: allocated %d bytes, estimated %d", c.name, used, est)
		}
		// The runtime counts small allocations late: check big images only.
		if used > 1<<20 && est > 2*used {
			t.Errorf("%s: estimated %d bytes, allocated %d: too cautious", c.name, est, used)
		}
	}
}

// allocated is the bytes this process has allocated on the heap so far.
func allocated() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// FuzzDecode feeds arbitrary files to Decode: it never panics, a frame it
// returns is consistent, and what decoding allocates besides the frame
// stays within MaxDecodeBytes and the file's own size.
func FuzzDecode(f *testing.F) {
	for _, k := range []imagebomb.Kind{imagebomb.ProgressiveCMYK, imagebomb.ProgressiveColour, imagebomb.RGBA16, imagebomb.Gray8} {
		var b bytes.Buffer
		if err := imagebomb.Write(&b, k, 40, 24); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"))
	f.Add([]byte("P5 2 2 255\n\x00\xff\xff\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		before := allocated()
		fr, err := Decode(b)
		used := allocated() - before
		if err == nil {
			if fr.Width <= 0 || fr.Height <= 0 || fr.Stride < fr.Width || len(fr.Y) < fr.Stride*(fr.Height-1)+fr.Width {
				t.Fatalf("inconsistent frame %dx%d stride %d, %d bytes", fr.Width, fr.Height, fr.Stride, len(fr.Y))
			}
			used -= int64(len(fr.Y))
		}
		if used > MaxDecodeBytes+int64(len(b)) {
			t.Fatalf("decoding %d bytes allocated %d bytes, more than MaxDecodeBytes", len(b), used)
		}
	})
}
