package camera

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gradient is a small gray test image: pixel (x, y) = 40*y + 10*x.
func gradient() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, 4, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			g.SetGray(x, y, color.Gray{byte(40*y + 10*x)})
		}
	}
	return g
}

func encode(t *testing.T, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadFile(t *testing.T) {
	want := gradient().Pix
	rgba := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			v := byte(40*y + 10*x)
			rgba.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	var p5 []byte
	p5 = append(p5, "P5\n# a comment\n4 3\n255\n"...)
	p5 = append(p5, want...)
	p5x16 := []byte("P5 4 3 65535\n")
	for _, v := range want {
		w := uint16(v) * 257
		p5x16 = append(p5x16, byte(w>>8), byte(w))
	}
	var p2 strings.Builder
	p2.WriteString("P2\n4 3\n# max\n255\n")
	for i, v := range want {
		if i%4 == 0 {
			p2.WriteString("\n")
		}
		p2.WriteString(" ")
		p2.WriteString(strconv.Itoa(int(v)))
	}
	p2max15 := "P2 2 1 15\n0 15\n"

	tests := []struct {
		name string
		data []byte
		want []byte
		tol  int // JPEG is lossy
	}{
		{"png gray", encode(t, func(b *bytes.Buffer) error { return png.Encode(b, gradient()) }), want, 0},
		{"png rgba", encode(t, func(b *bytes.Buffer) error { return png.Encode(b, rgba) }), want, 0},
		{"jpeg", encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, gradient(), &jpeg.Options{Quality: 100}) }), want, 3},
		{"pgm p5", p5, want, 0},
		{"pgm p5 16 bit", p5x16, want, 0},
		{"pgm p2", []byte(p2.String()), want, 0},
		{"pgm p2 maxval 15", []byte(p2max15), []byte{0, 255}, 0},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if f.Stride != f.Width || len(f.Y) != f.Width*f.Height || len(f.Y) != len(tc.want) {
				t.Fatalf("frame %dx%d stride %d len %d, want %d pixels", f.Width, f.Height, f.Stride, len(f.Y), len(tc.want))
			}
			for i := range tc.want {
				if d := int(f.Y[i]) - int(tc.want[i]); d > tc.tol || d < -tc.tol {
					t.Fatalf("pixel %d = %d, want %d", i, f.Y[i], tc.want[i])
				}
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	png1 := encode(t, func(b *bytes.Buffer) error { return png.Encode(b, gradient()) })
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "empty file"},
		{"text", "hello, world", "not a PNG, JPEG, WebP or PGM image"},
		{"truncated png", string(png1[:len(png1)/2]), "decode png"},
		{"p5 truncated", "P5 4 3 255\n" + "abc", "PGM truncated: 3 of 12 bytes"},
		{"p5 no pixels", "P5 4 3 255", "PGM truncated after the header"},
		{"p5 bad width", "P5 x 3 255\n", `width "x" is not a positive number`},
		{"p5 zero height", "P5 4 0 255\n", `height "0" is not a positive number`},
		{"p5 missing maxval", "P5 4 3", "maximum value"},
		{"p5 maxval too big", "P5 4 3 70000\n", "above 65535"},
		{"p5 too large", "P5 9000 9000 255\n", "larger than"},
		{"p5 pixel above max", "P5 2 1 100\n\x00\xff", "above the maximum 100"},
		{"p2 bad pixel", "P2 2 1 255\n0 x", `pixel 1: "x" is not a number`},
		{"p2 short", "P2 2 2 255\n0 1 2", "PGM truncated: 3 of 4 pixels"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file and say %q", err, tc.want)
			}
		})
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.png")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
