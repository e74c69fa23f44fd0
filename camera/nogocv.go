//go:build !gocv

package camera

import (
	"errors"
	"log/slog"

	"checkpoint"
	"checkpoint/config"
)

// GoCVBuilt reports whether this binary has the gocv source.
const GoCVBuilt = false

func openGoCV(config.Camera, *slog.Logger) (checkpoint.Source, error) {
	return nil, errors.New("camera.source: gocv is not built into this binary (build with -tags gocv, which needs libopencv-dev)")
}
