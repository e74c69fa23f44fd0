// Package camera provides frame sources (checkpoint.Source): replayed image
// files, a Raspberry Pi camera through rpicam-vid, and V4L2/GStreamer
// cameras through gocv (build tag gocv). Every live source keeps only the
// newest frame in a Mailbox; frames the consumer had no time for are
// dropped and counted.
//
// Frames returned by Next are read-only and valid until the next call to
// Next.
package camera

import (
	"fmt"
	"log/slog"

	"checkpoint"
	"checkpoint/config"
)

// Open returns the source the config selects: "replay" (camera.path at
// camera.fps, camera.loop), "rpicam" or "gocv".
func Open(cfg config.Camera, log *slog.Logger) (checkpoint.Source, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Source {
	case "replay":
		r, err := NewReplay([]string{cfg.Path}, ReplayOptions{FPS: cfg.FPS, Loop: cfg.Loop})
		if err != nil {
			return nil, fmt.Errorf("camera: %w", err)
		}
		return r, nil
	case "rpicam":
		return openRPiCam(cfg, log)
	case "gocv":
		return openGoCV(cfg, log)
	}
	return nil, fmt.Errorf("camera.source: %q is not replay, rpicam or gocv", cfg.Source)
}
