package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// idleCamera is an rpicam-vid stand-in streaming one grey 1280x720 I420
// frame at 15 fps until killed: a camera watching an empty gate.
const idleCamera = `#!/bin/sh
while :; do cat %FRAME%; sleep 0.066; done
`

// cpuTime is the user and system time a process has used, from
// /proc/PID/stat (clock ticks of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// BenchmarkIdleCPU measures the CPU time the daemon (the checkpoint
// process alone, not the camera child) uses per minute at an empty gate:
// the camera running all along, and in trigger mode between presses (the
// camera stopped). $CHECKPOINT_IDLE_WINDOW sets the measured time (default
// 30s). Run with `make bench-idle` (under the heavy-job lock).
func BenchmarkIdleCPU(b *testing.B) {
	window := 30 * time.Second
	if s := os.Getenv("CHECKPOINT_IDLE_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("CHECKPOINT_IDLE_WINDOW=%q: %v", s, err)
		}
		window = d
	}
	bin := checkpointBinary(b)
	dir := b.TempDir()
	frame := filepath.Join(dir, "frame.yuv")
	if err := os.WriteFile(frame, bytes.Repeat([]byte{0x80}, 1280*720*3/2), 0o644); err != nil {
		b.Fatal(err)
	}
	cam := filepath.Join(dir, "rpicam-vid")
	if err := os.WriteFile(cam, []byte(strings.ReplaceAll(idleCamera, "%FRAME%", frame)), 0o755); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct{ name, extra string }{
		{"camera-on", ""},
		{"trigger", "trigger = \"keypad\"\n"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			cfg := filepath.Join(b.TempDir(), "gate.toml")
			text := fmt.Sprintf("gate = \"idle\"\n[camera]\nsource = \"rpicam\"\ncommand = %q\nwidth = 1280\nheight = 720\nfps = 15\n%s"+
				"[cache]\npath = %q\n[gpio]\ndriver = \"none\"\n[web]\nlisten = \"\"\n[keypad]\ndevice = \"/dev/input/by-id/absent-keypad-event-kbd\"\n",
				cam, mode.extra, filepath.Join(b.TempDir(), "cache.db"))
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				perMinute := idleRun(b, bin, cfg, window)
				b.ReportMetric(float64(perMinute.Milliseconds()), "cpu-ms/idle-min")
			}
		})
	}
}

// idleRun runs the daemon, lets it settle, and returns its CPU time over
// window scaled to one minute.
func idleRun(b *testing.B, bin, cfg string, window time.Duration) time.Duration {
	b.Helper()
	var logs syncBuffer
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	b.ResetTimer()
	time.Sleep(5 * time.Second) // start-up: cache, first frames
	t0, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		b.Fatalf("%v\n%s", err, logs.String())
	}
	time.Sleep(window)
	t1, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		b.Fatalf("%v\n%s", err, logs.String())
	}
	b.StopTimer()
	return time.Duration(float64(t1-t0) * float64(time.Minute) / float64(window))
}
