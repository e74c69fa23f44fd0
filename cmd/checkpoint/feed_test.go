package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"checkpoint"
	"checkpoint/cache"
)

func TestFeedPublishAndSyncCommands(t *testing.T) {
	dir := t.TempDir()
	fd := filepath.Join(dir, "feed")
	if code, out, errs := runCmd(t, "feed", "init", fd); code != exitOK || !strings.Contains(out, "root.json") {
		t.Fatalf("init: %d %q %q", code, out, errs)
	}
	csv1, csv2, bad := filepath.Join(dir, "1.csv"), filepath.Join(dir, "2.csv"), filepath.Join(dir, "bad.csv")
	os.WriteFile(csv1, []byte("qid,status,valid_until\nQ1,green,\nQ2,yellow,\n"), 0o600)
	os.WriteFile(csv2, []byte("Q1,red,\nQ3,green,2099-12-31\n"), 0o600)
	os.WriteFile(bad, []byte("Q1,green,\nQ2,greenish,\n"), 0o600)
	if code, out, errs := runCmd(t, "feed", "publish", fd, "--statuses", csv1); code != exitOK || !strings.Contains(out, "published version 1") {
		t.Fatalf("publish: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCmd(t, "feed", "publish", "--statuses", bad, fd); code != exitFail || !strings.Contains(errs, "line 2: status") {
		t.Errorf("bad publish: %d %q", code, errs)
	}
	if code, _, _ := runCmd(t, "feed", "publish", fd); code != exitUsage {
		t.Errorf("publish without --statuses: exit %d", code)
	}
	if code, _, _ := runCmd(t, "feed", "publish", "--statuses", csv1); code != exitUsage {
		t.Errorf("publish without DIR: exit %d", code)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(fd, "repo"))))
	defer srv.Close()
	db := filepath.Join(dir, "gate", "cache.db")
	os.MkdirAll(filepath.Dir(db), 0o700)
	root := filepath.Join(fd, "repo", "root.json")
	syncArgs := []string{"sync", "--once", "--db", db, "--url", srv.URL, "--root", root}
	if code, _, errs := runCmd(t, syncArgs...); code != exitOK || !strings.Contains(errs, "mode=snapshot") {
		t.Fatalf("sync: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "feed", "publish", fd, "--statuses", csv2); code != exitOK {
		t.Fatalf("publish 2: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, syncArgs...); code != exitOK || !strings.Contains(errs, "mode=delta") {
		t.Fatalf("sync 2: %d %q", code, errs)
	}
	if code, out, _ := runCmd(t, "feed", "refresh", fd); code != exitOK || !strings.Contains(out, "renewed") {
		t.Errorf("refresh: %d %q", code, out)
	}
	srv.Close()
	if code, _, errs := runCmd(t, syncArgs...); code != exitFail || strings.Count(errs, "level=") != 1 || !strings.Contains(errs, "feed sync failed") {
		t.Errorf("sync with the server gone: %d %q", code, errs)
	}
	if code, _, _ := runCmd(t, "sync", "--once", "--db", db); code != exitUsage {
		t.Errorf("sync without a feed URL: exit %d", code)
	}

	d, err := cache.Open(context.Background(), db, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Version() != 2 {
		t.Errorf("version %d", d.Version())
	}
	for key, want := range map[string]checkpoint.Color{"Q1": checkpoint.Red, "Q3": checkpoint.Green} {
		e, ok, _ := d.Status(context.Background(), key)
		if !ok || e.Color != want {
			t.Errorf("%s = %v %v, want %v", key, e.Color, ok, want)
		}
	}
	if _, ok, _ := d.Status(context.Background(), "Q2"); ok {
		t.Error("Q2 not removed")
	}
}
