package camera

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // JPEG frames
	_ "image/png"  // PNG frames
	"io"
	"os"
	"strconv"
	"syscall"

	_ "golang.org/x/image/webp" // WebP frames (screenshots from messaging apps)

	"checkpoint"
)

// MaxFileSize caps the size of an image file LoadFile reads.
const MaxFileSize = 64 << 20

// MaxPixels caps the pixel count of a loaded image (8192 x 8192).
const MaxPixels = 8192 * 8192

// LoadFile reads a PNG, JPEG, WebP or PGM (binary P5 or ASCII P2) file into
// an 8-bit luminance frame with Stride equal to its width. Files over
// MaxFileSize, images over MaxPixels and images whose decoding would take
// more than MaxDecodeBytes are refused before they are decoded.
// A FIFO, device or socket is refused without waiting on it.
func LoadFile(path string) (*checkpoint.Frame, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("load image %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load image %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("load image %s: file larger than %d bytes", path, MaxFileSize)
	}
	fr, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("load image %s: %w", path, err)
	}
	return fr, nil
}

// openRegular opens a regular file for reading. It opens without blocking
// (opening a FIFO would wait for a writer) and refuses anything else than a
// regular file.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file (%s): skipped", st.Mode().Type())
	}
	return f, nil
}

// Decode converts the bytes of a PNG, JPEG, WebP or PGM image into a
// luminance frame, with the caps of LoadFile.
func Decode(b []byte) (*checkpoint.Frame, error) {
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	if len(b) >= 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '2') {
		return decodePGM(b)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, errors.New("not a PNG, JPEG, WebP or PGM image")
		}
		return nil, fmt.Errorf("read image header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s image has no pixels (%dx%d)", format, cfg.Width, cfg.Height)
	}
	if cfg.Width*cfg.Height > MaxPixels {
		return nil, fmt.Errorf("%s image of %dx%d is larger than %d pixels", format, cfg.Width, cfg.Height, MaxPixels)
	}
	if n, what := decodeCost(b, format, cfg.Width, cfg.Height); n > MaxDecodeBytes {
		return nil, costError(format, cfg.Width, cfg.Height, what, n)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	return checkpoint.FrameFromImage(img), nil
}

// decodePGM reads a netpbm graymap: P5 (binary) or P2 (ASCII), with a
// maximum value of 1 to 65535, scaled to 8 bits.
func decodePGM(b []byte) (*checkpoint.Frame, error) {
	kind := b[1]
	r := bufio.NewReader(bytes.NewReader(b[2:]))
	var hdr [3]int
	names := [3]string{"width", "height", "maximum value"}
	for i := range hdr {
		tok, err := pnmToken(r)
		if err != nil {
			return nil, fmt.Errorf("PGM header: %s: %w", names[i], err)
		}
		v, err := strconv.Atoi(tok)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("PGM header: %s %q is not a positive number", names[i], tok)
		}
		hdr[i] = v
	}
	w, h, maxv := hdr[0], hdr[1], hdr[2]
	if maxv > 65535 {
		return nil, fmt.Errorf("PGM header: maximum value %d is above 65535", maxv)
	}
	if w > 8192 || h > 8192 || w*h > MaxPixels {
		return nil, fmt.Errorf("PGM image of %dx%d is larger than %d pixels", w, h, MaxPixels)
	}
	f := &checkpoint.Frame{Width: w, Height: h, Stride: w, Y: make([]byte, w*h)}
	scale := func(v int) byte {
		if maxv == 255 {
			return byte(v)
		}
		return byte((v*255 + maxv/2) / maxv)
	}
	if kind == '5' {
		// Exactly one whitespace byte separates the header from the samples.
		if _, err := r.ReadByte(); err != nil {
			return nil, errors.New("PGM truncated after the header")
		}
		bps := 1
		if maxv > 255 {
			bps = 2
		}
		data := make([]byte, w*h*bps)
		if n, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("PGM truncated: %d of %d bytes of pixels", n, len(data))
		}
		for i := range f.Y {
			v := int(data[i])
			if bps == 2 {
				v = int(data[2*i])<<8 | int(data[2*i+1])
			}
			if v > maxv {
				return nil, fmt.Errorf("PGM pixel %d has value %d above the maximum %d", i, v, maxv)
			}
			f.Y[i] = scale(v)
		}
		return f, nil
	}
	for i := range f.Y {
		tok, err := pnmToken(r)
		if err != nil {
			return nil, fmt.Errorf("PGM truncated: %d of %d pixels", i, len(f.Y))
		}
		v, err := strconv.Atoi(tok)
		if err != nil || v < 0 || v > maxv {
			return nil, fmt.Errorf("PGM pixel %d: %q is not a number from 0 to %d", i, tok, maxv)
		}
		f.Y[i] = scale(v)
	}
	return f, nil
}

// pnmToken reads the next whitespace-separated header token, skipping
// comments from '#' to the end of the line.
func pnmToken(r *bufio.Reader) (string, error) {
	var tok []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			if len(tok) > 0 {
				return string(tok), nil
			}
			return "", io.ErrUnexpectedEOF
		}
		switch {
		case c == '#' && len(tok) == 0:
			for c != '\n' && c != '\r' {
				if c, err = r.ReadByte(); err != nil {
					return "", io.ErrUnexpectedEOF
				}
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			if len(tok) > 0 {
				if err := r.UnreadByte(); err != nil {
					return "", err
				}
				return string(tok), nil
			}
		default:
			if len(tok) >= 20 {
				return "", errors.New("token too long")
			}
			tok = append(tok, c)
		}
	}
}
