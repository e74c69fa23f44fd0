package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"checkpoint"
)

// want is what a lookup of a key should give: ok false for absent.
type want struct {
	ok    bool
	color checkpoint.Color
	until int64
}

// snapshot replaces every status with keys K0..Kn-1 (green, valid-until i).
func snapshot(t *testing.T, d *DB, n int) {
	t.Helper()
	u, err := d.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Rollback()
	if err := u.ClearStatuses(); err != nil {
		t.Fatal(err)
	}
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Hash: d.Hash(fmt.Sprintf("K%d", i)), Color: checkpoint.Green, ValidUntil: int64(i)}
	}
	if err := u.Put(recs...); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
}

// apply writes one delta update, one Put call per slice.
func apply(t *testing.T, d *DB, calls ...[]Record) {
	t.Helper()
	u, err := d.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Rollback()
	for _, recs := range calls {
		if err := u.Put(recs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
}

// check looks every key of ws up, compares Count and EachStatus with them
// and with the untouched keys K0..Kn-1.
func check(t *testing.T, d *DB, n int, ws map[string]want) {
	t.Helper()
	ctx := context.Background()
	all := map[[HashSize]byte]want{}
	for i := range n {
		all[d.Hash(fmt.Sprintf("K%d", i))] = want{true, checkpoint.Green, int64(i)}
	}
	for k, w := range ws {
		h := d.Hash(k)
		all[h] = w
		e, ok, err := d.Status(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var until int64
		if !e.ValidUntil.IsZero() {
			until = e.ValidUntil.Unix()
		}
		if ok != w.ok || (ok && (e.Color != w.color || until != w.until)) {
			t.Errorf("Status(%s) = %v %d %v, want %+v", k, e.Color, until, ok, w)
		}
	}
	var present int64
	for _, w := range all {
		if w.ok {
			present++
		}
	}
	c, err := d.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Statuses != present {
		t.Errorf("Count: %d statuses, want %d", c.Statuses, present)
	}
	var seen int64
	var last []byte
	err = d.EachStatus(ctx, func(r Record) error {
		if last != nil && string(r.Hash[:]) <= string(last) {
			t.Errorf("EachStatus: keys out of order")
		}
		last = append(last[:0], r.Hash[:]...)
		w := all[r.Hash]
		if !w.ok || r.Delete || r.Color != w.color || r.ValidUntil != w.until {
			t.Errorf("EachStatus: %x %v %d (delete %v), want %+v", r.Hash[:4], r.Color, r.ValidUntil, r.Delete, w)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != present {
		t.Errorf("EachStatus: %d statuses, want %d", seen, present)
	}
}

// TestDeltaTable: a delta's rows, removals included, shadow the base until
// and after they are merged; the last row of a key wins across and within
// calls.
func TestDeltaTable(t *testing.T) {
	const n = 1000
	rec := func(d *DB, k string, c checkpoint.Color, until int64) Record {
		return Record{Hash: d.Hash(k), Color: c, ValidUntil: until}
	}
	del := func(d *DB, k string) Record { return Record{Hash: d.Hash(k), Delete: true} }
	for _, tc := range []struct {
		name  string
		calls func(d *DB) [][]Record
		want  map[string]want
	}{
		{"new status", func(d *DB) [][]Record {
			return [][]Record{{rec(d, "K1", checkpoint.Red, 7)}}
		}, map[string]want{"K1": {true, checkpoint.Red, 7}}},
		{"removed", func(d *DB) [][]Record {
			return [][]Record{{del(d, "K2")}}
		}, map[string]want{"K2": {}}},
		{"added", func(d *DB) [][]Record {
			return [][]Record{{rec(d, "NEW", checkpoint.Yellow, 0)}}
		}, map[string]want{"NEW": {true, checkpoint.Yellow, 0}}},
		{"absent key removed", func(d *DB) [][]Record {
			return [][]Record{{del(d, "NOPE")}}
		}, map[string]want{"NOPE": {}}},
		{"removed then written back in one call", func(d *DB) [][]Record {
			return [][]Record{{del(d, "K3"), rec(d, "K3", checkpoint.Red, 3)}}
		}, map[string]want{"K3": {true, checkpoint.Red, 3}}},
		{"written then removed in one call", func(d *DB) [][]Record {
			return [][]Record{{rec(d, "K4", checkpoint.Red, 4), del(d, "K4")}}
		}, map[string]want{"K4": {}}},
		{"written then removed across calls", func(d *DB) [][]Record {
			return [][]Record{{rec(d, "K5", checkpoint.Red, 5)}, {del(d, "K5")}}
		}, map[string]want{"K5": {}}},
		{"more than a batch", func(d *DB) [][]Record {
			var recs []Record
			for i := range 3*batchRows + 7 {
				if i%3 == 0 {
					recs = append(recs, del(d, fmt.Sprintf("K%d", i)))
				} else {
					recs = append(recs, rec(d, fmt.Sprintf("K%d", i), checkpoint.Yellow, 1))
				}
			}
			return [][]Record{recs}
		}, func() map[string]want {
			w := map[string]want{}
			for i := range 3*batchRows + 7 {
				if i%3 == 0 {
					w[fmt.Sprintf("K%d", i)] = want{}
				} else {
					w[fmt.Sprintf("K%d", i)] = want{true, checkpoint.Yellow, 1}
				}
			}
			return w
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDB(t, Options{})
			snapshot(t, d, n)
			apply(t, d, tc.calls(d)...)
			c, _ := d.Count(context.Background())
			if c.Deltas == 0 {
				t.Fatal("the delta went to the base table")
			}
			check(t, d, n, tc.want)
			ms, err := d.MergeDeltas(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			c, _ = d.Count(context.Background())
			if ms.Rows == 0 || c.Deltas != 0 || ms.Base != c.Statuses {
				t.Fatalf("after the merge: %+v, counts %+v", ms, c)
			}
			check(t, d, n, tc.want)
		})
	}
}

// TestMergeThreshold: deltas stay in the delta table up to 1/mergeFraction
// of the base, are merged past it, and a snapshot clears them.
func TestMergeThreshold(t *testing.T) {
	ctx := context.Background()
	const n = 800
	d := newTestDB(t, Options{})
	snapshot(t, d, n)
	var recs []Record
	for i := range n / mergeFraction {
		recs = append(recs, Record{Hash: d.Hash(fmt.Sprintf("K%d", i)), Color: checkpoint.Red})
	}
	apply(t, d, recs)
	if ms, err := d.MergeDeltas(ctx, false); err != nil || ms.Rows != 0 || ms.Base != n {
		t.Fatalf("MergeDeltas at the threshold = %+v, %v; want no merge, base %d", ms, err, n)
	}
	apply(t, d, []Record{{Hash: d.Hash("EXTRA"), Color: checkpoint.Green}})
	ms, err := d.MergeDeltas(ctx, false)
	if err != nil || ms.Rows != n/mergeFraction+1 || ms.Base != n+1 {
		t.Fatalf("MergeDeltas past the threshold = %+v, %v", ms, err)
	}
	apply(t, d, []Record{{Hash: d.Hash("K9"), Delete: true}})
	snapshot(t, d, 10)
	c, _ := d.Count(ctx)
	if c.Deltas != 0 || c.Statuses != 10 {
		t.Fatalf("after a snapshot: %+v, want 10 statuses and no delta rows", c)
	}
	// An import merges by the same rule: into an empty base at once.
	d2 := newTestDB(t, Options{})
	if _, err := d2.ImportCSV(ctx, strings.NewReader("Q1,green,\nQ2,red,\n")); err != nil {
		t.Fatal(err)
	}
	if c, _ := d2.Count(ctx); c.Deltas != 0 || c.Statuses != 2 {
		t.Fatalf("after an import into an empty cache: %+v", c)
	}
}

// TestMergeFailureKeepsState: a merge that cannot complete (the file may
// not grow) leaves every lookup as it was.
func TestMergeFailureKeepsState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	snapshot(t, d, n)
	var recs []Record
	for i := range n / 2 {
		recs = append(recs, Record{Hash: d.Hash(fmt.Sprintf("N%d", i)), Color: checkpoint.Red, ValidUntil: 1})
	}
	apply(t, d, recs)
	var pages int64
	d.wr.QueryRow("PRAGMA page_count").Scan(&pages)
	d.Close()
	// Reopen capped at the current size: the merge needs more pages.
	d, err = Open(ctx, path, Options{MaxPages: pages})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ws := map[string]want{}
	for i := range n / 2 {
		ws[fmt.Sprintf("N%d", i)] = want{true, checkpoint.Red, 1}
	}
	check(t, d, n, ws)
	if _, err := d.MergeDeltas(ctx, true); !errors.Is(err, ErrFull) {
		t.Fatalf("MergeDeltas in a full file = %v, want ErrFull", err)
	}
	check(t, d, n, ws)
	if c, _ := d.Count(ctx); c.Deltas != n/2 {
		t.Fatalf("after the failed merge: %+v, want %d delta rows", c, n/2)
	}
}

// TestSchema1Upgrade: a file of schema 1 (no delta table, no directions in
// the event log) opens with its statuses and takes deltas.
func TestSchema1Upgrade(t *testing.T) {
	ctx := context.Background()
	path, d := fileOf50(t)
	d.Close()
	rawExec(t, path, append(oldEventTables, "DROP TABLE status_block", "DROP TABLE status_runs", "DROP TABLE site",
		"DELETE FROM meta WHERE k IN ('base_rows', 'delta_gen')", "UPDATE meta SET v = 1 WHERE k = 'schema'")...)
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	apply(t, d, []Record{{Hash: d.Hash("K0"), Delete: true}})
	check(t, d, 50, map[string]want{"K0": {}})
	ms, err := d.MergeDeltas(ctx, true)
	if err != nil || ms.Base != 49 {
		t.Fatalf("merge after the upgrade: %+v, %v; want base 49", ms, err)
	}
	checkOldEvents(t, d)
}

// oldEventTables turn a file's event log back into schema 2's, without
// directions, with one entry and its hourly count.
var oldEventTables = []string{
	"DROP TABLE event", "DROP TABLE event_hour",
	`CREATE TABLE event(t INTEGER NOT NULL, gate TEXT NOT NULL, format TEXT NOT NULL,
		verdict INTEGER NOT NULL, reasons TEXT NOT NULL, kh BLOB)`,
	`CREATE TABLE event_hour(hour INTEGER NOT NULL, gate TEXT NOT NULL, format TEXT NOT NULL, verdict INTEGER NOT NULL,
		n INTEGER NOT NULL, PRIMARY KEY(hour, gate, format, verdict)) WITHOUT ROWID`,
	"INSERT INTO event VALUES (1633075200000, 'old', 'vn1405', 2, 'status from cache', NULL)",
	"INSERT INTO event_hour VALUES (453632, 'old', 'vn1405', 2, 7)",
}

// checkOldEvents checks that the entry and hourly count of oldEventTables
// survived an upgrade and that directions are logged after it.
func checkOldEvents(t *testing.T, d *DB) {
	t.Helper()
	ctx := context.Background()
	at := time.Unix(453632*3600, 0)
	if err := d.LogEvent(ctx, Event{Time: at, Gate: "old", Format: checkpoint.FormatVN1405, Verdict: checkpoint.Green, Direction: "in"}); err != nil {
		t.Fatal(err)
	}
	var got []HourCount
	if err := d.HourCounts(ctx, time.Time{}, func(h HourCount) error { got = append(got, h); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Count != 7 || got[0].Direction != "" || got[1].Count != 1 || got[1].Direction != "in" {
		t.Fatalf("hourly counts after the upgrade: %+v", got)
	}
	n := 0
	if err := d.Events(ctx, time.Time{}, func(Event) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("%d entries after the upgrade (%v), want 2", n, err)
	}
}

// TestDeltaTableUpgrade: a file of schema 2 (one delta table, status_delta;
// no directions in the event log) or 3 (the same with directions) opens
// with its delta rows as one run, answering as before, its events kept.
func TestDeltaTableUpgrade(t *testing.T) {
	for _, from := range []int{2, 3} {
		t.Run(fmt.Sprint("schema ", from), func(t *testing.T) {
			ctx := context.Background()
			path, d := fileOf50(t)
			k0, k1, k2 := d.Hash("K0"), d.Hash("K1"), d.Hash("NEW")
			d.Close()
			var qs []string
			if from == 2 {
				qs = append(qs, oldEventTables...)
			}
			rawExec(t, path, append(qs, "DROP TABLE status_block", "DROP TABLE status_runs",
				"CREATE TABLE status_delta(h BLOB PRIMARY KEY, s INTEGER NOT NULL, u INTEGER NOT NULL) WITHOUT ROWID",
				fmt.Sprintf("INSERT INTO status_delta VALUES (x'%x', -1, 0), (x'%x', 0, 1640970000), (x'%x', 1, 0)", k0, k1, k2),
				"UPDATE meta SET v = 5 WHERE k = 'delta_gen'", fmt.Sprintf("UPDATE meta SET v = %d WHERE k = 'schema'", from))...)
			d, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ws := map[string]want{"K0": {}, "K1": {true, checkpoint.Red, 1640970000}, "NEW": {true, checkpoint.Yellow, 0}}
			check(t, d, 50, ws)
			if c, _ := d.Count(ctx); c.Deltas != 3 {
				t.Fatalf("after the upgrade: %+v, want the 3 delta rows in a run", c)
			}
			var v int64
			d.wr.QueryRow("SELECT v FROM meta WHERE k = 'schema'").Scan(&v)
			if v != schemaVersion {
				t.Fatalf("schema %d after the upgrade", v)
			}
			if _, err := d.MergeDeltas(ctx, true); err != nil {
				t.Fatal(err)
			}
			check(t, d, 50, ws)
			if from == 2 {
				checkOldEvents(t, d)
			}
		})
	}
}

// TestRunRowsUpgrade: a file of schema 4 (the runs as rows of status_run)
// opens with each run packed into blocks, answering as before: the newest
// run decides, a removal included, valid-untils in seconds read as
// written; then it merges.
func TestRunRowsUpgrade(t *testing.T) {
	ctx := context.Background()
	path, d := fileOf50(t)
	k0, k1, k2, k3, kn := d.Hash("K0"), d.Hash("K1"), d.Hash("K2"), d.Hash("K3"), d.Hash("NEW")
	d.Close()
	rawExec(t, path, "DROP TABLE status_block",
		"CREATE TABLE status_run(g INTEGER NOT NULL, h BLOB NOT NULL, s INTEGER NOT NULL, u INTEGER NOT NULL, PRIMARY KEY(g, h)) WITHOUT ROWID",
		fmt.Sprintf("INSERT INTO status_run VALUES (3, x'%x', 1, 0), (3, x'%x', 2, 5), (3, x'%x', 0, 77), (3, x'%x', 255, 0), (5, x'%x', -1, 0), (5, x'%x', 1, 1640970000)", k0, k1, k2, k3, k0, kn),
		"INSERT INTO status_runs VALUES (3, 4), (5, 2)",
		"UPDATE meta SET v = 5 WHERE k = 'delta_gen'", "UPDATE meta SET v = 4 WHERE k = 'schema'")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// K3's damaged status reads red, as a damaged row of the base does.
	ws := map[string]want{"K0": {}, "K1": {true, checkpoint.Green, 5}, "K2": {true, checkpoint.Red, 77}, "K3": {true, checkpoint.Red, 0},
		"NEW": {true, checkpoint.Yellow, 1640970000}}
	check(t, d, 50, ws)
	checkWithoutFilter(t, d, ws)
	if c, _ := d.Count(ctx); c.Deltas != 6 {
		t.Fatalf("after the upgrade: %+v, want the 6 run rows", c)
	}
	var v, tables int64
	d.wr.QueryRow("SELECT v FROM meta WHERE k = 'schema'").Scan(&v)
	d.wr.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'status_run'").Scan(&tables)
	if v != schemaVersion || tables != 0 {
		t.Fatalf("schema %d after the upgrade, %d status_run tables", v, tables)
	}
	if _, err := d.MergeDeltas(ctx, true); err != nil {
		t.Fatal(err)
	}
	check(t, d, 50, ws)
}

// fileOf50 makes a cache file with the statuses K0..K49 and returns its
// path and the cache, open.
func fileOf50(t *testing.T) (string, *DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache.db")
	d, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snapshot(t, d, 50)
	return path, d
}

// rawExec runs statements on the file at path outside the cache.
func rawExec(t *testing.T, path string, qs ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range qs {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
}
