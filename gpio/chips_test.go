package gpio_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	pgpio "periph.io/x/conn/v3/gpio"

	"checkpoint"
	"checkpoint/gpio"
	"checkpoint/gpio/pintest"
)

// headerLines are the names the Pi's kernels give the header pins.
func headerLines() []string {
	var ns []string
	for i := range 28 {
		ns = append(ns, fmt.Sprintf("GPIO%d", i))
	}
	return ns
}

// A Pi 5: the SoC's own chip (no header pins) comes first, the RP1 chip with
// GPIO0…GPIO27 second. Every configured pin is found and driven on RP1.
func TestChipPinsFindsPinsOnTheSecondChip(t *testing.T) {
	soc := pintest.NewChip("gpio-brcmstb@107d508500", "-", "2712_BOOT_CS_N", "2712_WAKE", "PWR_GPIO")
	rp1 := pintest.NewChip("pinctrl-rp1", append(headerLines(), "PCIE_RP1_WAKE", "FAN_PWM")...)
	chips := gpio.ChipPins{soc, rp1}
	cfg := gpio.DefaultWiring()
	cfg.Button, cfg.ButtonActiveLow = "GPIO25", true
	sig, err := gpio.OpenPins(cfg, chips.ByName, gpio.Options{Clock: pintest.NewClock()})
	if err != nil {
		t.Fatal(err)
	}
	sig.Show(checkpoint.Green)
	sig.Sync()
	if rp1.Lines["GPIO17"].Read() != pgpio.High || rp1.Lines["GPIO24"].Read() != pgpio.High {
		t.Fatal("green verdict: GPIO17 and the relay on GPIO24 of the RP1 chip not driven high")
	}
	if p := rp1.Lines["GPIO25"]; p.Pull() != pgpio.PullUp {
		t.Fatalf("button GPIO25 on RP1 not set up as a pulled-up input (pull %s)", p.Pull())
	}
	sig.Close()
	for _, n := range []string{"GPIO17", "GPIO27", "GPIO22", "GPIO23", "GPIO24"} {
		if rp1.Lines[n].Read() != pgpio.Low {
			t.Errorf("%s left high after Close", n)
		}
	}
	if got := chips.Labels(); got != "gpio-brcmstb@107d508500, pinctrl-rp1" {
		t.Errorf("Labels() = %q", got)
	}
}

func TestChipPinsByName(t *testing.T) {
	first := pintest.NewChip("pinctrl-bcm2835", "GPIO17", "GPIO22")
	second := pintest.NewChip("raspberrypi-exp-gpio", "GPIO17", "STATUS_LED")
	chips := gpio.ChipPins{first, second}
	for _, tc := range []struct {
		name string
		want pgpio.PinIO // nil: not found
	}{
		{"GPIO17", first.Lines["GPIO17"]}, // on both: the first chip's
		{"GPIO22", first.Lines["GPIO22"]},
		{"STATUS_LED", second.Lines["STATUS_LED"]},
		{"GPIO99", nil},
		{"", nil},
	} {
		got := chips.ByName(tc.name)
		if got != tc.want {
			t.Errorf("ByName(%q) = %v, want %v", tc.name, got, tc.want)
		}
		if tc.want == nil && got != nil {
			t.Errorf("ByName(%q): a non-nil interface for a missing line", tc.name)
		}
	}
	if p := (gpio.ChipPins{}).ByName("GPIO17"); p != nil {
		t.Errorf("no chips: ByName = %v", p)
	}
}

func TestNoChipError(t *testing.T) {
	perm := &fs.PathError{Op: "open", Path: "/dev/gpiochip0", Err: fs.ErrPermission}
	for _, tc := range []struct {
		name    string
		paths   []string
		openErr error
		want    []string
	}{
		{"no device", nil, nil, []string{"no GPIO chip found", "not a Raspberry Pi", `gpio.driver = "terminal"`}},
		{"no permission", []string{"/dev/gpiochip0"}, perm, []string{"no GPIO chip could be opened", "permission denied",
			"group gpio", `gpio.driver = "terminal"`}},
		{"other", []string{"/dev/gpiochip0"}, errors.New("no such device"), []string{"no such device", `gpio.driver = "terminal"`}},
		{"unreadable", []string{"/dev/gpiochip0", "/dev/gpiochip1"}, nil, []string{"/dev/gpiochip0, /dev/gpiochip1", `"terminal"`}},
	} {
		err := gpio.NoChipError(tc.paths, tc.openErr)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want it to say %q", tc.name, err, w)
			}
		}
		if err != nil && strings.Contains(err.Error(), "not found (pins are BCM names") {
			t.Errorf("%s: reported as a wrong pin name: %v", tc.name, err)
		}
	}
	if err := gpio.NoChipError([]string{"/dev/gpiochip0"}, perm); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("the open error is not wrapped: %v", err)
	}
}
