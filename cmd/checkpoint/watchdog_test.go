package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/notify/notifytest"
)

// buildDaemon builds this command into a temporary directory.
func buildDaemon(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "checkpoint")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// fakeCamera is an rpicam-vid stand-in: it waits for the test's go-ahead,
// sends frames for a while, then stalls without exiting, as a hung camera.
const fakeCamera = `#!/bin/sh
dir=%DIR%
: > "$dir/started"
while [ ! -e "$dir/go" ]; do sleep 0.02; done
i=0
while [ $i -lt 40 ]; do cat "$dir/frame.yuv"; sleep 0.025; i=$((i+1)); done
: > "$dir/stalled"
exec sleep 3600
`

// TestDaemonWatchdog runs the real daemon under a fake systemd notification
// socket: READY=1 comes only after the camera's first frame, WATCHDOG=1
// pings come while frames flow, and they stop when the camera stalls, so
// systemd's watchdog would restart the daemon.
func TestDaemonWatchdog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildDaemon(t)
	dir := t.TempDir()
	const w, h = 64, 48 // one I420 frame: stride 64, 64*48*3/2 bytes
	if err := os.WriteFile(filepath.Join(dir, "frame.yuv"), bytes.Repeat([]byte{0x80}, w*h*3/2), 0o644); err != nil {
		t.Fatal(err)
	}
	cam := filepath.Join(dir, "rpicam-vid")
	if err := os.WriteFile(cam, []byte(strings.ReplaceAll(fakeCamera, "%DIR%", dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "checkpoint.toml")
	if err := os.WriteFile(cfg, []byte(`gate = "watchdog-test"
[camera]
source = "rpicam"
command = "`+cam+`"
width = 64
height = 48
fps = 30
[cache]
path = "`+filepath.Join(dir, "cache.db")+`"
[gpio]
driver = "none"
[web]
listen = ""
`), 0o644); err != nil {
		t.Fatal(err)
	}

	sock := notifytest.Listen(t)
	const watchdog = 200 * time.Millisecond
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.Path, "WATCHDOG_USEC=200000")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	// Guards against a hang only; none of these is a speed assertion.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("daemon exited (%v) while waiting for %s", err, what)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s", what)
			}
		}
	}

	// The camera runs but has sent nothing: not ready, no ping.
	waitFor("camera start", func() bool { return exists("started") })
	early, err := sock.Pending()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range early {
		if m == "READY=1" || m == "WATCHDOG=1" {
			t.Fatalf("%s sent before the camera's first frame (all: %q)", m, early)
		}
	}

	// Frames flow: READY=1, then pings.
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ready, flowing := false, 0
	for !exists("stalled") {
		m, err := sock.Next(100 * time.Millisecond)
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		switch m {
		case "READY=1":
			ready = true
		case "WATCHDOG=1":
			flowing++
		}
	}
	if !ready {
		// The last frames may still be in flight: READY=1 must come soon.
		waitFor("READY=1", func() bool {
			m, err := sock.Next(100 * time.Millisecond)
			return err == nil && m == "READY=1"
		})
	}
	if flowing < 2 {
		t.Errorf("%d watchdog pings while frames flowed for about a second, want several", flowing)
	}

	// The camera stalls: after the frames in flight, no ping for five
	// watchdog intervals; systemd would restart the daemon.
	time.Sleep(3 * watchdog)
	if _, err := sock.Pending(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * watchdog)
	late, err := sock.Pending()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range late {
		if m == "WATCHDOG=1" {
			t.Fatalf("watchdog pinged while the camera stalled (%q)", late)
		}
	}

	// SIGTERM: a clean stop.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("daemon after SIGTERM: %v", err)
	}
	exited <- nil
	if msgs, _ := sock.Pending(); !slices.Contains(msgs, "STOPPING=1") {
		t.Errorf("no STOPPING=1 on SIGTERM (got %q)", msgs)
	}
}
