package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFirstbootCommand(t *testing.T) {
	dir := t.TempDir()
	boot, etc := filepath.Join(dir, "boot"), filepath.Join(dir, "etc")
	if err := os.MkdirAll(boot, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "gate = \"east-1\"\n\n[web]\nlisten = \"0.0.0.0:8080\"\ntoken = \"first-boot-token\"\n"
	if err := os.WriteFile(filepath.Join(boot, "checkpoint.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, "firstboot", "--boot", boot, "--etc", etc, "--group", "")
	if code != 0 {
		t.Fatalf("firstboot: exit %d\n%s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(etc, "checkpoint.toml")); err != nil || string(b) != cfg {
		t.Errorf("installed config = %q, %v", b, err)
	}
	if !strings.Contains(stderr, "secrets removed") || strings.Contains(stderr, "first-boot-token") {
		t.Errorf("log should say secrets were removed, without the secret:\n%s", stderr)
	}
	// The next boot: nothing to import.
	code, _, stderr = runCmd(t, "firstboot", "--boot", boot, "--etc", etc, "--group", "")
	if code != 0 || !strings.Contains(stderr, "no config on the boot partition") {
		t.Errorf("second firstboot: exit %d\n%s", code, stderr)
	}

	// A refused file: exit 78 (EX_CONFIG), the reason in the log.
	if err := os.WriteFile(filepath.Join(boot, "checkpoint.toml"), []byte("gate = \"x\"\n[camera]\nfps = -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, "firstboot", "--boot", boot, "--etc", etc, "--group", "")
	if code != 78 || !strings.Contains(stderr, "checkpoint.toml:3: camera.fps: must be above 0") {
		t.Errorf("refused firstboot: exit %d, want 78 and the reason\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(etc, "checkpoint.toml")); string(b) != cfg {
		t.Error("a refused file replaced the installed config")
	}
}

func TestFirstbootUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"firstboot", "extra"}, exitUsage, "unexpected argument"},
		{[]string{"firstboot", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"firstboot", "--boot", dir, "--group", "no-such-group-checkpoint"}, exitFail, "group missing"},
		{[]string{"provision"}, exitUsage, "usage: checkpoint provision IMAGE"},
		{[]string{"provision", "card.img"}, exitUsage, "usage: checkpoint provision IMAGE"},
		{[]string{"provision", "a.img", "b.img", "--config", "x.toml"}, exitUsage, "usage"},
		{[]string{"provision", filepath.Join(dir, "none.img"), "--config", filepath.Join(dir, "none.toml")}, exitFail, "none.toml"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", tc.args, code, tc.code, tc.want, stderr)
		}
	}
}

// TestFirstbootFault holds the fault pattern (on the terminal driver) for a
// refused config until stopped, with the reason in the log.
func TestFirstbootFault(t *testing.T) {
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
	if err := os.WriteFile(filepath.Join(boot, "checkpoint.toml"), []byte("gate = \"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, e, []string{"firstboot", "--fault", "--boot", boot, "--etc", etc}) }()

	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a speed assertion
	for !strings.Contains(stdout.String(), "FAULT") {
		select {
		case code := <-done:
			t.Fatalf("firstboot --fault ended (exit %d) before showing the fault\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fault pattern shown\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "red blink") {
		t.Errorf("fault pattern is not the slow red blink:\n%s", stdout.String())
	}
	if want := "checkpoint.toml:1: gate: must be 1 to 64 characters"; !strings.Contains(stderr.String(), want) {
		t.Errorf("log lacks the reason %q:\n%s", want, stderr.String())
	}
	select {
	case code := <-done:
		t.Fatalf("firstboot --fault ended on its own (exit %d)", code)
	default:
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("firstboot --fault stopped with exit %d, want 0", code)
	}
}
