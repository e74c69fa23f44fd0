package gpio_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"

	"checkpoint"
	"checkpoint/gpio"
	"checkpoint/gpio/pintest"
)

const gateEnv = "CHECKPOINT_TEST_GATE"

func TestMain(m *testing.M) {
	if os.Getenv(gateEnv) != "" {
		os.Exit(gateProcess())
	}
	os.Exit(m.Run())
}

// printPin writes each level change of the pin it wraps to standard output.
type printPin struct {
	pgpio.PinIO
	name string
}

func (p printPin) Out(l pgpio.Level) error {
	fmt.Printf("%s %s\n", p.name, l)
	return p.PinIO.Out(l)
}

// gateProcess is a gate in miniature, wired as the daemon is: outputs on
// pins (printed as they change, the relay active-low), a pattern playing in
// a loop, and on SIGTERM the context ends and the Signal is closed.
func gateProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rec := pintest.NewRecorder(nil)
	pins := rec.Outputs(gpio.Relay)
	for i := range pins {
		pins[i].IO = printPin{pins[i].IO.(pgpio.PinIO), pins[i].Name}
	}
	ps, err := gpio.NewPins(pins)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	sig := gpio.New(ps, gpio.Options{})
	defer sig.Close()
	sig.Show(checkpoint.Green)
	sig.Sync()
	fmt.Println("playing")
	for {
		select {
		case <-ctx.Done():
			sig.Close()
			fmt.Println("closed")
			return 0
		case <-time.After(50 * time.Millisecond):
			sig.Show(checkpoint.Color(time.Now().UnixNano() % 3))
		}
	}
}

func TestSIGTERMDuringPatternLeavesOutputsSafe(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), gateEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	level := map[string]string{}
	sc := bufio.NewScanner(out)
	var lines []string
	for sc.Scan() {
		l := sc.Text()
		lines = append(lines, l)
		if l == "playing" {
			// Mid-pattern: the green light and the relay are on.
			if level["green"] != "High" || level["relay"] != "Low" {
				t.Fatalf("before SIGTERM: %v", level)
			}
			time.Sleep(120 * time.Millisecond) // let a few verdicts replace each other
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if f := strings.Fields(l); len(f) == 2 {
			level[f[0]] = f[1]
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gate process: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if len(lines) == 0 || lines[len(lines)-1] != "closed" {
		t.Fatalf("gate process did not close its outputs:\n%s", strings.Join(lines, "\n"))
	}
	want := map[string]string{"green": "Low", "yellow": "Low", "red": "Low", "buzzer": "Low", "relay": "High"}
	for pin, w := range want {
		if level[pin] != w {
			t.Errorf("after SIGTERM %s is %s, want %s (off)", pin, level[pin], w)
		}
	}
}
