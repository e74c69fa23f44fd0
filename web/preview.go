package web

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"checkpoint"
)

// previewMaxWidth bounds the preview image: wider frames are subsampled by a
// whole factor.
const previewMaxWidth = 960

// preview holds the newest frame copied for the camera preview. The frame
// loop copies nothing unless a client watches, and then at most one frame
// per interval.
type preview struct {
	enabled  bool
	interval time.Duration
	clock    checkpoint.Clock
	watchers atomic.Int32
	last     atomic.Int64 // clock time (unix nanos) of the newest copy
	copies   atomic.Uint64

	mu    sync.Mutex
	snap  *snapshot
	ready chan struct{} // closed and replaced when a new snapshot arrives
}

// snapshot is one copied frame with the outlines of its codes.
type snapshot struct {
	seq     uint64
	img     *image.Gray
	outline [][]image.Point

	once sync.Once
	jpg  []byte
}

func newPreview(enabled bool, interval time.Duration, clock checkpoint.Clock) *preview {
	return &preview{enabled: enabled, interval: interval, clock: clock, ready: make(chan struct{})}
}

// offer is called from the frame loop for every frame.
func (p *preview) offer(f *checkpoint.Frame, syms []checkpoint.Symbol) {
	if !p.enabled || p.watchers.Load() == 0 {
		return
	}
	now := p.clock.Now().UnixNano()
	last := p.last.Load()
	if now >= last && now-last < int64(p.interval) {
		return
	}
	if !p.last.CompareAndSwap(last, now) {
		return
	}
	snap := copyFrame(f, syms)
	p.copies.Add(1)
	p.mu.Lock()
	p.snap = snap
	close(p.ready)
	p.ready = make(chan struct{})
	p.mu.Unlock()
}

// current returns the newest snapshot (nil before the first) and a channel
// closed when a newer one arrives.
func (p *preview) current() (*snapshot, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap, p.ready
}

// copyFrame copies the luminance plane, subsampled to at most
// previewMaxWidth, and the codes' corners at the same scale.
func copyFrame(f *checkpoint.Frame, syms []checkpoint.Symbol) *snapshot {
	k := (f.Width + previewMaxWidth - 1) / previewMaxWidth
	k = max(k, 1)
	w, h := f.Width/k, f.Height/k
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		src := f.Y[y*k*f.Stride:]
		dst := img.Pix[y*img.Stride : y*img.Stride+w]
		if k == 1 {
			copy(dst, src[:w])
			continue
		}
		for x := range dst {
			dst[x] = src[x*k]
		}
	}
	snap := &snapshot{seq: f.Seq, img: img}
	for _, s := range syms {
		if len(s.Corners) < 2 {
			continue
		}
		pts := make([]image.Point, len(s.Corners))
		for i, c := range s.Corners {
			// Clamp, so a wild corner cannot make a long line.
			x := min(max(int(c.X)/k, -w), 2*w)
			y := min(max(int(c.Y)/k, -h), 2*h)
			pts[i] = image.Pt(x, y)
		}
		snap.outline = append(snap.outline, pts)
	}
	return snap
}

// jpeg encodes the snapshot once, with the outlines drawn in green.
func (s *snapshot) jpeg() []byte {
	s.once.Do(func() {
		b := s.img.Bounds()
		rgba := image.NewRGBA(b)
		draw.Draw(rgba, b, s.img, b.Min, draw.Src)
		green := color.RGBA{0, 230, 64, 255}
		for _, pts := range s.outline {
			for i := range pts {
				line(rgba, pts[i], pts[(i+1)%len(pts)], green)
			}
			// Mark the first corner (the top-left finder pattern).
			square(rgba, pts[0], 5, green)
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 75}); err == nil {
			s.jpg = buf.Bytes()
		}
	})
	return s.jpg
}

// line draws a 3-pixel-wide line.
func line(img *image.RGBA, a, b image.Point, c color.RGBA) {
	dx, dy := abs(b.X-a.X), -abs(b.Y-a.Y)
	sx, sy := sign(b.X-a.X), sign(b.Y-a.Y)
	e := dx + dy
	for x, y := a.X, a.Y; ; {
		square(img, image.Pt(x, y), 1, c)
		if x == b.X && y == b.Y {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x += sx
		} else {
			e += dx
			y += sy
		}
	}
}

// square fills the square of half-size r around p, clipped to the image.
func square(img *image.RGBA, p image.Point, r int, c color.RGBA) {
	draw.Draw(img, image.Rect(p.X-r, p.Y-r, p.X+r+1, p.Y+r+1).Intersect(img.Bounds()), image.NewUniform(c), image.Point{}, draw.Src)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// previewOff answers when the config keeps the preview off.
func (s *Server) previewOff(w http.ResponseWriter) bool {
	if s.preview.enabled {
		return false
	}
	http.Error(w, "preview is off: set preview = true under [web] in the config", http.StatusNotFound)
	return true
}

// watch registers a preview client; it fails when too many watch.
func (p *preview) watch() bool {
	if p.watchers.Add(1) > maxPreviews {
		p.watchers.Add(-1)
		return false
	}
	return true
}

// servePreview streams the camera as MJPEG, throttled to the preview rate.
func (s *Server) servePreview(w http.ResponseWriter, r *http.Request) {
	if s.previewOff(w) {
		return
	}
	p := s.preview
	if !p.watch() {
		http.Error(w, "too many preview clients", http.StatusServiceUnavailable)
		return
	}
	defer p.watchers.Add(-1)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=frame")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	var sent *snapshot
	for {
		snap, ready := p.current()
		if snap != nil && snap != sent {
			sent = snap
			b := snap.jpeg()
			rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprintf(w, "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(b)); err != nil {
				return
			}
			if _, err := w.Write(append(b[:len(b):len(b)], '\r', '\n')); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-ready:
		}
	}
}

// serveSnapshot answers one JPEG: the next frame the camera delivers.
func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if s.previewOff(w) {
		return
	}
	p := s.preview
	if !p.watch() {
		http.Error(w, "too many preview clients", http.StatusServiceUnavailable)
		return
	}
	defer p.watchers.Add(-1)
	_, ready := p.current()
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return
	case <-t.C:
		http.Error(w, "no frame from the camera within 3s", http.StatusServiceUnavailable)
		return
	case <-ready:
	}
	snap, _ := p.current()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(snap.jpeg())
}
