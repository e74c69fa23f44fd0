//go:build gocv

package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"checkpoint"
	"checkpoint/internal/backoff"
)

// GoCVBuilt reports whether this binary has the gocv source.
const GoCVBuilt = true

// GoCV is a Source reading a V4L2 camera, a video file or a GStreamer
// pipeline through OpenCV. A grabber goroutine reads frames as fast as the
// device delivers them (OpenCV queues several internally, so reading on
// demand would give stale ones) and keeps the newest as a gray plane.
type GoCV struct {
	opts     GoCVOptions
	mbox     *Mailbox
	restarts atomic.Uint64
	cancel   context.CancelFunc
	done     chan struct{}
	once     sync.Once
}

var _ checkpoint.Source = (*GoCV)(nil)

// OpenGoCV is NewGoCV as a checkpoint.Source; in a binary built without
// gocv it returns an error saying how to build one.
func OpenGoCV(opts GoCVOptions) (checkpoint.Source, error) { return NewGoCV(opts) }

// NewGoCV opens the device and starts grabbing. A device that cannot be
// opened now is an error; one that fails later is reopened.
func NewGoCV(opts GoCVOptions) (*GoCV, error) {
	if opts.Device == "" && opts.Pipeline == "" {
		return nil, errors.New("camera: gocv needs camera.device or camera.pipeline")
	}
	if opts.FourCC != "" && len(opts.FourCC) != 4 {
		return nil, fmt.Errorf("camera.fourcc: %q is not four characters such as MJPG", opts.FourCC)
	}
	if opts.ReadFailures <= 0 {
		opts.ReadFailures = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff < opts.Backoff {
		opts.MaxBackoff = max(30*time.Second, opts.Backoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &GoCV{opts: opts, mbox: NewMailbox(), done: make(chan struct{})}
	vc, err := c.open()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.grab(ctx, vc)
	return c, nil
}

// name says which device the source reads, for errors and logs.
func (c *GoCV) name() string {
	if c.opts.Pipeline != "" {
		return "GStreamer pipeline"
	}
	return c.opts.Device
}

// open opens the device and asks it for the configured format.
func (c *GoCV) open() (*gocv.VideoCapture, error) {
	var vc *gocv.VideoCapture
	var err error
	switch {
	case c.opts.Pipeline != "":
		vc, err = gocv.OpenVideoCaptureWithAPI(c.opts.Pipeline, gocv.VideoCaptureGstreamer)
	default:
		if _, aerr := strconv.Atoi(c.opts.Device); aerr == nil {
			vc, err = gocv.OpenVideoCaptureWithAPI(c.opts.Device, gocv.VideoCaptureV4L2)
		} else {
			vc, err = gocv.OpenVideoCapture(c.opts.Device)
		}
	}
	if err == nil && !vc.IsOpened() {
		err = errors.New("not opened")
	}
	if err != nil {
		if vc != nil {
			vc.Close()
		}
		return nil, fmt.Errorf("camera: open %s: %w", c.name(), err)
	}
	if c.opts.FourCC != "" {
		vc.Set(gocv.VideoCaptureFOURCC, vc.ToCodec(c.opts.FourCC))
	}
	if c.opts.Width > 0 && c.opts.Height > 0 {
		vc.Set(gocv.VideoCaptureFrameWidth, float64(c.opts.Width))
		vc.Set(gocv.VideoCaptureFrameHeight, float64(c.opts.Height))
	}
	if c.opts.FPS > 0 {
		vc.Set(gocv.VideoCaptureFPS, c.opts.FPS)
	}
	return vc, nil
}

// grab reads frames until the source closes, reopening the device when
// reads keep failing (unplugged camera, end of a video file).
func (c *GoCV) grab(ctx context.Context, vc *gocv.VideoCapture) {
	defer close(c.done)
	img := gocv.NewMat()
	defer img.Close()
	gray := gocv.NewMat()
	defer gray.Close()
	reopens := 0 // reopens in a row that failed
	failures := 0
	for {
		if ctx.Err() != nil {
			if vc != nil {
				vc.Close()
			}
			return
		}
		if vc == nil {
			wait := backoff.Exponential(c.opts.Backoff, c.opts.MaxBackoff, reopens+1)
			if !backoff.Wait(ctx, wait) {
				return
			}
			var err error
			if vc, err = c.open(); err != nil {
				c.opts.Logger.Warn("camera reopen failed", "device", c.name(), "err", err, "backoff", wait)
				reopens++
				continue
			}
			c.restarts.Add(1)
			c.opts.Logger.Info("camera reopened", "device", c.name())
		}
		if !vc.Read(&img) || img.Empty() {
			failures++
			if failures >= c.opts.ReadFailures {
				c.opts.Logger.Warn("camera stopped delivering frames; reopening", "device", c.name(), "failures", failures)
				vc.Close()
				vc = nil
				failures = 0
			}
			continue
		}
		failures = 0
		reopens = 0
		if err := c.publish(&img, &gray); err != nil {
			c.opts.Logger.Warn("camera frame dropped", "device", c.name(), "err", err)
		}
	}
}

// publish converts img to gray and hands it to the mailbox.
func (c *GoCV) publish(img, gray *gocv.Mat) error {
	src := img
	switch img.Channels() {
	case 1:
	case 3:
		gocv.CvtColor(*img, gray, gocv.ColorBGRToGray)
		src = gray
	case 4:
		gocv.CvtColor(*img, gray, gocv.ColorBGRAToGray)
		src = gray
	default:
		return fmt.Errorf("%d channels", img.Channels())
	}
	if src.Type() != gocv.MatTypeCV8UC1 {
		return fmt.Errorf("pixel type %v is not 8-bit", src.Type())
	}
	w, h := src.Cols(), src.Rows()
	data, err := src.DataPtrUint8()
	if err != nil {
		return err
	}
	step := src.Step()
	f := c.mbox.Buffer(w, h, w)
	for y := 0; y < h; y++ {
		copy(f.Y[y*w:(y+1)*w], data[y*step:y*step+w])
	}
	c.mbox.Publish(c.opts.Now())
	return nil
}

// Next returns the newest frame.
func (c *GoCV) Next(ctx context.Context) (*checkpoint.Frame, error) { return c.mbox.Next(ctx) }

// Stats reports frames, drops, reopenings and the last frame's time.
func (c *GoCV) Stats() checkpoint.SourceStats {
	st := c.mbox.Stats()
	st.Restarts = c.restarts.Load()
	return st
}

// Close stops the grabber and closes the device.
func (c *GoCV) Close() error {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.mbox.CloseWith(ErrClosed)
	})
	return nil
}
