package camera

import (
	"log/slog"
	"time"
)

// GoCVOptions configure the gocv source.
type GoCVOptions struct {
	// Device is a V4L2 device index ("0") or path ("/dev/video0"), or a
	// video file. Ignored when Pipeline is set.
	Device string
	// Pipeline is a GStreamer pipeline ending in an appsink.
	Pipeline string
	// Width, Height, FPS and FourCC (e.g. "MJPG") are asked of the device
	// when set; the device may choose otherwise.
	Width, Height int
	FPS           float64
	FourCC        string
	// ReadFailures is how many reads in a row may fail before the device
	// is closed and opened again (0: 5).
	ReadFailures int
	// Backoff is the first pause before reopening, doubled while reopening
	// fails, up to MaxBackoff (0: 500ms and 30s).
	Backoff, MaxBackoff time.Duration
	Logger              *slog.Logger
	Now                 func() time.Time
}
