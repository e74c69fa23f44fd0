package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/config"
	"checkpoint/gpio"
	"checkpoint/gpio/pintest"
)

// selftestGate makes a replay camera directory and an up-to-date cache, and
// returns a config using them.
func selftestGate(t *testing.T) (dir string, cfg config.Config) {
	t.Helper()
	dir = t.TempDir()
	frames := filepath.Join(dir, "frames")
	os.Mkdir(frames, 0o755)
	for i := 0; i < 3; i++ {
		g := image.NewGray(image.Rect(0, 0, 64, 48))
		for j := range g.Pix {
			g.Pix[j] = byte(60 + 40*((j/4+j/(64*4))%2)) // 4-pixel checks
		}
		var b bytes.Buffer
		png.Encode(&b, g)
		os.WriteFile(filepath.Join(frames, fmt.Sprintf("%d.png", i)), b.Bytes(), 0o644)
	}
	db := filepath.Join(dir, "cache.db")
	d, err := cache.Open(context.Background(), db, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ImportCSV(context.Background(), strings.NewReader("qid,status,valid_until\nQ1,green,\n")); err != nil {
		t.Fatal(err)
	}
	d.Close()
	cfg = config.Default()
	cfg.Camera.Source, cfg.Camera.Path, cfg.Camera.FPS = "replay", frames, 240
	cfg.Cache.Path = db
	return dir, cfg
}

func TestSelftestCommand(t *testing.T) {
	dir, cfg := selftestGate(t)
	conf := filepath.Join(dir, "gate.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`gate = "east"
[camera]
source = "replay"
path = %q
fps = 240
[cache]
path = %q
[gpio]
driver = "terminal"
`, cfg.Camera.Path, cfg.Cache.Path)), 0o644)
	start := time.Now()
	code, out, errs := runCmd(t, "selftest", "--config", conf)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if d := time.Since(start); d > selftestBudget {
		t.Errorf("selftest took %s, more than its budget", d)
	}
	for _, want := range []string{
		"checkpoint selftest: gate east, outputs terminal, camera replay\n",
		"* TEST GREEN  green 400ms\nPASS  output green   green LED on for 400ms (terminal)\n",
		"* TEST RELAY  relay 400ms\nPASS  output relay   gate relay on for 400ms (terminal)\n",
		"PASS  camera         64x48, ",
		"brightness 80/255, sharpness ",
		"PASS  cache          " + cfg.Cache.Path + ": no feed applied yet, last update ",
		"selftest: PASS (7 items passed, 0 skipped)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSelftestFailsEachBrokenItem(t *testing.T) {
	dir, cfg := selftestGate(t)
	conf := filepath.Join(dir, "gate.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`[camera]
source = "replay"
path = %q
[cache]
path = %q
[gpio]
driver = "none"
`, filepath.Join(dir, "no-frames"), filepath.Join(dir, "no-cache.db"))), 0o644)
	code, out, _ := runCmd(t, "selftest", "--config", conf)
	if code != exitFail {
		t.Fatalf("exit %d, want %d\n%s", code, exitFail, out)
	}
	for _, want := range []string{
		"SKIP  output green   gpio.driver is none\n",
		"FAIL  camera         camera.path: stat " + filepath.Join(dir, "no-frames"),
		"FAIL  cache          no cache file: ",
		"selftest: FAIL (2 of 7 items failed)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "no-cache.db")); !os.IsNotExist(err) {
		t.Error("selftest created a cache file")
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[gpio]\ndriver = \"lpt\"\n"), 0o644)
	if code, _, errs := runCmd(t, "selftest", "--config", bad); code != config.ExitConfig || !strings.Contains(errs, "gpio.driver") {
		t.Errorf("bad config: exit %d %q", code, errs)
	}
	_ = cfg
}

// flakyPin claims fine but fails once driven high.
type flakyPin struct{ gpiotest.Pin }

func (p *flakyPin) Out(l pgpio.Level) error {
	if l == pgpio.High {
		return errors.New("short circuit")
	}
	return p.Pin.Out(l)
}

func TestSelftestCyclesEachPinInTurn(t *testing.T) {
	_, cfg := selftestGate(t)
	cfg.GPIO.Driver = "periph"
	rec := pintest.NewRecorder(nil)
	pins := rec.Outputs(gpio.Relay)
	pins[gpio.Yellow].IO = &flakyPin{}
	byName := map[string]gpio.Pin{}
	for _, p := range pins {
		byName[p.Name] = p
	}
	cfg.GPIO.Green, cfg.GPIO.Yellow, cfg.GPIO.Red, cfg.GPIO.Buzzer, cfg.GPIO.Relay = "green", "yellow", "red", "buzzer", "relay"
	cfg.GPIO.ActiveLow = []string{"relay"}
	var out bytes.Buffer
	st := &selftest{
		out: &out, cfg: cfg, firstFrame: 5 * time.Second, capture: 100 * time.Millisecond, pulse: 10 * time.Millisecond,
		openGPIO: func() (*gpio.Signal, error) {
			return gpio.OpenPins(gpioWiring(cfg.GPIO), func(n string) pgpio.PinIO {
				if p, ok := byName[n].IO.(pgpio.PinIO); ok {
					return p
				}
				return nil
			}, gpio.Options{})
		},
		openCamera: func() (checkpoint.Source, error) {
			return camera.NewReplay([]string{cfg.Camera.Path}, camera.ReplayOptions{})
		},
	}
	if code := st.run(context.Background()); code != exitFail {
		t.Fatalf("exit %d with a broken yellow pin\n%s", code, out.String())
	}
	var got []string
	for _, tr := range rec.Transitions() {
		got = append(got, tr.Pin+" "+tr.Level.String())
	}
	want := "relay High,green High,green Low,red High,red Low,buzzer High,buzzer Low,relay Low,relay High"
	if strings.Join(got, ",") != want {
		t.Errorf("pin transitions %v, want %s", got, want)
	}
	for _, line := range []string{
		"PASS  output green   green LED on for 10ms (pin green)\n",
		"FAIL  output yellow  gpio yellow: set pin yellow: short circuit\nPASS  output red",
		"PASS  output relay   gate relay on for 10ms (pin relay)\n",
		"PASS  camera         64x48",
		"PASS  cache",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}
