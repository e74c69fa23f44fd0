//go:build !gocv

package camera

import (
	"errors"

	"checkpoint"
)

// GoCVBuilt reports whether this binary has the gocv source.
const GoCVBuilt = false

// OpenGoCV fails: this binary was built without the gocv source.
func OpenGoCV(GoCVOptions) (checkpoint.Source, error) {
	return nil, errors.New("camera.source: gocv is not built into this binary (build with -tags gocv, which needs libopencv-dev)")
}
