package imagebomb

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"testing"
)

func TestWrite(t *testing.T) {
	want := map[Kind]string{ProgressiveCMYK: "*image.CMYK", ProgressiveColour: "*image.YCbCr", RGBA16: "*image.NRGBA64", Gray8: "*image.Gray"}
	for k := ProgressiveCMYK; k <= Gray8; k++ {
		var b bytes.Buffer
		if err := Write(&b, k, 67, 45); err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(&b)
		if err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		if got := image.Rect(0, 0, 67, 45); img.Bounds() != got {
			t.Errorf("%v: bounds %v", k, img.Bounds())
		}
		if got := typeName(img); got != want[k] {
			t.Errorf("%v: decoded as %s, want %s", k, got, want[k])
		}
	}
	if err := Write(&bytes.Buffer{}, Gray8, 0, 5); err == nil {
		t.Error("0x5: no error")
	}
}

func typeName(img image.Image) string {
	switch img.(type) {
	case *image.CMYK:
		return "*image.CMYK"
	case *image.YCbCr:
		return "*image.YCbCr"
	case *image.NRGBA64:
		return "*image.NRGBA64"
	case *image.Gray:
		return "*image.Gray"
	}
	return "other"
}

// TestSmall: 8192x8192 of each kind stays about half a megabyte or less.
func TestSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 512 MB through zlib")
	}
	for _, k := range []Kind{ProgressiveCMYK, ProgressiveColour} {
		var b bytes.Buffer
		if err := Write(&b, k, 8192, 8192); err != nil {
			t.Fatal(err)
		}
		if b.Len() > 600<<10 {
			t.Errorf("%v 8192x8192: %d bytes", k, b.Len())
		}
	}
}
