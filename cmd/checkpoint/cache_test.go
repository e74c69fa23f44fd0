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

// TestSpreadsheetCSVCommands: `cache import` and `feed publish` take files
// saved as "CSV UTF-8" by Excel or LibreOffice (issue 16), and name a
// header they do not know as the header.
func TestSpreadsheetCSVCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "excel.csv")
	odd := filepath.Join(dir, "odd.csv")
	os.WriteFile(good, []byte("\ufeffqid,status,valid_until\r\nQ1,green,2099-01-01\r\nQ2,red,\r\n"), 0o600)
	os.WriteFile(odd, []byte("\ufeffMa QR,Trang thai\r\nQ1,green\r\n"), 0o600)
	if code, out, errs := runCmd(t, "cache", "import", "--csv", good, "--db", filepath.Join(dir, "c.db")); code != exitOK || !strings.Contains(out, "imported 2 rows") {
		t.Errorf("cache import: %d %q %q", code, out, errs)
	}
	fd := filepath.Join(dir, "feed")
	if code, _, errs := runCmd(t, "feed", "init", fd); code != exitOK {
		t.Fatalf("feed init: %d %q", code, errs)
	}
	if code, out, errs := runCmd(t, "feed", "publish", fd, "--statuses", good); code != exitOK || !strings.Contains(out, "2 statuses") {
		t.Errorf("feed publish: %d %q %q", code, out, errs)
	}
	want := `line 1: header "Ma QR,Trang thai" not recognised: want qid,status,valid_until`
	if code, _, errs := runCmd(t, "cache", "import", "--csv", odd, "--db", filepath.Join(dir, "c.db")); code != exitFail || !strings.Contains(errs, want) {
		t.Errorf("cache import of an unknown header: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "feed", "publish", fd, "--statuses", odd); code != exitFail || !strings.Contains(errs, want) {
		t.Errorf("feed publish of an unknown header: %d %q", code, errs)
	}
}

// TestCacheDowngradeCommand: `cache downgrade` rewrites a cache of this
// build's schema for an older release once, says so, then that there is
// nothing left to do; a missing file is nothing to do; a file that is not
// a cache fails naming it.
func TestCacheDowngradeCommand(t *testing.T) {
	dir := t.TempDir()
	csv, db := filepath.Join(dir, "q.csv"), filepath.Join(dir, "c.db")
	os.WriteFile(csv, []byte("Q1,green,\n"), 0o600)
	if code, _, errs := runCmd(t, "cache", "import", "--csv", csv, "--db", db); code != exitOK {
		t.Fatalf("cache import: %d %q", code, errs)
	}
	for _, c := range []struct {
		db, out string
		code    int
	}{
		{db, "in schema 4, for a release before schema 5", exitOK},
		{db, "in schema 4 or older already", exitOK},
		{filepath.Join(dir, "none.db"), "nothing to rewrite", exitOK},
		{csv, "", exitFail},
	} {
		code, out, errs := runCmd(t, "cache", "downgrade", "--db", c.db)
		if code != c.code || !strings.Contains(out, c.out) || code != exitOK && !strings.Contains(errs, c.db) {
			t.Errorf("cache downgrade --db %s: %d %q %q; want %d and %q", c.db, code, out, errs, c.code, c.out)
		}
	}
}
