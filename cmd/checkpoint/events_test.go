package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/cache"
)

func TestEventsExportCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cache.db")
	d, err := cache.Open(context.Background(), db, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i, c := range []checkpoint.Color{checkpoint.Green, checkpoint.Red, checkpoint.Yellow} {
		err := d.LogEvent(context.Background(), cache.Event{Time: now.Add(time.Duration(i-2) * time.Hour), Gate: "g1", Format: checkpoint.FormatVN1405, Verdict: c, Reasons: []string{"r"}, KeyHash: d.KeyHash("Q")})
		if err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	code, out, errs := runCmd(t, "events", "export", "--since", "90m", "--db", db)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out)
	}
	var e struct{ Verdict, Gate string }
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Verdict != "yellow" || e.Gate != "g1" {
		t.Errorf("last line %s: %+v %v", lines[1], e, err)
	}
	code, out, _ = runCmd(t, "events", "export", "--since", now.Add(-3*time.Hour).Format(time.RFC3339), "--hourly", "--db", db)
	if code != exitOK || strings.Count(out, `"count":1`) != 3 {
		t.Errorf("hourly export: %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, "events", "export", "--since", "yesterday", "--db", db); code != exitUsage {
		t.Errorf("bad --since: exit %d", code)
	}
	if code, _, _ := runCmd(t, "events", "export", "--db", db); code != exitUsage {
		t.Errorf("no --since: exit %d", code)
	}
}
