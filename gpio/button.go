package gpio

import (
	"context"
	"fmt"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
)

// Button is a debounced input (exit button or door sensor).
type Button struct {
	Name      string // pin name, for errors
	IO        pgpio.PinIn
	ActiveLow bool          // pressed when low (pulled up, switch to ground)
	Debounce  time.Duration // the level must hold this long to count
}

// buttonPoll bounds how long the watcher waits for an edge before it looks
// at its context again.
const buttonPoll = 250 * time.Millisecond

// WatchButton calls onChange each time the button settles in a new state:
// pressed (true) or released (false). It returns an error when the pin cannot be set up
// as an input with edge detection; otherwise it watches in its own
// goroutine until the Signal closes.
func (s *Signal) WatchButton(b Button, onChange func(pressed bool)) error {
	pull := pgpio.PullDown
	if b.ActiveLow {
		pull = pgpio.PullUp
	}
	if err := b.IO.In(pull, pgpio.BothEdges); err != nil {
		return fmt.Errorf("gpio button: set up pin %s as input: %w", b.Name, err)
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		watch(s.bgCtx, b, onChange)
	}()
	return nil
}

// watch follows the button's level: after an edge it waits until no edge
// has come for Debounce, then compares the settled level with the last one.
func watch(ctx context.Context, b Button, onChange func(pressed bool)) {
	active := pgpio.High
	if b.ActiveLow {
		active = pgpio.Low
	}
	pressed := b.IO.Read() == active
	for ctx.Err() == nil {
		if !b.IO.WaitForEdge(buttonPoll) {
			continue
		}
		for ctx.Err() == nil && b.Debounce > 0 && b.IO.WaitForEdge(b.Debounce) {
			// bouncing: wait for the level to hold
		}
		now := b.IO.Read() == active
		if now != pressed {
			pressed = now
			if ctx.Err() == nil {
				onChange(pressed)
			}
		}
	}
}
