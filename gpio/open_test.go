package gpio_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"checkpoint"
	"checkpoint/gpio"
	"checkpoint/gpio/pintest"
)

func TestOpenPinsFromConfigThroughGpioreg(t *testing.T) {
	// Pins registered in periph's registry under test-only names, looked up
	// by name exactly as on a gate.
	names := []string{"TGPIO17", "TGPIO27", "TGPIO22", "TGPIO23", "TGPIO24"}
	raw := map[string]*gpiotest.Pin{}
	for i, n := range names {
		p := &gpiotest.Pin{N: n, Num: 100 + i}
		raw[n] = p
		if err := gpioreg.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, n := range names {
			gpioreg.Unregister(n)
		}
	})
	cfg := gpio.DefaultWiring()
	cfg.Green, cfg.Yellow, cfg.Red, cfg.Buzzer, cfg.Relay = names[0], names[1], names[2], names[3], names[4]
	cfg.ActiveLow = []string{"relay"}
	clk := pintest.NewClock()
	sig, err := gpio.OpenPins(cfg, gpioreg.ByName, gpio.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if raw["TGPIO24"].Read() != pgpio.High {
		t.Fatal("active-low relay not released (high) after claiming")
	}
	sig.Show(checkpoint.Green)
	sig.Sync()
	if raw["TGPIO17"].Read() != pgpio.High || raw["TGPIO24"].Read() != pgpio.Low || raw["TGPIO23"].Read() != pgpio.High {
		t.Fatal("green verdict did not light green, sound the buzzer and pull the active-low relay")
	}
	sig.Close()
	for n, p := range raw {
		want := pgpio.Low
		if n == "TGPIO24" {
			want = pgpio.High
		}
		if p.Read() != want {
			t.Errorf("%s = %s after Close, want %s", n, p.Read(), want)
		}
	}
}

func TestWiringErrors(t *testing.T) {
	pins := map[string]pgpio.PinIO{"GPIO17": &gpiotest.Pin{N: "GPIO17"}}
	byName := func(n string) pgpio.PinIO { return pins[n] }
	cfg := gpio.Wiring{Green: "GPIO17", Relay: "GPIO99"}
	_, err := gpio.OpenPins(cfg, byName, gpio.Options{})
	if err == nil || err.Error() != "gpio.relay: pin GPIO99 not found (pins are BCM names such as GPIO17)" {
		t.Fatalf("missing relay pin: %v", err)
	}
	cfg = gpio.Wiring{Green: "GPIO17", Button: "GPIO5"}
	if _, err := gpio.OpenPins(cfg, byName, gpio.Options{}); err == nil || !strings.Contains(err.Error(), "gpio.button: pin GPIO5 not found") {
		t.Fatalf("missing button pin: %v", err)
	}
	cfg = gpio.Wiring{Green: "GPIO17", ActiveLow: []string{"door"}}
	if _, err := gpio.OpenPins(cfg, byName, gpio.Options{}); err == nil || !strings.Contains(err.Error(), `gpio.active_low: unknown output "door"`) {
		t.Fatalf("bad active_low: %v", err)
	}
}

func TestOpenDrivers(t *testing.T) {
	var buf bytes.Buffer
	for _, d := range []string{"terminal", "none"} {
		sig, err := gpio.Open(d, gpio.Wiring{}, &buf, nil)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		sig.Show(checkpoint.Yellow)
		sig.Sync()
		sig.Close()
	}
	if got := buf.String(); got != "! YELLOW  yellow 1.5s, beep 100ms, beep 100ms\n" {
		t.Fatalf("terminal wrote %q", got)
	}
	if _, err := gpio.Open("lpt", gpio.Wiring{}, &buf, nil); err == nil || !strings.Contains(err.Error(), `"lpt"`) {
		t.Fatalf("unknown driver: %v", err)
	}
}

func TestTerminalLines(t *testing.T) {
	var buf bytes.Buffer
	sig := gpio.New(gpio.NewTerminal(&buf, false), gpio.Options{Clock: pintest.NewClock()})
	for _, c := range []checkpoint.Color{checkpoint.Green, checkpoint.Yellow, checkpoint.Red} {
		sig.Show(c)
		sig.Sync()
	}
	sig.Idle(checkpoint.IdleStale)
	sig.Sync()
	sig.Idle(checkpoint.IdleFault)
	sig.Sync()
	sig.Idle(checkpoint.IdleReady)
	sig.Sync()
	sig.Close()
	want := strings.Join([]string{
		"✓ GREEN  green 1.5s, beep 100ms, relay 1s",
		"! YELLOW  yellow 1.5s, beep 100ms, beep 100ms",
		"✗ RED  red 2s, beep 600ms",
		"! STALE  yellow blink 1s/2s",
		"✗ FAULT  red blink 1s/2s",
		"· READY",
	}, "\n") + "\n"
	if buf.String() != want {
		t.Fatalf("terminal:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	col := gpio.New(gpio.NewTerminal(&buf, true), gpio.Options{Clock: pintest.NewClock()})
	col.Show(checkpoint.Red)
	col.Sync()
	col.Close()
	if got := buf.String(); got != "\x1b[1;31m✗ RED  red 2s, beep 600ms\x1b[0m\n" {
		t.Fatalf("coloured line %q", got)
	}
}

func TestColorEnabled(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	var buf bytes.Buffer
	if gpio.ColorEnabled(&buf, env()) {
		t.Error("colour on for a buffer")
	}
	if gpio.ColorEnabled(nil, env("NO_COLOR", "1")) {
		t.Error("colour on with NO_COLOR")
	}
}

func TestButtonDebouncedPulsesRelay(t *testing.T) {
	clk := pintest.NewClock()
	rec := pintest.NewRecorder(clk)
	pins, err := gpio.NewPins(rec.Outputs())
	if err != nil {
		t.Fatal(err)
	}
	sig := gpio.New(pins, gpio.Options{Clock: clk})
	defer sig.Close()
	btn := &gpiotest.Pin{N: "GPIO5", EdgesChan: make(chan pgpio.Level, 32)}
	events := make(chan bool, 8)
	err = sig.WatchButton(gpio.Button{Name: "GPIO5", IO: btn, ActiveLow: true, Debounce: 20 * time.Millisecond}, func(pressed bool) {
		if pressed {
			sig.Open()
		}
		events <- pressed
	})
	if err != nil {
		t.Fatal(err)
	}
	if btn.Read() != pgpio.High || btn.Pull() != pgpio.PullUp {
		t.Fatal("active-low button not pulled up")
	}
	// A press that bounces four times, then holds: one press.
	for _, l := range []pgpio.Level{pgpio.Low, pgpio.High, pgpio.Low, pgpio.High, pgpio.Low} {
		btn.EdgesChan <- l
	}
	if !recv(t, events) {
		t.Fatal("first event is a release")
	}
	sig.Sync()
	if !sig.State().Has(gpio.Relay) {
		t.Fatal("press did not pull the relay")
	}
	clk.Advance(2*time.Second, sig.Sync)
	// A release that bounces: one release, no press.
	for _, l := range []pgpio.Level{pgpio.High, pgpio.Low, pgpio.High} {
		btn.EdgesChan <- l
	}
	if recv(t, events) {
		t.Fatal("release seen as a press")
	}
	// A bounce that settles released again changes nothing; then a clean press.
	btn.EdgesChan <- pgpio.High
	btn.EdgesChan <- pgpio.Low
	if !recv(t, events) {
		t.Fatal("second press not seen")
	}
	clk.Advance(2*time.Second, sig.Sync)
	select {
	case e := <-events:
		t.Fatalf("unexpected event %v", e)
	default:
	}
	var pulses []string
	for _, tr := range rec.Transitions() {
		if tr.Pin == "relay" {
			pulses = append(pulses, tr.String())
		}
	}
	want := "0s relay High,1s relay Low,2s relay High,3s relay Low"
	if strings.Join(pulses, ",") != want {
		t.Fatalf("relay %v, want %s", pulses, want)
	}
}

// recv takes the next button event, failing the test if none comes.
func recv(t *testing.T, ch chan bool) bool {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no button event")
		return false
	}
}
