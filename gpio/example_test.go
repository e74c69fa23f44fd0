package gpio_test

import (
	"os"

	"checkpoint"
	"checkpoint/gpio"
)

// The terminal driver stands in for the LEDs, buzzer and relay: each verdict
// prints the pattern it plays. On a Pi, gpio.Open("periph", gpio.DefaultWiring(), ...)
// drives the pins instead.
func ExampleOpen() {
	sig, err := gpio.Open("terminal", gpio.Wiring{}, os.Stdout, nil)
	if err != nil {
		panic(err)
	}
	defer sig.Close() // every output back to its safe state: relay released
	sig.Sync()
	sig.Show(checkpoint.Green)
	sig.Sync()
	// Output: ✓ GREEN  green 1.5s, beep 100ms, relay 1s
}
