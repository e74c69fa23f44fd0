package camera

import (
	"encoding/binary"
	"fmt"
)

// MaxDecodeBytes caps the memory an image decoder may take for its own
// buffers (pixels times the bytes per pixel it keeps), checked from the
// file's header before decoding. A small file can ask for gigabytes: an
// 8192x8192 progressive CMYK JPEG of half a megabyte makes Go's decoder
// keep 24 bytes a pixel (1.5 GiB). With this cap, the file's bytes and the
// luminance frame, loading any single image stays under 400 MB of peak
// resident memory (TestLoadMemoryCeiling).
const MaxDecodeBytes = 256 << 20

// costError is the error for an image whose decoding would take more than
// MaxDecodeBytes.
func costError(format string, w, h int, what string, n int64) error {
	return fmt.Errorf("%s image of %dx%d (%s) needs %d MiB to decode, more than the %d MiB allowed",
		format, w, h, what, (n+1<<20-1)>>20, MaxDecodeBytes>>20)
}

// decodeCost is what decoding b (of the given format and size, as
// image.DecodeConfig read them) takes in the decoder's own buffers, in
// bytes, with a few words saying why. It follows what Go's image/jpeg and
// image/png and x/image/webp allocate; for a header it cannot read it
// assumes the costliest layout of the format.
func decodeCost(b []byte, format string, w, h int) (int64, string) {
	px := int64(w) * int64(h)
	var n int64
	var what string
	switch format {
	case "jpeg":
		n, what = jpegCost(b, w, h)
	case "png":
		n, what = pngCost(b, px)
	case "webp":
		n, what = webpCost(b, px)
	default:
		n, what = 8*px, "unknown layout"
	}
	// Tables, readers and row buffers besides: a sixteenth and 256 KiB.
	return n + n/16 + 256<<10, what
}

// pngCost: image/png decodes into one image of the colour type's natural
// pixel size (16-bit samples stay 16-bit), and an interlaced file into one
// image per pass besides.
func pngCost(b []byte, px int64) (int64, string) {
	const ihdr = 8 + 8 // signature, chunk length and type
	if len(b) < ihdr+13 {
		return 8 * px, "unknown layout"
	}
	depth, ctype, interlace := int64(b[ihdr+8]), b[ihdr+9], b[ihdr+12]
	samples := map[byte]int64{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
	var bpp int64
	switch {
	case ctype == 3 || (ctype == 0 && depth <= 8):
		bpp = 1 // paletted or gray
	case ctype == 2 && depth <= 8:
		bpp = 4 // RGB to RGBA
	case depth <= 8:
		bpp = samples
		if ctype == 4 {
			bpp = 4 // gray with alpha to NRGBA
		}
	default: // 16-bit samples
		bpp = 2 * samples
		if ctype == 2 || ctype == 4 {
			bpp = 8
		}
	}
	what := fmt.Sprintf("%d-bit, %d bytes a pixel", depth, bpp)
	if interlace == 1 {
		bpp *= 2
		what += ", interlaced"
	}
	return bpp * px, what
}

// webpCost: a lossy frame decodes into 4:2:0 YCbCr (1.5 bytes a pixel,
// macroblock-aligned), a lossless one into 4 bytes a pixel and its
// transforms' and Huffman groups' own images besides; an alpha plane
// adds a byte a pixel, or five when it is itself compressed losslessly.
func webpCost(b []byte, px int64) (int64, string) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 9 * px, "unknown layout"
	}
	alpha := false
	for off := 12; off+8 <= len(b); {
		id, n := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := off + 8
		switch id {
		case "VP8X":
			if body < len(b) {
				alpha = b[body]&0x10 != 0
			}
		case "ALPH":
			if body < len(b) && b[body]&3 == 0 {
				return 2*px + px, "lossy with an uncompressed alpha plane"
			}
			return 2*px + 5*px, "lossy with a compressed alpha plane"
		case "VP8 ":
			if alpha {
				return 7 * px, "lossy with alpha"
			}
			return 2 * px, "lossy"
		case "VP8L":
			return 5 * px, "lossless"
		}
		if n < 0 || n > len(b) {
			break
		}
		off = body + n + n&1
	}
	return 9 * px, "unknown layout"
}

// jpegCost: image/jpeg decodes the components into planes at their own
// sampling (whole MCUs), keeps 64 int32 coefficients per block of a
// progressive file until the end, and converts four-component (CMYK) and
// RGB files into a 4-byte-a-pixel image at the end.
func jpegCost(b []byte, w, h int) (int64, string) {
	px := int64(w) * int64(h)
	sof, adobeRGB := findSOF(b)
	if sof == nil || len(sof) < 9 {
		return 24 * px, "unknown layout"
	}
	progressive := sof[0] == 0xc2
	n := int(sof[8])
	if n < 1 || n > 4 || len(sof) < 9+3*n {
		return 24 * px, "unknown layout"
	}
	// One component is coded in 8x8 blocks whatever its sampling says;
	// otherwise the first component's sampling sets the MCU.
	hv := func(i int) (int64, int64) {
		if n == 1 {
			return 1, 1
		}
		s := sof[10+3*i]
		return int64(max(s>>4, 1)), int64(max(s&15, 1))
	}
	h0, v0 := hv(0)
	mxx, myy := (int64(w)+8*h0-1)/(8*h0), (int64(h)+8*v0-1)/(8*v0)
	var blocks int64
	for i := 0; i < n; i++ {
		hi, vi := hv(i)
		blocks += mxx * myy * hi * vi
	}
	total := 64 * blocks // the planes, a byte a sample
	what := fmt.Sprintf("%d components", n)
	if progressive {
		total += 256 * blocks
		what = "progressive, " + what
	}
	rgb := n == 3 && (adobeRGB || sof[9] == 'R' && sof[12] == 'G' && sof[15] == 'B')
	if n == 4 || rgb {
		total += 4 * px
	}
	return total, what
}

// findSOF returns the start-of-frame segment of a JPEG (marker byte,
// then its payload: length, precision, height, width, components and
// their id, sampling, table triples), and whether an Adobe APP14 segment
// marks the file as RGB or CMYK rather than YCbCr.
func findSOF(b []byte) ([]byte, bool) {
	adobeRGB := false
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return nil, adobeRGB
		}
		m := b[i+1]
		if m == 0xff {
			i++ // fill byte
			continue
		}
		if m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01 {
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil, adobeRGB
		}
		seg := b[i+1 : i+2+n]
		switch {
		case m == 0xee && n >= 14 && string(seg[3:8]) == "Adobe":
			adobeRGB = seg[14] == 0
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
			return seg, adobeRGB
		}
		i += 2 + n
	}
	return nil, adobeRGB
}
