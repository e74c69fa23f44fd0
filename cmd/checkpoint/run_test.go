package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"checkpoint/config"
)

// TestDemoCommand runs `checkpoint demo` in-process, as `make demo` does but
// without pacing, and reads the verdicts it prints.
func TestDemoCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCmd(t, "demo", "--listen", "", "--dir", dir, "--fps", "0", "--budget", "0")
	if code != exitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errs)
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^\s+frame\s+\d+\s+(GREEN|YELLOW|RED)\s`).FindAllStringSubmatch(out, -1) {
		got = append(got, m[1])
	}
	if want := "GREEN YELLOW RED YELLOW YELLOW RED"; strings.Join(got, " ") != want {
		t.Errorf("verdicts %v, want %s\n%s", got, want, out)
	}
	for _, s := range []string{"✓ GREEN", "! YELLOW", "✗ RED", "frames 92 (dropped 0)", "latency p50"} {
		if !strings.Contains(out, s) {
			t.Errorf("demo output lacks %q:\n%s", s, out)
		}
	}
	// A second run reuses the frames and rebuilds the cache.
	if code, out, errs := runCmd(t, "demo", "--listen", "", "--dir", dir, "--fps", "0", "--budget", "0"); code != exitOK || !strings.Contains(out, "verdicts green 1 yellow 3 red 2") {
		t.Errorf("second demo run: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestRunConfigError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "site.toml")
	os.WriteFile(p, []byte("gate = \"g\"\n[camera]\nsource = \"webcam\"\n"), 0o600)
	code, _, errs := runCmd(t, "run", "--config", p)
	if code != config.ExitConfig {
		t.Errorf("exit %d, want %d", code, config.ExitConfig)
	}
	if !strings.Contains(errs, p+":3: camera.source") {
		t.Errorf("error does not name file, line and key: %q", errs)
	}
	if code, _, _ := runCmd(t, "run", "--config", filepath.Join(dir, "missing.toml")); code != config.ExitConfig {
		t.Errorf("missing config: exit %d, want %d", code, config.ExitConfig)
	}
}
