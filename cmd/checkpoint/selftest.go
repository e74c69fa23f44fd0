package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/config"
	"checkpoint/gpio"
)

// selftestBudget bounds the whole selftest.
const selftestBudget = 10 * time.Second

// cmdSelftest checks a gate's hardware for a technician: each output in
// turn, the camera (frame rate, size, brightness, focus), and the cache's
// freshness. Exit 0 when nothing failed, 1 otherwise, 78 on a config error.
func cmdSelftest(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "selftest", "selftest [--config FILE]")
	path := fs.String("config", "", "config `FILE` (default: built-in defaults)")
	if err := noArgs(e, fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(e.stdout, "selftest", *path)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st := &selftest{
		out:        e.stdout,
		cfg:        cfg,
		log:        log,
		firstFrame: 5 * time.Second,
		capture:    3 * time.Second,
		pulse:      400 * time.Millisecond,
		openGPIO:   func() (*gpio.Signal, error) { return openGPIO(cfg.GPIO, e.stdout, log) },
		openCamera: func() (checkpoint.Source, error) { return openCamera(cfg.Camera, log) },
	}
	if code := st.run(ctx); code != exitOK {
		return exitStatus(code)
	}
	return nil
}

// selftest is one run of the checks; tests fill in their own openers.
type selftest struct {
	out        io.Writer
	cfg        config.Config
	log        *slog.Logger
	firstFrame time.Duration // how long the camera may take to start
	capture    time.Duration // how long frames are counted
	pulse      time.Duration // how long each output is on
	openGPIO   func() (*gpio.Signal, error)
	openCamera func() (checkpoint.Source, error)

	failed, passed, skipped int
}

// result prints one item's outcome: PASS, FAIL or SKIP.
func (t *selftest) result(status, item, detail string) {
	switch status {
	case "PASS":
		t.passed++
	case "FAIL":
		t.failed++
	default:
		t.skipped++
	}
	fmt.Fprintf(t.out, "%-4s  %-14s %s\n", status, item, detail)
}

func (t *selftest) run(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, selftestBudget)
	defer cancel()
	fmt.Fprintf(t.out, "checkpoint selftest: gate %s, outputs %s, camera %s\n", t.cfg.Gate, t.cfg.GPIO.Driver, t.cfg.Camera.Source)

	// The camera warms up and captures while the outputs cycle.
	camDone := make(chan func(), 1)
	go func() { camDone <- t.checkCamera(ctx) }()
	t.checkOutputs(ctx)
	select {
	case report := <-camDone:
		report()
	case <-ctx.Done():
		t.result("FAIL", "camera", "no answer within the selftest's time")
	}
	t.checkCache(ctx)

	if t.failed > 0 {
		fmt.Fprintf(t.out, "selftest: FAIL (%d of %d items failed)\n", t.failed, t.passed+t.failed+t.skipped)
		return exitFail
	}
	fmt.Fprintf(t.out, "selftest: PASS (%d items passed, %d skipped)\n", t.passed, t.skipped)
	return exitOK
}

// checkOutputs switches each output on for a moment, in order, naming it.
func (t *selftest) checkOutputs(ctx context.Context) {
	sig, err := t.openGPIO()
	if err != nil {
		t.result("FAIL", "outputs", err.Error())
		return
	}
	defer func() {
		if err := sig.Close(); err != nil {
			t.result("FAIL", "outputs", "return to safe state: "+err.Error())
		}
	}()
	pins := [gpio.NumOutputs]string{t.cfg.GPIO.Green, t.cfg.GPIO.Yellow, t.cfg.GPIO.Red, t.cfg.GPIO.Buzzer, t.cfg.GPIO.Relay}
	what := [gpio.NumOutputs]string{"green LED", "yellow LED", "red LED", "buzzer", "gate relay"}
	for o := gpio.Output(0); o < gpio.NumOutputs; o++ {
		item := "output " + o.String()
		where := t.cfg.GPIO.Driver
		switch t.cfg.GPIO.Driver {
		case "none":
			t.result("SKIP", item, "gpio.driver is none")
			continue
		case "periph":
			if pins[o] == "" {
				t.result("SKIP", item, "no pin configured (gpio."+o.String()+")")
				continue
			}
			where = "pin " + pins[o]
		}
		sig.Play(gpio.Pattern{Name: "test " + o.String(), Pulses: []gpio.Pulse{{Output: o, For: t.pulse}}})
		sig.Sync()
		onErr := sig.Err()
		if err := sig.Wait(ctx); err != nil {
			t.result("FAIL", item, "interrupted: "+err.Error())
			return
		}
		if onErr == nil {
			onErr = sig.Err()
		}
		if err := onErr; err != nil {
			t.result("FAIL", item, err.Error())
			continue
		}
		t.result("PASS", item, fmt.Sprintf("%s on for %s (%s)", what[o], t.pulse, where))
	}
}

// checkCamera opens the camera and counts frames for the capture time; it
// returns the printing of its result, so results keep their order.
func (t *selftest) checkCamera(ctx context.Context) func() {
	src, err := t.openCamera()
	if err != nil {
		return func() { t.result("FAIL", "camera", err.Error()) }
	}
	defer src.Close()
	// The capture starts with the first frame, so the camera's start-up
	// time does not count against its frame rate.
	fctx, fcancel := context.WithTimeout(ctx, t.firstFrame)
	f, err := src.Next(fctx)
	fcancel()
	if err != nil {
		if fctx.Err() != nil {
			err = fmt.Errorf("no frame within %s", t.firstFrame)
		}
		return func() { t.result("FAIL", "camera", err.Error()) }
	}
	first, last := f.Time, f.Time
	frames := 1
	cctx, cancel := context.WithTimeout(ctx, t.capture)
	defer cancel()
	var capErr error
	for {
		g, err := src.Next(cctx)
		if err != nil {
			if cctx.Err() == nil && !errors.Is(err, io.EOF) {
				capErr = err
			}
			break
		}
		f = g
		frames++
		last = g.Time
	}
	mean, sharp := camera.Measure(f)
	st := src.Stats()
	fps := 0.0
	if d := last.Sub(first); frames > 1 && d > 0 {
		fps = float64(frames-1) / d.Seconds()
	}
	var hint []string
	switch {
	case mean < 30:
		hint = append(hint, "too dark")
	case mean > 225:
		hint = append(hint, "too bright")
	}
	detail := fmt.Sprintf("%dx%d, %.1f fps (%d frames, %d dropped, %d restarts), brightness %.0f/255, sharpness %.1f (variance of the Laplacian: turn the focus for the highest)",
		f.Width, f.Height, fps, frames, st.Dropped, st.Restarts, mean, sharp)
	if len(hint) > 0 {
		detail += "; " + strings.Join(hint, ", ")
	}
	if capErr != nil {
		return func() { t.result("FAIL", "camera", detail+"; then: "+capErr.Error()) }
	}
	return func() { t.result("PASS", "camera", detail) }
}

// checkCache opens the status cache (checking its integrity) and reports
// how old its data is. A missing, corrupt, never updated or stale cache
// fails.
func (t *selftest) checkCache(ctx context.Context) {
	path := t.cfg.Cache.Path
	if _, err := os.Stat(path); err != nil {
		t.result("FAIL", "cache", fmt.Sprintf("no cache file: %v", err))
		return
	}
	db, err := cache.Open(ctx, path, cache.Options{MaxAge: t.cfg.Cache.MaxAge.D(), Logger: t.log})
	if err != nil {
		t.result("FAIL", "cache", err.Error())
		return
	}
	defer db.Close()
	now := checkpoint.FloorClock{Clock: checkpoint.SystemClock{}, Floor: db.FeedTime}.Now()
	var parts []string
	if ft := db.FeedTime(); ft.IsZero() {
		parts = append(parts, "no feed applied yet")
	} else {
		parts = append(parts, fmt.Sprintf("feed version %d, feed age %s", db.Version(), now.Sub(ft).Round(time.Second)))
	}
	if up := db.Updated(); up.IsZero() {
		parts = append(parts, "never updated")
	} else {
		parts = append(parts, fmt.Sprintf("last update %s ago (max_age %s)", now.Sub(up).Round(time.Second), db.MaxAge()))
	}
	detail := path + ": " + strings.Join(parts, ", ")
	if db.Stale(now) {
		t.result("FAIL", "cache", detail+"; stale: gates show the stale verdict")
		return
	}
	t.result("PASS", "cache", detail)
}
