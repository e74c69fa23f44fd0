package decode

import (
	"fmt"
	"testing"

	"github.com/skip2/go-qrcode"
)

// TestSquashedCode reads codes seen at a strong tilt about the horizontal
// axis, their finder patterns squashed to as little as 0.35 of their
// width (about 70 degrees), and about the vertical axis, to 0.45 of their
// height (63 degrees; at 0.35 the detector's fit fails).
func TestSquashedCode(t *testing.T) {
	const text = "https://checkpoint.example/p/7Q2"
	mods := drawnModules(t, text, qrcode.Low)
	for _, squash := range []float64{1, 0.6, 0.45, 0.35, 1 / 0.6, 1 / 0.45} {
		t.Run(fmt.Sprint(squash), func(t *testing.T) {
			if syms, ok := readDrawn(t, New(Options{}), codeFrame(mods, drawing{squash: squash}), text); !ok {
				t.Errorf("read %v, want the code", syms)
			}
		})
	}
}
