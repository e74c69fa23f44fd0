package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// On a machine without GPIO chips (not a Pi), gpio.driver = "periph" says
// so and what to do, instead of calling GPIO17 a wrong pin name.
func TestRunWithoutGPIOChip(t *testing.T) {
	if chips, _ := filepath.Glob("/dev/gpiochip*"); len(chips) > 0 {
		t.Skipf("this machine has GPIO chips (%v)", chips)
	}
	dir := t.TempDir()
	frames := writeFrames(t, filepath.Join(dir, "frames"), false, "")
	cfg := writeConfig(t, site{Frames: frames, FPS: 30, Cache: filepath.Join(dir, "c.db"), GPIO: "periph"})
	for _, args := range [][]string{{"run", "--config", cfg}, {"firstboot", "--fault", "--boot", dir, "--etc", dir}} {
		code, _, stderr := runCmd(t, args...)
		for _, want := range []string{"no GPIO chip found", "not a Raspberry Pi", "gpio.driver", "terminal"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: exit %d, stderr lacks %q:\n%s", args, code, want, stderr)
			}
		}
		if strings.Contains(stderr, "not found (pins are BCM names") {
			t.Errorf("%v: no chip reported as a wrong pin name:\n%s", args, stderr)
		}
		if code == exitOK {
			t.Errorf("%v: exit 0 without outputs", args)
		}
	}
}
