package camera

import (
	"bytes"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// webpSamples are x/image's own WebP test files (lossy, lossy with alpha,
// lossless), found in the module cache through the go command.
func webpSamples(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		t.Fatalf("find golang.org/x/image's test files: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	var fs []string
	for _, n := range []string{"video-001.lossy.webp", "yellow_rose.lossy-with-alpha.webp", "yellow_rose.lossless.webp", "gopher-doc.1bpp.lossless.webp"} {
		fs = append(fs, filepath.Join(dir, n))
	}
	return fs
}

func configOf(t *testing.T, b []byte) ([2]int, string) {
	t.Helper()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return [2]int{cfg.Width, cfg.Height}, format
}

// TestLoadWebP reads lossy WebP files into exactly the luma plane x/image's
// reference PNG of the decoded YCbCr holds, and lossless ones as their RGB.
func TestLoadWebP(t *testing.T) {
	for _, f := range webpSamples(t) {
		fr, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ref := f + ".ycbcr.png"
		if _, err := os.Stat(ref); err != nil {
			ref = ""
		}
		t.Logf("%s: %dx%d", filepath.Base(f), fr.Width, fr.Height)
		if ref == "" {
			continue
		}
		b, err := os.ReadFile(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		// The reference PNG is gray: Y, then Cb and Cr below it.
		g := img.(*image.Gray)
		for y := 0; y < fr.Height; y++ {
			if !bytes.Equal(fr.Y[y*fr.Stride:y*fr.Stride+fr.Width], g.Pix[y*g.Stride:y*g.Stride+fr.Width]) {
				t.Fatalf("%s: row %d differs from the reference's Y plane", filepath.Base(f), y)
			}
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.webp"), []byte("RIFF\x04\x00\x00\x00WEBP"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ListImages([]string{dir})
	if err != nil || len(files) != 1 {
		t.Fatalf("ListImages of a directory with a .webp file: %v %v", files, err)
	}
	if _, err := LoadFile(files[0]); err == nil || !strings.Contains(err.Error(), "a.webp") {
		t.Fatalf("broken WebP: error %v", err)
	}
}
