package main

import (
	"context"
	"fmt"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/config"
	"checkpoint/gpio"
	"checkpoint/policy"
	"checkpoint/reader"
)

// openSource opens the camera the config selects: none (nil), the camera
// itself, or the camera behind its trigger (started on each press).
func (g *gate) openSource() (checkpoint.Source, error) {
	c := g.cfg.Camera
	switch {
	case c.Source == "none":
		return nil, nil
	case c.Trigger != "":
		g.trig = camera.NewTriggered(func() (checkpoint.Source, error) { return openCamera(c, g.log) }, c.TriggerWindow.D())
		if c.Trigger != "keypad" {
			if err := g.ind.WatchPress(c.Trigger, c.TriggerActiveLow, g.cfg.GPIO.Debounce.D(), gpio.PinByName, g.trig.Trigger); err != nil {
				return nil, configError{fmt.Errorf("camera.trigger: %w", err)}
			}
		}
		return g.trig, nil
	}
	return openCamera(c, g.log)
}

// pairing is the identity check the [policy] table asks for (nil: none).
func pairing(p config.Policy) *policy.Pairing {
	if !p.IdentityCheck {
		return nil
	}
	return &policy.Pairing{Window: p.PairWindow.D()}
}

// withCameraOff sets up a scanner whose camera may be absent or stopped
// between presses: it is then ready at once, and a stopped camera is no
// stall; a trigger's window ends with the first verdict.
func (g *gate) withCameraOff(s *checkpoint.Scanner) {
	if g.trig != nil {
		s.Paused = g.trig.Paused
		s.Observers = append(s.Observers, g.trig)
	}
	if g.src == nil || g.trig != nil {
		s.FirstFrame = nil
		g.notifier.Ready()
	}
}

// startInputs starts the readers of the hardware scanner and the keypad,
// whose codes s judges; the keypad's Enter on nothing typed is the
// camera's trigger when camera.trigger = "keypad".
func (g *gate) startInputs(ctx context.Context, s *checkpoint.Scanner) {
	var trigger func()
	if g.trig != nil && g.cfg.Camera.Trigger == "keypad" {
		trigger = g.trig.Trigger
	}
	for _, in := range []struct {
		c     config.Input
		input checkpoint.Input
		empty func()
	}{
		{g.cfg.Scanner, checkpoint.InputScanner, nil},
		{g.cfg.Keypad, checkpoint.InputTyped, trigger},
	} {
		if in.c.Device == "" {
			continue
		}
		r := reader.New(reader.Options{Device: in.c.Device, Keyboard: in.c.Keyboard(), Baud: in.c.Baud,
			Input: in.input, Empty: in.empty, Retry: time.Second, Logger: g.log})
		g.goRun(func() { r.Run(ctx, s.Submit) })
	}
}

// submitTyped judges a code typed on the operator screen.
func submitTyped(s *checkpoint.Scanner) func(ctx context.Context, text string) checkpoint.Verdict {
	return func(ctx context.Context, text string) checkpoint.Verdict {
		e, _ := s.Submit(ctx, checkpoint.Symbol{Text: text, Input: checkpoint.InputTyped})
		return e.Verdict
	}
}

// passages counts today's entries and exits at this gate (the day in
// Vietnam).
func (g *gate) passages(ctx context.Context) (in, out int64, err error) {
	y, m, d := g.clock.Now().In(cache.Vietnam).Date()
	return g.db.Passages(ctx, g.cfg.Gate, time.Date(y, m, d, 0, 0, 0, 0, cache.Vietnam))
}

// cameraOff says whether the camera is off on purpose, for the screen:
// "none", "paused" between presses, or "" while it runs.
func (g *gate) cameraOff() string {
	switch {
	case g.src == nil:
		return "none"
	case g.trig != nil && g.trig.Paused():
		return "paused"
	}
	return ""
}
