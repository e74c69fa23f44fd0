package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"checkpoint/demo"
)

// TestScanWebP reads demo codes from WebP files, lossy at quality 80 (as
// messaging apps save screenshots) and lossless, made by cwebp (Debian's
// webp package, installed by `make deps`), through `scan --json`.
func TestScanWebP(t *testing.T) {
	cwebp, err := exec.LookPath("cwebp")
	if err != nil {
		t.Fatal("cwebp not found: install Debian's webp package (make deps)")
	}
	dir := t.TempDir()
	img := demo.Background(demo.Width, demo.Height, 7)
	if err := demo.Draw(img, demo.Placement{Text: demo.GreenQR, Module: 3, CX: 0.5, CY: 0.5, Rotate: 9}, 7); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src.png")
	writePNG(t, src, img)
	for _, args := range [][]string{{"-q", "80"}, {"-lossless"}} {
		out := filepath.Join(dir, args[0][1:]+".webp")
		if b, err := exec.Command(cwebp, append(args, "-quiet", src, "-o", out)...).CombinedOutput(); err != nil {
			t.Fatalf("cwebp %v: %v\n%s", args, err, b)
		}
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	code, res, errs := runScan(t, "", "--json", dir)
	if code != exitOK || len(res) != 2 {
		t.Fatalf("exit %d, %d results: %s", code, len(res), errs)
	}
	for _, r := range res {
		if r.Error != "" || len(r.Codes) != 1 || r.Codes[0].Text != demo.GreenQR {
			t.Errorf("%s: error %q, codes %+v", filepath.Base(r.File), r.Error, r.Codes)
		}
	}
}
