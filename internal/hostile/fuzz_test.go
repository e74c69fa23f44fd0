package hostile

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"path/filepath"
	"runtime/metrics"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/credential"
	"checkpoint/credential/hc1test"
	"checkpoint/decode"
	"checkpoint/demo"
	"checkpoint/policy"
)

// path is the data path after the camera, on a real cache holding the demo
// statuses.
type path struct {
	dec    *decode.Decoder
	parser *credential.Parser
	judge  *policy.Judge
}

func newPath(f *testing.F) *path {
	db, err := cache.Open(context.Background(), filepath.Join(f.TempDir(), "cache.db"), cache.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if _, err := db.ImportCSV(context.Background(), bytes.NewReader(demo.Statuses)); err != nil {
		f.Fatal(err)
	}
	return &path{
		dec:    decode.New(decode.Options{Budget: 200 * time.Millisecond}),
		parser: &credential.Parser{Trust: db},
		judge:  &policy.Judge{Store: db, Rules: policy.DefaultRules(), Stale: db.Stale},
	}
}

// run decodes the frame and judges every code: no panic, and every
// verdict is one of the three colours with a reason.
func (p *path) run(t *testing.T, fr *checkpoint.Frame) {
	syms, err := p.dec.Decode(context.Background(), fr)
	if err != nil {
		return
	}
	now := time.Date(2021, 10, 1, 8, 0, 0, 0, time.UTC)
	for _, s := range syms {
		v := p.judge.Judge(context.Background(), p.parser.Parse(s.Text), now)
		if v.Color > checkpoint.Green || len(v.Reasons) == 0 {
			t.Fatalf("verdict %+v", v)
		}
	}
}

// frameOf renders one demo placement into a small frame.
func frameOf(f *testing.F, text string, module float64) *image.Gray {
	img := demo.Background(256, 256, 1)
	if err := demo.Draw(img, demo.Placement{Text: text, Module: module, CX: 0.5, CY: 0.5, Rotate: 7}, 1); err != nil {
		f.Fatal(err)
	}
	return img
}

// FuzzHostileFrame takes arbitrary luminance planes (up to 271x271 pixels,
// with a stride of the fuzzer's choosing) through decoding, parsing and
// judging.
func FuzzHostileFrame(f *testing.F) {
	p := newPath(f)
	is, err := hc1test.NewIssuer(hc1test.Options{})
	if err != nil {
		f.Fatal(err)
	}
	day := time.Date(2021, 8, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range []struct {
		text   string
		module float64
	}{{demo.GreenQR, 3}, {demo.CCCD, 2.5}, {is.MustIssue(hc1test.Vaccinated("URN:UVCI:01:VN:FUZZ", 2, 2, day, day)), 3}} {
		img := frameOf(f, s.text, s.module)
		if syms, _ := p.dec.Decode(context.Background(), checkpoint.FrameFromImage(img)); len(syms) != 1 {
			f.Fatalf("seed frame does not decode: %d codes", len(syms))
		}
		f.Add(uint8(img.Rect.Dx()-16), uint8(img.Rect.Dy()-16), uint8(0), img.Pix)
	}
	f.Add(uint8(0), uint8(0), uint8(3), []byte{0, 255})
	f.Fuzz(func(t *testing.T, w, h, pad uint8, pix []byte) {
		fr := &checkpoint.Frame{Width: int(w) + 16, Height: int(h) + 16}
		fr.Stride = fr.Width + int(pad)
		fr.Y = make([]byte, fr.Stride*fr.Height)
		if len(pix) > 0 {
			for i := range fr.Y {
				fr.Y[i] = pix[i%len(pix)]
			}
		}
		p.run(t, fr)
	})
}

// FuzzHostileImage takes arbitrary image files (PNG, JPEG, PGM, as
// `checkpoint scan` reads them) through the same path.
func FuzzHostileImage(f *testing.F) {
	p := newPath(f)
	var b bytes.Buffer
	if err := png.Encode(&b, frameOf(f, demo.RedQR, 3)); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("P5 4 4 255\n\x00\xff\x00\xff\xff\x00\xff\x00\x00\xff\x00\xff\xff\x00\xff\x00"))
	f.Add([]byte("P2\n# c\n2 2\n65535\n0 65535\n65535 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil && cfg.Width*cfg.Height > 1<<20 {
			return // camera.Decode caps pixels; keep the fuzzer quick
		}
		before := heapAllocated()
		fr, err := camera.Decode(b)
		used := heapAllocated() - before
		if fr != nil {
			used -= int64(len(fr.Y))
		}
		if used > camera.MaxDecodeBytes+int64(len(b)) {
			t.Fatalf("loading %d bytes allocated %d bytes, more than camera.MaxDecodeBytes", len(b), used)
		}
		if err != nil {
			return
		}
		if fr.Width <= 0 || fr.Height <= 0 || fr.Stride < fr.Width || len(fr.Y) < fr.Stride*(fr.Height-1)+fr.Width {
			t.Fatalf("inconsistent frame %dx%d stride %d, %d bytes", fr.Width, fr.Height, fr.Stride, len(fr.Y))
		}
		if fr.Width*fr.Height <= 1<<20 {
			p.run(t, fr)
		}
	})
}

// heapAllocated is the bytes this process has allocated on the heap so far.
func heapAllocated() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
