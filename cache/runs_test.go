package cache

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"checkpoint"
)

func TestStoreUntil(t *testing.T) {
	for _, tc := range []struct {
		in, stored int64
		err        bool
	}{
		{0, 0, false},
		{1, 1, false},
		{1640970000, -18993, false}, // 2022-01-01T00:00+07:00: a date's end
		{1640970001, 1640970001, false},
		{1640995200, 1640995200, false}, // midnight UTC is not a day's end in Vietnam
		{253402275600, -2932897, false}, // 10000-01-01T00:00+07:00
		{-1, 0, true},
	} {
		got, err := storeUntil(tc.in)
		if (err != nil) != tc.err || (err == nil && got != tc.stored) {
			t.Errorf("storeUntil(%d) = %d, %v; want %d, error %v", tc.in, got, err, tc.stored, tc.err)
			continue
		}
		if err == nil && loadUntil(got) != tc.in {
			t.Errorf("loadUntil(storeUntil(%d)) = %d", tc.in, loadUntil(got))
		}
	}
}

// TestRuns: each delta is a run; the newest run holding a key decides it,
// a removal included, through the filters, without them, in EachStatus and
// Count, before and after the runs are compacted and merged.
func TestRuns(t *testing.T) {
	ctx := context.Background()
	const n = 3000 // the runs stay under 1/mergeFraction of it
	d := newTestDB(t, Options{})
	snapshot(t, d, n)
	rec := func(k string, c checkpoint.Color, until int64) Record {
		return Record{Hash: d.Hash(k), Color: c, ValidUntil: until}
	}
	del := func(k string) Record { return Record{Hash: d.Hash(k), Delete: true} }
	ws := map[string]want{}
	// Round r changes K(r), removes K(r+100), re-adds K(r-1+100) (removed
	// the round before) and adds N(r); K1 changes in every round.
	for r := 1; r <= maxRuns+3; r++ {
		c := checkpoint.Color(r % 3)
		recs := []Record{rec(fmt.Sprintf("K%d", r), c, int64(r)), del(fmt.Sprintf("K%d", r+100)),
			rec(fmt.Sprintf("N%d", r), checkpoint.Yellow, 1640970000), rec("K1", c, 7)}
		ws[fmt.Sprintf("K%d", r)] = want{true, c, int64(r)}
		ws[fmt.Sprintf("K%d", r+100)] = want{}
		ws[fmt.Sprintf("N%d", r)] = want{true, checkpoint.Yellow, 1640970000}
		ws["K1"] = want{true, c, 7}
		if r > 1 {
			recs = append(recs, rec(fmt.Sprintf("K%d", r-1+100), checkpoint.Red, 9))
			ws[fmt.Sprintf("K%d", r-1+100)] = want{true, checkpoint.Red, 9}
		}
		apply(t, d, recs)
		if r == maxRuns {
			check(t, d, n, ws)
			checkWithoutFilter(t, d, ws)
			if got := len(*d.filter.Load().runs.Load()); got != maxRuns {
				t.Fatalf("%d run filters, want %d", got, maxRuns)
			}
		}
	}
	ms, err := d.MergeDeltas(ctx, false)
	if err != nil || !ms.Compacted || ms.Runs != (maxRuns+4)/2 {
		t.Fatalf("MergeDeltas with %d runs = %+v, %v; want the newest half compacted", maxRuns+3, ms, err)
	}
	runs := len(*d.filter.Load().runs.Load())
	if runs != maxRuns+3-ms.Runs+1 || d.filter.Load().gen.Load() < 0 {
		t.Fatalf("after the compaction: %d run filters, gen %d", runs, d.filter.Load().gen.Load())
	}
	check(t, d, n, ws)
	checkWithoutFilter(t, d, ws)
	// The compacted filter is current: a lookup reads one run, not every table.
	l, err := d.getLookup()
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	h := d.Hash("K1")
	if _, _, ok, err := d.lookup(l, h[:]); !ok || err != nil || d.filterBusy.Load() {
		t.Fatalf("lookup after the compaction: %v %v, reload %v", ok, err, d.filterBusy.Load())
	}
	if ms, err := d.MergeDeltas(ctx, true); err != nil || ms.Compacted || ms.Runs != runs {
		t.Fatalf("forced merge = %+v, %v", ms, err)
	}
	check(t, d, n, ws)
}

// checkWithoutFilter looks the keys up with lookupQuery, the query used
// when the filter cannot be trusted.
func checkWithoutFilter(t *testing.T, d *DB, ws map[string]want) {
	t.Helper()
	l, err := d.getLookup()
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	for k, w := range ws {
		h := d.Hash(k)
		copy(l.h, h[:])
		s, u, ok, err := l.query()
		if err != nil {
			t.Fatal(err)
		}
		if ok != w.ok || (ok && (colorOf(s) != w.color || loadUntil(u) != w.until)) {
			t.Errorf("lookupQuery(%s) = %d %d %v, want %+v", k, s, u, ok, w)
		}
	}
}

// TestDeltaWritesItsOwnSize: a delta's commit writes about its own rows to
// the WAL, however many deltas came before it (with one delta table, each
// delta rewrote the pages of all the earlier ones).
func TestDeltaWritesItsOwnSize(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cache.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	snapshot(t, d, 200000)
	r := rand.New(rand.NewPCG(1, 2))
	delta := func() []Record {
		recs := make([]Record, 2000)
		for i := range recs {
			recs[i] = Record{Hash: d.Hash(fmt.Sprintf("K%d", r.IntN(200000))), Color: checkpoint.Red}
		}
		slices.SortFunc(recs, cmpRec)
		return recs
	}
	var frames []int64
	for range 8 {
		if err := d.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// A reader on another handle keeps the checkpointer from copying
		// (and the WAL from restarting) while the delta commits.
		raw, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		tx, err := raw.Begin()
		if err != nil {
			t.Fatal(err)
		}
		var one int
		tx.QueryRow("SELECT 1 FROM meta LIMIT 1").Scan(&one)
		apply(t, d, delta())
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, (fi.Size()-32)/(pageSize+24))
		tx.Rollback()
		raw.Close()
	}
	// 2000 rows of about 28 bytes are 7 pages; with the meta page and the
	// runs' interior pages, a dozen. The eighth delta as the first.
	if frames[7] > 20 || frames[7] > 2*frames[0] {
		t.Fatalf("WAL frames per delta commit: %v; want each about its own size", frames)
	}
}

// TestSnapshotPagesFull: a snapshot's rows reach the base in one bulk copy,
// so its pages are full: at least 9% fewer than the same rows written in
// key order into a table of the same shape (pages 88% full).
func TestSnapshotPagesFull(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	used := func() int64 {
		var pages, free int64
		d.wr.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
		d.wr.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free)
		return pages - free
	}
	p0 := used()
	snapshot(t, d, 50000)
	p1 := used()
	for _, q := range []string{
		"CREATE TABLE plain(h BLOB PRIMARY KEY, s INTEGER NOT NULL, u INTEGER NOT NULL) WITHOUT ROWID",
		// ORDER BY: a plain insert in key order, not the bulk copy.
		"INSERT INTO plain SELECT * FROM status ORDER BY h",
	} {
		if _, err := d.wr.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	base, plain := p1-p0, used()-p1
	if float64(base) > 0.91*float64(plain) {
		t.Fatalf("the base takes %d pages, the same rows inserted in key order %d: want at most 91%%", base, plain)
	}
}
