package camera

import (
	"errors"
	"log/slog"

	"checkpoint"
	"checkpoint/config"
)

func openRPiCam(config.Camera, *slog.Logger) (checkpoint.Source, error) {
	return nil, errors.New("camera.source: rpicam is not ready yet")
}
