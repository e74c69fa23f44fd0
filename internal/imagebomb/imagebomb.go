// Package imagebomb writes small, valid image files that take a decoder
// far more memory than their size: the inputs the image loader's memory
// cap is tested with (camera, `checkpoint scan`). A progressive JPEG is
// written as its DC scan alone, each coefficient a one-bit Huffman code,
// so that 8192x8192 pixels fit in about half a megabyte; a PNG is one
// deflate stream of zero rows.
package imagebomb

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// Kind is a kind of bomb.
type Kind int

// The kinds.
const (
	// ProgressiveCMYK is a progressive four-component (Adobe CMYK) JPEG:
	// Go's decoder keeps 24 bytes a pixel.
	ProgressiveCMYK Kind = iota
	// ProgressiveColour is a progressive 4:4:4 YCbCr JPEG: 15 bytes a pixel.
	ProgressiveColour
	// RGBA16 is a 16-bit RGBA PNG: 8 bytes a pixel.
	RGBA16
	// Gray8 is an 8-bit gray PNG: a byte a pixel, the largest frame.
	Gray8
)

func (k Kind) String() string {
	return [...]string{"progressive CMYK JPEG", "progressive colour JPEG", "16-bit RGBA PNG", "8-bit gray PNG"}[k]
}

// BytesPerPixel is what Go's decoder keeps a pixel for k.
func (k Kind) BytesPerPixel() int { return [...]int{24, 15, 8, 1}[k] }

// Ext is the file name extension of k.
func (k Kind) Ext() string { return [...]string{".jpg", ".jpg", ".png", ".png"}[k] }

// Write writes a w×h image of kind k.
func Write(out io.Writer, k Kind, w, h int) error {
	if w <= 0 || h <= 0 || w > 65535 || h > 65535 {
		return errors.New("imagebomb: size out of range")
	}
	bw := bufio.NewWriter(out)
	var err error
	switch k {
	case ProgressiveCMYK:
		err = jpeg(bw, w, h, 4)
	case ProgressiveColour:
		err = jpeg(bw, w, h, 3)
	case RGBA16:
		err = png(bw, w, h, 16, 6, 8)
	case Gray8:
		err = png(bw, w, h, 8, 0, 1)
	default:
		err = errors.New("imagebomb: unknown kind")
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func segment(w *bufio.Writer, marker byte, payload []byte) {
	w.Write([]byte{0xff, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)})
	w.Write(payload)
}

// jpeg writes a progressive JPEG of n components, each sampled 1×1, with
// only its DC scan: every block's DC difference is the one-bit code "0".
func jpeg(w *bufio.Writer, width, height, n int) error {
	w.Write([]byte{0xff, 0xd8})
	if n == 4 {
		// Adobe APP14, transform 0: CMYK.
		segment(w, 0xee, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0})
	}
	dqt := make([]byte, 65)
	for i := 1; i < len(dqt); i++ {
		dqt[i] = 1
	}
	segment(w, 0xdb, dqt)
	sof := []byte{8, byte(height >> 8), byte(height), byte(width >> 8), byte(width), byte(n)}
	for i := 0; i < n; i++ {
		sof = append(sof, byte(i+1), 0x11, 0)
	}
	segment(w, 0xc2, sof)
	// DC table 0: one code of length 1, for category 0.
	dht := append([]byte{0x00, 1}, make([]byte, 15)...)
	segment(w, 0xc4, append(dht, 0))
	sos := []byte{byte(n)}
	for i := 0; i < n; i++ {
		sos = append(sos, byte(i+1), 0x00)
	}
	segment(w, 0xda, append(sos, 0, 0, 0))
	blocks := ((width + 7) / 8) * ((height + 7) / 8) * n
	zero := make([]byte, 4096)
	for left := (blocks + 7) / 8; left > 0; left -= len(zero) {
		w.Write(zero[:min(left, len(zero))])
	}
	_, err := w.Write([]byte{0xff, 0xd9})
	return err
}

// png writes a PNG of zero rows: bit depth, colour type and bytes a pixel.
func png(w *bufio.Writer, width, height int, depth, ctype byte, bpp int) error {
	w.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = depth, ctype
	chunk(w, "IHDR", ihdr)
	var data chunkWriter
	data.w = w
	z, err := zlib.NewWriterLevel(&data, zlib.BestSpeed)
	if err != nil {
		return err
	}
	row := make([]byte, 1+width*bpp) // filter 0, zero samples
	for y := 0; y < height; y++ {
		if _, err := z.Write(row); err != nil {
			return err
		}
	}
	if err := z.Close(); err != nil {
		return err
	}
	chunk(w, "IEND", nil)
	return nil
}

func chunk(w *bufio.Writer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	c := crc32.NewIEEE()
	c.Write([]byte(typ))
	c.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.BigEndian.PutUint32(n[:], c.Sum32())
	w.Write(n[:])
}

// chunkWriter writes each Write as one IDAT chunk.
type chunkWriter struct{ w *bufio.Writer }

func (c *chunkWriter) Write(p []byte) (int, error) {
	chunk(c.w, "IDAT", p)
	return len(p), nil
}
