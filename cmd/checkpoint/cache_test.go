package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"checkpoint"
	"checkpoint/cache"
)

// runCmd runs one subcommand in-process and returns its exit status and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := dispatch(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestCacheImportCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cache.db")
	good := filepath.Join(dir, "good.csv")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(good, []byte("qid,status,valid_until\nQ1,green,2099-01-01\nQ2,red,\n"), 0o600)
	os.WriteFile(bad, []byte("Q3,green,\nQ4,purple,\n"), 0o600)

	code, out, errs := runCmd(t, "cache", "import", "--csv", good, "--db", db)
	if code != exitOK || !strings.Contains(out, "imported 2 rows") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	code, _, errs = runCmd(t, "cache", "import", "--csv", bad, "--db", db)
	if code != exitFail || !strings.Contains(errs, "line 2: status") {
		t.Fatalf("bad import: %d %q", code, errs)
	}
	code, _, _ = runCmd(t, "cache", "import", "--db", db)
	if code != exitUsage {
		t.Errorf("missing --csv: exit %d", code)
	}
	code, _, _ = runCmd(t, "cache", "frobnicate")
	if code != exitUsage {
		t.Errorf("unknown verb: exit %d", code)
	}
	cfg := filepath.Join(dir, "bad.toml")
	os.WriteFile(cfg, []byte("[cache]\nmax_age = \"soon\"\n"), 0o600)
	code, _, errs = runCmd(t, "cache", "import", "--csv", good, "--config", cfg)
	if code != 78 || !strings.Contains(errs, "cache.max_age") {
		t.Errorf("bad config: %d %q", code, errs)
	}

	d, err := cache.Open(context.Background(), db, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for key, want := range map[string]checkpoint.Color{"Q1": checkpoint.Green, "Q2": checkpoint.Red} {
		e, ok, err := d.Status(context.Background(), key)
		if !ok || err != nil || e.Color != want {
			t.Errorf("%s = %v %v %v, want %v", key, e.Color, ok, err, want)
		}
	}
	if _, ok, _ := d.Status(context.Background(), "Q3"); ok {
		t.Error("row of the failed import stored")
	}
}
