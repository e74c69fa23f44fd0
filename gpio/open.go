package gpio

import (
	"fmt"
	"io"
	"log/slog"
	"slices"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3"

	"checkpoint/config"
)

// Open builds the Signal the config asks for: gpio.driver "periph" (real
// pins: lines of the kernel's GPIO chips found by name on whichever chip has
// them, through periph.io), "terminal" (lines on w) or "none". With a button configured (periph only), a debounced press pulses
// the relay.
func Open(cfg config.GPIO, w io.Writer, log *slog.Logger) (*Signal, error) {
	switch cfg.Driver {
	case "periph":
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("gpio: initialise periph.io host drivers: %w", err)
		}
		chips, err := kernelChips()
		if err != nil {
			return nil, err
		}
		if log != nil {
			log.Debug("gpio chips", "chips", chips.Labels())
		}
		return OpenPins(cfg, chips.ByName, Options{Logger: log})
	case "terminal":
		return New(NewTerminal(w, ColorEnabled(w, nil)), Options{Logger: log}), nil
	case "none", "":
		return New(None{}, Options{Logger: log}), nil
	}
	return nil, fmt.Errorf("gpio.driver: %q is not periph, terminal or none", cfg.Driver)
}

// OpenPins claims the configured pins through byName (gpioreg.ByName on a
// gate; a map of gpiotest pins in tests) and starts a Signal on them,
// watching the button when one is configured.
func OpenPins(cfg config.GPIO, byName func(string) pgpio.PinIO, opts Options) (*Signal, error) {
	pins, err := ConfigPins(cfg, byName)
	if err != nil {
		return nil, err
	}
	ps, err := NewPins(pins)
	if err != nil {
		return nil, err
	}
	s := New(ps, opts)
	if cfg.Button != "" {
		in := byName(cfg.Button)
		if in == nil {
			s.Close()
			return nil, fmt.Errorf("gpio.button: pin %s not found", cfg.Button)
		}
		b := Button{Name: cfg.Button, IO: in, ActiveLow: cfg.ButtonActiveLow, Debounce: cfg.Debounce.D()}
		if err := s.WatchButton(b, func(pressed bool) {
			if pressed {
				s.Open()
			}
		}); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ConfigPins looks up the configured output pins by name. A pin that does
// not exist is an error naming its key and pin.
func ConfigPins(cfg config.GPIO, byName func(string) pgpio.PinIO) ([]Pin, error) {
	names := [NumOutputs]string{cfg.Green, cfg.Yellow, cfg.Red, cfg.Buzzer, cfg.Relay}
	for _, n := range cfg.ActiveLow {
		if _, err := ParseOutput(n); err != nil {
			return nil, fmt.Errorf("gpio.active_low: %w", err)
		}
	}
	var pins []Pin
	for o := Output(0); o < NumOutputs; o++ {
		name := names[o]
		if name == "" {
			continue
		}
		pin := byName(name)
		if pin == nil {
			return nil, fmt.Errorf("gpio.%s: pin %s not found (pins are BCM names such as GPIO17)", o, name)
		}
		pins = append(pins, Pin{Output: o, Name: name, IO: pin, ActiveLow: slices.Contains(cfg.ActiveLow, o.String())})
	}
	return pins, nil
}
