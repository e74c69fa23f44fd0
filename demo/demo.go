// Package demo holds checkpoint's embedded default: a replayed scene of people
// showing codes at a gate, the statuses the demo cache is built from, and the
// verdicts the demo must produce.
//
// Every person here is invented.
package demo

import (
	_ "embed"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"checkpoint"
)

// Statuses is the CSV (qid,status,valid_until) the demo cache is built from.
//
//go:embed statuses.csv
var Statuses []byte

// Codes is the CSV (code,status,valid_until) of the codes the demo's
// guards may type: TypedCode is green.
//
//go:embed codes.csv
var Codes []byte

// TypedCode is the demo's code given by text message (see Codes).
const TypedCode = "48213390"

// FPS is the rate the demo replays at.
const FPS = 15

// Frame size of the demo scene.
const (
	Width  = 640
	Height = 480
)

// Scene is a run of frames showing one code (or none).
type Scene struct {
	Name   string
	Code   *Placement // nil: an empty frame
	Frames int
	// Want is the verdict the scene must produce; nil when it must produce none.
	Want *checkpoint.Color
}

func color(c checkpoint.Color) *checkpoint.Color { return &c }

// Payloads of the demo people.
const (
	GreenQR   = "******012345|NGUYEN VAN AN|1990-05-17|0|7f3a9c2e5b8d1046|"
	YellowQR  = "******067890|TRAN THI BINH|1985-**-03|0|c41d07e9a2b35f68|"
	RedQR     = "******054321|LE VAN CUONG|1978-11-**|1|9e6b2a1f3c7d0854|"
	UnknownQR = "******099999|PHAM THI DUNG|2001-02-14|0|05d8f1c3b9e2a764|"
	CCCD      = "001090012345|123456789|Nguyễn Văn An|17051990|Nam|Số 1 Phố Huế, Hà Nội|01012021"
	Damaged   = "******011111|VO VAN EM|1995-07-07|0|a1b2c3d4e5f60718|"
	Invalid   = "WIFI:S:cafe;T:WPA;P:not-a-health-code;;"
)

// Scenes returns the demo sequence: empty frames between people holding up
// their codes, each code held for several frames at a slightly moving place.
func Scenes() []Scene {
	gap := Scene{Name: "empty", Frames: 6}
	code := func(name, text string, want *checkpoint.Color, p Placement) Scene {
		p.Text = text
		return Scene{Name: name, Code: &p, Frames: 6, Want: want}
	}
	return []Scene{
		{Name: "empty", Frames: 8},
		code("green 1405", GreenQR, color(checkpoint.Green), Placement{Module: 4, CX: 0.45, CY: 0.5, Rotate: 8, TiltX: 0.15}),
		gap,
		code("yellow 1405", YellowQR, color(checkpoint.Yellow), Placement{Module: 4.5, CX: 0.55, CY: 0.45, Rotate: -12, TiltY: 0.12}),
		gap,
		code("red 1405", RedQR, color(checkpoint.Red), Placement{Module: 4, CX: 0.5, CY: 0.55, Rotate: 20, TiltX: -0.1}),
		gap,
		code("unknown 1405", UnknownQR, color(checkpoint.Yellow), Placement{Module: 3.5, CX: 0.4, CY: 0.5, Rotate: -5, TiltY: -0.15}),
		gap,
		code("cccd", CCCD, color(checkpoint.Yellow), Placement{Module: 3.2, CX: 0.5, CY: 0.5, Rotate: 3, TiltX: 0.2, Contrast: 40}),
		gap,
		code("damaged", Damaged, nil, Placement{Module: 4, CX: 0.5, CY: 0.5, Rotate: 10, Damage: 0.45}),
		gap,
		code("not a health code", Invalid, color(checkpoint.Red), Placement{Module: 5, CX: 0.6, CY: 0.5, Rotate: -25}),
		gap,
	}
}

// Want returns the verdicts the demo produces in one pass, in order.
func Want() []checkpoint.Color {
	var out []checkpoint.Color
	for _, s := range Scenes() {
		if s.Want != nil {
			out = append(out, *s.Want)
		}
	}
	return out
}

// Render draws frame i of the scene sequence (0-based over all scenes).
func Render(scenes []Scene, i int) (*image.Gray, error) {
	n := 0
	for _, s := range scenes {
		if i < n+s.Frames {
			k := i - n
			img := Background(Width, Height, uint64(i)+1)
			if s.Code != nil {
				p := *s.Code
				// The hand moves a little from frame to frame.
				p.CX += 0.004 * float64(k%3-1)
				p.CY += 0.003 * float64((k+1)%3-1)
				p.Rotate += 0.7 * float64(k%2)
				if err := Draw(img, p, uint64(i)); err != nil {
					return nil, fmt.Errorf("render %s frame %d: %w", s.Name, k, err)
				}
			}
			return img, nil
		}
		n += s.Frames
	}
	return nil, fmt.Errorf("frame %d beyond the demo's %d frames", i, n)
}

// FrameCount is the number of frames in scenes.
func FrameCount(scenes []Scene) int {
	n := 0
	for _, s := range scenes {
		n += s.Frames
	}
	return n
}

// WriteFrames renders the demo into dir as numbered PNG files (skipping those
// already there) and returns their paths in order.
func WriteFrames(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo frames: %w", err)
	}
	scenes := Scenes()
	n := FrameCount(scenes)
	paths := make([]string, n)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("frame-%03d.png", i))
		paths[i] = p
		if _, err := os.Stat(p); err == nil {
			continue
		}
		img, err := Render(scenes, i)
		if err != nil {
			return nil, err
		}
		tmp := p + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return nil, fmt.Errorf("demo frames: %w", err)
		}
		err = png.Encode(f, img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, p)
		}
		if err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("demo frames: write %s: %w", p, err)
		}
	}
	return paths, nil
}
