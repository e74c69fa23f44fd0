package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A daemon that cannot start exits exitStartup (75), which
// checkpoint.service does not restart: the unit fails and OnFailure= starts
// checkpoint-fault.service (make test-boot shows that under systemd). Before,
// it exited 1 and systemd restarted it every 3 s with the gate dark.
func TestDaemonStartFailureExitsStartup(t *testing.T) {
	dir := t.TempDir()
	frames := writeFrames(t, filepath.Join(dir, "frames"), false, "")
	notDir := filepath.Join(dir, "a-file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	noCache := site{Frames: frames, FPS: 30, Cache: filepath.Join(notDir, "cache.db")}.toml()
	// The rpicam camera with rpicam-apps missing.
	noCamera := strings.Replace(site{Frames: frames, FPS: 30, Cache: filepath.Join(dir, "c.db")}.toml(),
		`source = "replay"`, "source = \"rpicam\"\ncommand = \"no-such-rpicam-vid\"", 1)
	for _, tc := range []struct{ name, cfg, want string }{
		{"cache cannot be opened", noCache, "a-file"},
		{"no camera program", noCamera, "no-such-rpicam-vid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "site.toml")
			if err := os.WriteFile(p, []byte(tc.cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runCmd(t, "run", "--config", p)
			if code != exitStartup || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d naming %q\n%s", code, exitStartup, tc.want, stderr)
			}
		})
	}
}

// checkpoint-fault.service started by OnFailure= after the daemon could not
// start holds the fault pattern for --retry, then exits 75 so that its
// ExecStopPost= starts the daemon again. After a config error, or when
// started by hand, it holds until stopped.
func TestFirstbootFaultRetriesAfterStartFailure(t *testing.T) {
	dir := t.TempDir()
	boot, etc := filepath.Join(dir, "boot"), filepath.Join(dir, "etc")
	for _, d := range []string{boot, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(etc, "checkpoint.toml"), []byte("[gpio]\ndriver = \"terminal\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	run := func(envs map[string]string, hold time.Duration) (int, bool, string, string) {
		var stdout, stderr syncBuffer
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return envs[k] }}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan int, 1)
		go func() {
			done <- dispatch(ctx, e, []string{"firstboot", "--fault", "--retry", "200ms", "--boot", boot, "--etc", etc})
		}()
		select {
		case code := <-done:
			return code, true, stdout.String(), stderr.String()
		case <-time.After(hold):
		}
		cancel()
		select {
		case code := <-done:
			return code, false, stdout.String(), stderr.String()
		case <-time.After(30 * time.Second): // a hang guard
			t.Fatal("firstboot --fault did not stop")
			return 0, false, "", ""
		}
	}
	startFailed := map[string]string{"MONITOR_UNIT": "checkpoint.service", "MONITOR_SERVICE_RESULT": "exit-code",
		"MONITOR_EXIT_CODE": "exited", "MONITOR_EXIT_STATUS": "75"}
	code, own, stdout, stderr := run(startFailed, 30*time.Second)
	if !own || code != exitStartup {
		t.Fatalf("after a start failure: exit %d (on its own: %v), want %d after the retry\n%s", code, own, exitStartup, stderr)
	}
	if !strings.Contains(stdout, "FAULT") || !strings.Contains(stderr, "could not start") || !strings.Contains(stderr, "retry_in=200ms") {
		t.Errorf("no fault pattern or reason before the retry:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}

	for name, envs := range map[string]map[string]string{
		"config error (78)": {"MONITOR_UNIT": "checkpoint.service", "MONITOR_EXIT_STATUS": "78"},
		"firstboot refused": {"MONITOR_UNIT": "checkpoint-firstboot.service", "MONITOR_EXIT_STATUS": "75"},
		"started by hand":   nil,
		"crash after ready": {"MONITOR_UNIT": "checkpoint.service", "MONITOR_EXIT_STATUS": "1"},
	} {
		code, own, stdout, _ := run(envs, time.Second)
		if own || code != exitOK || !strings.Contains(stdout, "FAULT") {
			t.Errorf("%s: exit %d (on its own: %v), want the pattern held until stopped, then 0\n%s", name, code, own, stdout)
		}
	}
}
