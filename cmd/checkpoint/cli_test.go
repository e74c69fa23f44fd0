package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every command and verb answers --help and -h with its usage on standard
// output and exit 0; the top-level help lists every verb (issue 16 item 5).
func TestHelpEverywhere(t *testing.T) {
	bin := checkpointBinary(t)
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"-h"},
		{"run", "--help"}, {"demo", "-h"}, {"scan", "--help"}, {"cache", "--help"}, {"cache", "import", "-h"},
		{"sync", "--help"}, {"feed", "--help"}, {"feed", "-h"}, {"feed", "init", "--help"}, {"feed", "publish", "--help"},
		{"feed", "refresh", "-h"}, {"feed", "serve", "--help"}, {"events", "--help"}, {"events", "export", "--help"},
		{"selftest", "--help"}, {"provision", "--help"}, {"firstboot", "--help"}, {"version", "--help"},
		{"update", "--help"}, {"update", "install", "--help"}, {"update", "status", "-h"},
	} {
		cmd := exec.Command(bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "usage: checkpoint") {
			t.Errorf("checkpoint %s: %v, stdout %q, stderr %q; want usage on stdout and exit 0", strings.Join(args, " "), err, out, stderr.String())
		}
	}
	out, _ := exec.Command(bin, "help").Output()
	for _, verb := range []string{"feed init", "feed publish", "feed refresh", "feed serve", "cache import", "cache downgrade", "events export", "update install", "--firmware"} {
		if !strings.Contains(string(out), verb) {
			t.Errorf("top-level help lacks %q:\n%s", verb, out)
		}
	}
}

// exitOf runs the binary (killed after a minute: a guard against a hung
// test, not a timed assertion) and returns its exit status and stderr.
func exitOf(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, checkpointBinary(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// `run gate.toml` is refused instead of reading the default config, and a
// missing replay folder is a config error naming camera.path (items 6, 7).
func TestRunRefusesWhatItWouldIgnore(t *testing.T) {
	dir := t.TempDir()
	if code, errs := exitOf(t, "run", "gate.toml"); code != exitUsage || !strings.Contains(errs, "--config") {
		t.Errorf("run gate.toml: exit %d %q; want 2 pointing at --config", code, errs)
	}
	cfg := filepath.Join(dir, "gate.toml")
	os.WriteFile(cfg, []byte("[camera]\nsource = \"replay\"\npath = \""+filepath.Join(dir, "no-frames")+"\"\n[gpio]\ndriver = \"none\"\n[cache]\npath = \""+filepath.Join(dir, "c.db")+"\"\n[web]\nlisten = \"\"\n"), 0o600)
	if code, errs := exitOf(t, "run", "--config", cfg); code != exitConfig || !strings.Contains(errs, "camera.path") {
		t.Errorf("missing replay folder: exit %d %q; want 78 naming camera.path", code, errs)
	}
}

// The operator screen's port in use: run fails at start naming web.listen
// (item 8).
func TestRunFailsWhenTheScreenCannotListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	frames := writeFrames(t, filepath.Join(dir, "frames"), false, "")
	cfg := filepath.Join(dir, "gate.toml")
	os.WriteFile(cfg, []byte("[camera]\nsource = \"replay\"\nloop = true\npath = \""+frames+"\"\n[gpio]\ndriver = \"none\"\n[cache]\npath = \""+filepath.Join(dir, "c.db")+"\"\n[web]\nlisten = \""+ln.Addr().String()+"\"\n"), 0o600)
	start := time.Now()
	code, errs := exitOf(t, "run", "--config", cfg)
	if code != exitFail || !strings.Contains(errs, "web.listen") || !strings.Contains(errs, "already in use") {
		t.Errorf("exit %d after %v, stderr %q; want 1 naming web.listen", code, time.Since(start), errs)
	}
}
