package credential

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// MaxInflated is the most bytes an HC1 payload may inflate to. Real
// certificates inflate to under 2 KiB; anything near the cap is a bomb.
const MaxInflated = 64 << 10

// ErrInflatedTooLarge: the zlib stream inflates to more than the cap.
var ErrInflatedTooLarge = errors.New("zlib: inflated data exceeds the size cap")

// Inflate decompresses a zlib stream, reading at most limit bytes of output
// before it gives up with ErrInflatedTooLarge. The stream's checksum is
// verified, and bytes after the stream are an error.
func Inflate(b []byte, limit int) ([]byte, error) {
	br := bytes.NewReader(b)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, err // "zlib: invalid header"
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, err // "zlib: invalid checksum", "flate: corrupt input ..."
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrInflatedTooLarge, limit)
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("zlib: %d bytes after the end of the stream", br.Len())
	}
	return out, nil
}
