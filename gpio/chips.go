package gpio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3/gpioioctl"
)

// Chip is one GPIO controller (a /dev/gpiochipN device) as the pin lookup
// sees it: its label and its lines by name. On a gate these are the kernel's
// chips as periph.io's gpioioctl driver opened them; tests use fakes.
type Chip interface {
	Label() string
	// Line returns the chip's line of that name, or nil when it has none.
	Line(name string) pgpio.PinIO
}

// ChipPins finds pins by line name on whichever chip has them, the chips
// tried in order. The header pins are lines GPIO0…GPIO27 of the SoC's pin
// controller on a Pi 3 or 4 (pinctrl-bcm2835, pinctrl-bcm2711) and of the
// RP1 chip on a Pi 5 (pinctrl-rp1), which is not the first chip there.
type ChipPins []Chip

// ByName returns the first line named name, or nil. Its signature is the
// byName of OpenPins and ConfigPins.
func (cs ChipPins) ByName(name string) pgpio.PinIO {
	for _, c := range cs {
		if p := c.Line(name); p != nil {
			return p
		}
	}
	return nil
}

// Labels lists the chips' labels, for errors naming where a pin was looked for.
func (cs ChipPins) Labels() string {
	ls := make([]string, len(cs))
	for i, c := range cs {
		ls[i] = c.Label()
	}
	return strings.Join(ls, ", ")
}

// ioctlChip is a kernel GPIO chip opened by periph.io's gpioioctl driver.
type ioctlChip struct{ c *gpioioctl.GPIOChip }

var _ Chip = ioctlChip{}

func (ic ioctlChip) Label() string { return ic.c.Label() }

func (ic ioctlChip) Line(name string) pgpio.PinIO {
	if l := ic.c.ByName(name); l != nil {
		return l
	}
	return nil // not a typed nil in the interface
}

// kernelChips returns the GPIO chips periph.io's gpioioctl driver opened
// (host.Init must have run), pin controllers first. None is an error saying
// why, from what /dev holds.
func kernelChips() (ChipPins, error) {
	var cs ChipPins
	for _, c := range gpioioctl.Chips {
		cs = append(cs, ioctlChip{c})
	}
	if len(cs) > 0 {
		return cs, nil
	}
	paths, _ := filepath.Glob("/dev/gpiochip*")
	var openErr error
	if len(paths) > 0 {
		f, err := os.Open(paths[0])
		if err == nil {
			f.Close()
		}
		openErr = err
	}
	return nil, NoChipError(paths, openErr)
}

// NoChipError is the error for a gate where no GPIO chip could be used:
// paths are the /dev/gpiochip* devices found (none on a machine that is not
// a Pi) and openErr why the first could not be opened. It says what to do.
func NoChipError(paths []string, openErr error) error {
	const try = `; to try the gate without GPIO, set gpio.driver = "terminal" (outputs printed) or "none"`
	if len(paths) == 0 {
		return errors.New("gpio: no GPIO chip found (no /dev/gpiochip*): this is not a Raspberry Pi, or its kernel has no GPIO driver" + try)
	}
	if errors.Is(openErr, fs.ErrPermission) {
		return fmt.Errorf("gpio: no GPIO chip could be opened (%w): the daemon's user must be in group gpio, "+
			"which must own /dev/gpiochip* (the image's udev rule 60-checkpoint-gpio.rules does that)"+try, openErr)
	}
	if openErr != nil {
		return fmt.Errorf("gpio: no GPIO chip could be opened (%w)"+try, openErr)
	}
	return fmt.Errorf("gpio: no GPIO chip could be read among %s"+try, strings.Join(paths, ", "))
}
