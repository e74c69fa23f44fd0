package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/demo"
)

// TestDaemonEventRetention proves the daemon wires events.retention into the
// event log's purge (the cache package tests the purge itself): entries past
// the site's retention go at start, younger ones stay, hourly counts are kept
// longer, and `events export --since` gives the authority what is left.
func TestDaemonEventRetention(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cache.db")
	c, err := cache.Open(context.Background(), db, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportCSV(context.Background(), bytes.NewReader(demo.Statuses)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	old, young := now.Add(-100*time.Hour), now.Add(-48*time.Hour)
	for _, at := range []time.Time{old, young} {
		if err := c.LogEvent(context.Background(), cache.Event{Time: at, Gate: "reliability", Format: checkpoint.FormatVN1405,
			Verdict: checkpoint.Green, Reasons: []string{"status from cache"}, KeyHash: c.KeyHash("Q")}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()

	// 72 h: the 100-hour-old entry goes, which the 30-day default would keep.
	frames := writeFrames(t, filepath.Join(t.TempDir(), "frames"), false, "")
	cfg := writeConfig(t, site{Frames: frames, FPS: 30, Loop: true, Cache: db, Listen: freeAddr(t),
		Extra: "[events]\nretention = \"72h\"\n"})
	d := startDaemon(t, cfg, daemonOptions{})
	probe, err := cache.Open(context.Background(), db, cache.Options{SkipCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	count := func(since time.Time) int {
		n := 0
		probe.Events(context.Background(), since, func(cache.Event) error { n++; return nil })
		return n
	}
	d.waitFor("the purge of the old entry", func() bool { return count(now.Add(-200*time.Hour)) == count(young) })
	d.waitFor("new entries", func() bool { return count(now.Add(-time.Minute)) >= 3 })
	if code := d.stop(); code != exitOK {
		t.Fatalf("daemon exit %d\n%s", code, d.logs())
	}

	export := func(args ...string) []map[string]any {
		t.Helper()
		code, out, errs := runCmd(t, append([]string{"events", "export", "--db", db}, args...)...)
		if code != exitOK {
			t.Fatalf("events export %v: exit %d: %s", args, code, errs)
		}
		var rows []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("export line %q: %v", l, err)
			}
			rows = append(rows, m)
		}
		return rows
	}
	all := export("--since", now.Add(-30*24*time.Hour).Format(time.RFC3339))
	first, _ := time.Parse(time.RFC3339, all[0]["time"].(string))
	if !first.Equal(young.Truncate(time.Millisecond)) {
		t.Errorf("oldest exported entry at %v, want the 48-hour-old one at %v (the 100-hour-old one purged)", first, young)
	}
	recent := export("--since", "1h")
	if len(recent) != len(all)-1 || len(recent) < 3 {
		t.Errorf("--since 1h: %d entries, --since 30 days: %d", len(recent), len(all))
	}
	for _, e := range recent {
		if e["gate"] != "reliability" || e["key_hash"] == nil && e["format"] != "unknown" {
			t.Errorf("entry %v", e)
		}
	}
	hours := export("--since", now.Add(-30*24*time.Hour).Format(time.RFC3339), "--hourly")
	h, _ := time.Parse(time.RFC3339, hours[0]["hour"].(string))
	if !h.Equal(old.Truncate(time.Hour)) {
		t.Errorf("first hourly count for %v, want the purged entry's hour %v (counts outlive entries)", h, old.Truncate(time.Hour))
	}
}
