package main

// Faults proven through the daemon (`run --config`, in-process). The cache
// and feed packages test the mechanisms themselves (feed: TestDiskFullDuringSync,
// TestCorruptCacheRebuiltFromSnapshot, TestClockJumps; cache: TestDiskFull,
// TestCorruptRecover, TestStaleClock); these tests prove the daemon wires
// them: the scanner keeps judging, the idle pattern and /healthz say what
// happened, and nothing already stored is lost. SIGTERM during a pattern is
// proven at process level in gpio (TestSIGTERMDuringPatternLeavesOutputsSafe).

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint/cache"
	"checkpoint/demo"
	"checkpoint/policy"
)

// qid returns the QID of a demo 1405 payload.
func qid(payload string) string { return strings.Split(payload, "|")[4] }

// syncOnce fills a gate's cache from the feed with `checkpoint sync --once`.
func syncOnce(t *testing.T, f *loopFeed, db string) {
	t.Helper()
	if code, _, errs := runCmd(t, "sync", "--once", "--db", db, "--url", f.URL(), "--root", f.Root()); code != exitOK {
		t.Fatalf("sync --once: exit %d\n%s", code, errs)
	}
}

// openCache opens the gate's cache (after the daemon stopped) for checks.
func openCache(t *testing.T, path string) *cache.DB {
	t.Helper()
	db, err := cache.Open(context.Background(), path, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// colorOf returns the cached colour of key ("" when absent).
func colorOf(t *testing.T, db *cache.DB, key string) string {
	t.Helper()
	e, ok, err := db.Status(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	return e.Color.String()
}

// manyRows returns n synthetic status rows.
func manyRows(prefix string, n int) []string {
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf("%s%07d,green,2099-12-31", prefix, i)
	}
	return rows
}

// TestDaemonDiskFullDuringSync fills the cache's page limit with a large
// feed version while the daemon runs: the sync fails cleanly, scanning goes
// on with the old state, and the file is intact.
func TestDaemonDiskFullDuringSync(t *testing.T) {
	f := newLoopFeed(t, runCmd)
	f.publish(t, demoRows(t))
	db := filepath.Join(t.TempDir(), "cache.db")
	syncOnce(t, f, db)
	st, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 100)
	fh, _ := os.Open(db)
	io.ReadFull(fh, hdr)
	fh.Close()
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	// Room for the event log of this test (some 3,000 entries), none for
	// the 30,000 rows of version 2.
	maxPages := st.Size()/pageSize + 64

	frames := writeFrames(t, filepath.Join(t.TempDir(), "frames"), false, "")
	cfg := writeConfig(t, site{Frames: frames, FPS: 30, Loop: true, Cache: db, Feed: f, Listen: freeAddr(t)})
	d := startDaemon(t, cfg, daemonOptions{maxPages: maxPages})
	d.waitVerdict(0, "vn1405", "green", "status from cache")

	rows := append(demoRows(t), manyRows("FULL", 30000)...)
	rows[0] = qid(demo.GreenQR) + ",red," // a change that must not half-apply
	f.publish(t, rows)
	d.waitFor("a sync failing with disk-full", func() bool {
		return strings.Contains(d.errs.String(), "kind=disk-full")
	})
	from := d.errs.Len()
	// Scanning goes on, on the old state, which is still fresh.
	d.waitVerdict(from, "vn1405", "green", "status from cache")
	d.waitVerdict(from, "vn1405", "red", "status from cache")
	if v := d.metric("checkpoint_feed_version"); v != 1 {
		t.Errorf("feed version %v after the failed sync, want 1", v)
	}
	if e := d.metric("checkpoint_sync_errors_total"); e < 1 {
		t.Errorf("sync errors %v, want at least 1", e)
	}
	if m := d.idle(); m != "ready" {
		t.Errorf("idle mode %q after a failed sync of fresh data, want ready", m)
	}
	if code := d.stop(); code != exitOK {
		t.Fatalf("daemon exit %d\n%s", code, d.logs())
	}
	for _, l := range strings.Split(d.errs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("error logged: %s", l)
		}
	}

	c := openCache(t, db)
	if s, err := c.IntegrityCheck(context.Background()); s != "ok" || err != nil {
		t.Errorf("integrity_check after the failed sync: %q %v", s, err)
	}
	if c.Version() != 1 {
		t.Errorf("cache version %d, want 1", c.Version())
	}
	for key, want := range map[string]string{qid(demo.GreenQR): "green", qid(demo.RedQR): "red", "FULL0000001": ""} {
		if got := colorOf(t, c, key); got != want {
			t.Errorf("status of %s = %q, want %q (the old state)", key, got, want)
		}
	}
	n := 0
	c.Events(context.Background(), time.Time{}, func(cache.Event) error { n++; return nil })
	if n == 0 {
		t.Error("no event logged")
	}
}

// TestDaemonCorruptCacheRebuilt starts the daemon on a corrupted cache file
// while the feed is down: the file is moved aside, the gate shows the fault
// pattern and keeps judging (never from the lost data), and the first
// snapshot sync clears the fault.
func TestDaemonCorruptCacheRebuilt(t *testing.T) {
	f := newLoopFeed(t, runCmd)
	f.publish(t, append(demoRows(t), manyRows("Q", 20000)...))
	db := filepath.Join(t.TempDir(), "cache.db")
	syncOnce(t, f, db)
	fh, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fh.Stat()
	if _, err := fh.WriteAt(bytes.Repeat([]byte{0xa5}, 8192), st.Size()/2&^4095); err != nil {
		t.Fatal(err)
	}
	fh.Close()

	f.down.Store(true)
	frames := writeFrames(t, filepath.Join(t.TempDir(), "frames"), false, "")
	cfg := writeConfig(t, site{Frames: frames, FPS: 30, Loop: true, Cache: db, Feed: f, Listen: freeAddr(t)})
	d := startDaemon(t, cfg, daemonOptions{})
	d.waitFor("the fault idle mode", func() bool { return d.idle() == "fault" })
	if !strings.Contains(d.errs.String(), "cache file corrupt: moved aside") {
		t.Errorf("no log line for the corrupt file\n%s", d.logs())
	}
	if aside, _ := filepath.Glob(db + ".corrupt-*"); len(aside) == 0 {
		t.Error("corrupt file not kept aside")
	}
	d.waitFor("the fault pattern on the outputs", func() bool { return strings.Contains(d.out.String(), "✗ FAULT") })
	// Scanning goes on meanwhile, and nothing is judged from the lost data.
	d.waitVerdict(0, "vn1405", "yellow", "not in cache")
	for _, v := range verdicts(d.errs.String()) {
		if v.Verdict == "green" {
			t.Errorf("green verdict while rebuilding: %+v", v)
		}
	}
	if !strings.Contains(healthz(t, d), "cache: stale") {
		t.Errorf("/healthz does not say the cache is stale while rebuilding")
	}

	f.down.Store(false)
	d.waitFor("a snapshot sync", func() bool { return strings.Contains(d.errs.String(), "mode=snapshot") })
	from := d.errs.Len()
	d.waitVerdict(from, "vn1405", "green", "status from cache")
	d.waitFor("the ready idle mode", func() bool { return d.idle() == "ready" })
	d.waitFor("the fault cleared on the outputs", func() bool { return strings.Contains(d.out.String(), "· READY") })
	if code := d.stop(); code != exitOK {
		t.Fatalf("daemon exit %d\n%s", code, d.logs())
	}
	c := openCache(t, db)
	if c.Rebuilding() || c.Version() != 1 || colorOf(t, c, "Q0012345") != "green" {
		t.Errorf("after the rebuild: rebuilding %v, version %d, Q0012345 %q", c.Rebuilding(), c.Version(), colorOf(t, c, "Q0012345"))
	}
}

// healthz returns the /healthz body.
func healthz(t *testing.T, d *daemonRun) string {
	t.Helper()
	req, _ := http.NewRequest("GET", d.web+"/healthz", nil)
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestDaemonClockJumps moves the daemon's wall clock: stale data is never
// taken as fresh, whichever way the clock jumps.
func TestDaemonClockJumps(t *testing.T) {
	frames := writeFrames(t, filepath.Join(t.TempDir(), "frames"), false, "")

	t.Run("forward past max_age", func(t *testing.T) {
		f := newLoopFeed(t, runCmd)
		f.publish(t, demoRows(t))
		clk := &offsetClock{}
		db := filepath.Join(t.TempDir(), "cache.db")
		cfg := writeConfig(t, site{Frames: frames, FPS: 30, Loop: true, Cache: db, Feed: f, Listen: freeAddr(t)})
		d := startDaemon(t, cfg, daemonOptions{clock: clk})
		d.waitFor("feed version 1", func() bool { return d.metric("checkpoint_feed_version") == 1 })
		d.waitVerdict(0, "vn1405", "green", "status from cache")
		d.waitFor("the ready idle mode", func() bool { return d.idle() == "ready" })

		// A day and an hour later by the clock: the data (24 h max_age) and the
		// feed's timestamp (24 h) have both expired.
		clk.Jump(25 * time.Hour)
		from := d.errs.Len()
		d.waitFor("the stale idle mode", func() bool { return d.idle() == "stale" })
		d.waitVerdict(from, "vn1405", "yellow", policy.ReasonStale)
		if h := healthz(t, d); !strings.Contains(h, "cache: stale") {
			t.Errorf("/healthz after the jump:\n%s", h)
		}
		// The sync now refuses the expired metadata and the cache stays stale.
		d.waitFor("a sync refused as expired", func() bool { return strings.Contains(d.errs.Since(from), "kind=expired") })
		from = d.errs.Len()
		d.waitVerdict(from, "vn1405", "yellow", policy.ReasonStale)
		if m := d.idle(); m != "stale" {
			t.Errorf("idle mode %q after the refused sync, want stale", m)
		}
		// A refreshed feed (a new timestamp) makes the gate fresh again at the
		// clock's new time.
		if code, _, errs := runCmd(t, "feed", "refresh", f.dir, "--expires", "48h"); code != exitOK {
			t.Fatalf("feed refresh: %s", errs)
		}
		from = d.errs.Len()
		d.waitVerdict(from, "vn1405", "green", "status from cache")
		d.waitFor("the ready idle mode", func() bool { return d.idle() == "ready" })
		if code := d.stop(); code != exitOK {
			t.Fatalf("daemon exit %d\n%s", code, d.logs())
		}
	})

	t.Run("backwards after max_age", func(t *testing.T) {
		f := newLoopFeed(t, runCmd)
		f.publish(t, demoRows(t))
		clk := &offsetClock{}
		db := filepath.Join(t.TempDir(), "cache.db")
		cfg := writeConfig(t, site{Frames: frames, FPS: 30, Loop: true, Cache: db, Feed: f, Listen: freeAddr(t),
			MaxAge: "3s", Interval: "1h"})
		d := startDaemon(t, cfg, daemonOptions{clock: clk})
		d.waitFor("feed version 1", func() bool { return d.metric("checkpoint_feed_version") == 1 })
		f.down.Store(true) // no further update
		d.waitVerdict(0, "vn1405", "green", "status from cache")
		// Three seconds on, by both clocks: judged stale.
		d.waitVerdict(d.errs.Len(), "vn1405", "yellow", policy.ReasonStale)
		d.waitFor("the stale idle mode", func() bool { return d.idle() == "stale" })

		// The clock steps back an hour, behind the feed's publication: by the
		// wall clock (floored at the feed time) the data looks seconds old;
		// the monotonic clock knows it is not.
		clk.Jump(-time.Hour)
		from, outFrom := d.errs.Len(), d.out.Len()
		// The time does not stand still at the floor: the same codes, held in
		// view again and again, keep getting verdicts (a frozen clock would
		// make every later sighting a repeat within the cooldown).
		d.waitFor("verdicts to keep coming after the jump", func() bool {
			n := 0
			for _, v := range verdicts(d.errs.Since(from)) {
				if v.Format == "vn1405" && v.Verdict == "yellow" && strings.Contains(v.Reasons, policy.ReasonStale) {
					n++
				}
			}
			return n >= 6
		})
		if m := d.idle(); m != "stale" {
			t.Errorf("idle mode %q after the backward jump, want stale", m)
		}
		if code := d.stop(); code != exitOK {
			t.Fatalf("daemon exit %d\n%s", code, d.logs())
		}
		if s := d.out.Since(outFrom); strings.Contains(s, "READY") {
			t.Errorf("outputs went ready after the backward jump:\n%s", s)
		}
		for _, v := range verdicts(d.errs.Since(from)) {
			if v.Verdict == "green" {
				t.Errorf("green verdict from stale data after the backward jump: %+v", v)
			}
		}
	})
}
