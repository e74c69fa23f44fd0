package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/config"
)

// feed publish's firmware flags: bad values are usage errors naming the
// flag; --firmware alone republishes the statuses with the package.
func TestFeedPublishFirmwareFlags(t *testing.T) {
	dir := t.TempDir()
	if code, errs := exitOf(t, "feed", "init", dir); code != 0 {
		t.Fatalf("feed init: %d %s", code, errs)
	}
	deb := filepath.Join(t.TempDir(), "checkpoint_1.0_arm64.deb")
	os.WriteFile(deb, []byte("not a package"), 0o644)
	statuses := filepath.Join(t.TempDir(), "s.csv")
	os.WriteFile(statuses, []byte("qid,status,valid_until\nQ1,green,\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--rollout", "0%"}, 2, "--rollout"},
		{[]string{"--rollout", "ten"}, 2, "--rollout"},
		{[]string{"--rollback"}, 2, "--rollback needs --firmware"},
		{[]string{"--firmware", deb}, 1, "only a firmware publish may leave it out"},
		{[]string{"--statuses", statuses, "--firmware", deb}, 1, "not a Debian package"},
		{[]string{"--statuses", statuses}, 0, ""},
		{[]string{"--rollout", "10%"}, 1, "the feed has no firmware"},
	} {
		code, errs := exitOf(t, append([]string{"feed", "publish", dir}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("feed publish %v: exit %d, %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}

// update status and update install on a config: nothing installed by
// dpkg under that name here, nothing offered: install does nothing.
func TestUpdateCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gate.toml")
	os.WriteFile(cfg, []byte("gate = \"g\"\n[update]\nspool = \""+filepath.Join(dir, "spool")+"\"\nstate = \""+filepath.Join(dir, "state")+"\"\n"), 0o600)
	if code, errs := exitOf(t, "update", "install", "--config", cfg); code != 0 {
		t.Errorf("update install with no offer: exit %d: %s", code, errs)
	}
	if code, errs := exitOf(t, "update", "status", "--config", cfg); code != 0 {
		t.Errorf("update status: exit %d: %s", code, errs)
	}
	if code, errs := exitOf(t, "update", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown verb") {
		t.Errorf("unknown verb: %d %s", code, errs)
	}
}

// The daemon reports each version the installer rolled back once: an event
// (format firmware, red, with the version and the reason), and the note and
// count for the operator screen and /metrics; a restart reports nothing twice.
func TestFirmwareReport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Gate = "north-7"
	cfg.Update.State = filepath.Join(dir, "state")
	os.MkdirAll(cfg.Update.State, 0o755)
	db, err := cache.Open(ctx, filepath.Join(dir, "cache.db"), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 12, 2, 10, 32, 0, 0, time.UTC)
	st := `{"failed":[{"version":"1.4.2","at":"` + at.Format(time.RFC3339) + `","reason":"the new daemon exited at start-up"}]}`
	os.WriteFile(filepath.Join(cfg.Update.State, "state.json"), []byte(st), 0o644)
	log := slog.New(slog.DiscardHandler)
	events := func() []cache.Event {
		var evs []cache.Event
		db.Events(ctx, time.Time{}, func(e cache.Event) error { evs = append(evs, e); return nil })
		return evs
	}
	for range 2 {
		r := &firmwareReport{}
		r.check(ctx, cfg, db, checkpoint.SystemClock{}, log)
		note, n := r.get()
		if n != 1 || !strings.Contains(note, "1.4.2") || !strings.Contains(note, "exited at start-up") {
			t.Errorf("note %q, %d failures", note, n)
		}
	}
	evs := events()
	if len(evs) != 1 || evs[0].Format != "firmware" || evs[0].Verdict != checkpoint.Red || evs[0].Gate != "north-7" ||
		!strings.Contains(strings.Join(evs[0].Reasons, " "), "firmware 1.4.2 rolled back: the new daemon exited at start-up") {
		t.Errorf("events %+v", evs)
	}
}
