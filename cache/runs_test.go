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
	"time"

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
		frames = append(frames, commitFrames(t, d, func() { apply(t, d, delta()) }))
	}
	// 2000 rows of about 28 bytes are 7 pages; with the meta page and the
	// runs' interior pages, a dozen. The eighth delta as the first.
	if frames[7] > 20 || frames[7] > 2*frames[0] {
		t.Fatalf("WAL frames per delta commit: %v; want each about its own size", frames)
	}
}

// TestRunPagesFull: a delta's rows are packed into blocks that fill their
// pages, and its commit writes those and the pages that list the run (the
// file's header, meta, status_runs, the blocks' interior page): 4,200 rows
// with a day's valid-until in 11 pages, 15 frames. As rows of a WITHOUT
// ROWID table they took 20 to 24: pages 88% full, and the last three pages
// of the run before rewritten.
func TestRunPagesFull(t *testing.T) {
	d := newTestDB(t, Options{})
	snapshot(t, d, 20000)
	before := usedPages(t, d)
	day := time.Date(2022, 3, 4, 17, 0, 0, 0, time.UTC).Unix() // midnight in Vietnam
	for i, rows := range []int{4200, 4200, 300} {
		recs := make([]Record, rows)
		for j := range recs {
			recs[j] = Record{Hash: d.Hash(fmt.Sprintf("R%d.%d", i, j)), Color: checkpoint.Green, ValidUntil: day}
		}
		slices.SortFunc(recs, cmpRec)
		n := commitFrames(t, d, func() { apply(t, d, recs) })
		t.Logf("delta %d of %d rows: %d WAL frames", i, rows, n)
		if pages := blockPages(rows, 2); n > pages+4 {
			t.Errorf("delta %d of %d rows: %d WAL frames, want at most %d pages of blocks and 4 more", i, rows, n, pages)
		}
	}
	if grew := usedPages(t, d) - before; grew > 10+10+1+1 {
		t.Errorf("the runs take %d pages, want 21 of blocks and their interior page", grew)
	}
	ws := map[string]want{}
	for i, rows := range []int{4200, 4200, 300} {
		ws[fmt.Sprintf("R%d.%d", i, rows)] = want{}
		ws[fmt.Sprintf("R%d.%d", i, rows/2)] = want{true, checkpoint.Green, day}
		for j := range rows + 1 {
			e, ok, err := d.Status(context.Background(), fmt.Sprintf("R%d.%d", i, j))
			if err != nil || ok != (j < rows) || ok && (e.Color != checkpoint.Green || e.ValidUntil.Unix() != day) {
				t.Fatalf("R%d.%d: %+v %v %v", i, j, e, ok, err)
			}
		}
	}
	checkWithoutFilter(t, d, ws)
}

// TestUnsortedRun: a delta whose rows come out of key order, some keys
// twice, is staged and packed at its commit into full blocks all the same;
// the last row of a key wins, within the run and over older runs.
func TestUnsortedRun(t *testing.T) {
	d := newTestDB(t, Options{})
	snapshot(t, d, 1000)
	keys := make([]Record, 2000)
	for i := range keys {
		keys[i] = Record{Hash: d.Hash(fmt.Sprintf("N%d", i)), Color: checkpoint.Green}
	}
	first := slices.Clone(keys)
	slices.SortFunc(first, cmpRec)
	apply(t, d, first)
	r := rand.New(rand.NewPCG(3, 4))
	var recs []Record
	for _, i := range r.Perm(len(keys)) {
		k := keys[i]
		recs = append(recs, Record{Hash: k.Hash, Color: checkpoint.Yellow})
		if i%10 == 0 {
			recs = append(recs, Record{Hash: k.Hash, Delete: true})
		} else {
			recs = append(recs, Record{Hash: k.Hash, Color: checkpoint.Red, ValidUntil: 1640970000})
		}
	}
	half := len(recs) / 2
	frames := commitFrames(t, d, func() { apply(t, d, recs[:half], recs[half:]) })
	if pages := blockPages(len(keys), 4); frames > pages+4 {
		t.Errorf("the unsorted delta's commit: %d WAL frames, want at most %d pages of blocks and 4 more", frames, pages)
	}
	ws := map[string]want{}
	for i := range keys {
		w := want{true, checkpoint.Red, 1640970000}
		if i%10 == 0 {
			w = want{}
		}
		ws[fmt.Sprintf("N%d", i)] = w
	}
	check(t, d, 1000, ws)
	checkWithoutFilter(t, d, ws)
	if c, err := d.Count(context.Background()); err != nil || c.Deltas != 2*int64(len(keys)) {
		t.Fatalf("Count = %+v, %v; want %d run rows", c, err, 2*len(keys))
	}
}

// blockPages is the most pages rows of valid-untils w bytes wide take as
// blocks, the last page of the run before (which its first blocks fill up)
// included.
func blockPages(rows, w int) int64 {
	perPage := blocksPerPage * ((maxBlock - blockHeader) / (HashSize + 1 + w))
	return int64((rows+perPage-1)/perPage + 1)
}

// usedPages is d's pages less its free ones.
func usedPages(t *testing.T, d *DB) int64 {
	t.Helper()
	var pages, free int64
	if err := d.wr.QueryRow("SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count)").Scan(&pages, &free); err != nil {
		t.Fatal(err)
	}
	return pages - free
}

// commitFrames returns the WAL frames fn's commit writes to d. A reader on
// another handle keeps the checkpointer from copying (and the WAL from
// restarting) while fn runs.
func commitFrames(t *testing.T, d *DB, fn func()) int64 {
	t.Helper()
	if err := d.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", "file:"+d.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var one int
	tx.QueryRow("SELECT 1 FROM meta LIMIT 1").Scan(&one)
	fn()
	fi, err := os.Stat(d.Path() + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return (fi.Size() - 32) / (pageSize + 24)
}

// TestSnapshotPagesFull: a snapshot's rows reach the base in one bulk copy,
// so its pages are full: at least 9% fewer than the same rows written in
// key order into a table of the same shape (pages 88% full).
func TestSnapshotPagesFull(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	used := func() int64 { return usedPages(t, d) }
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

// TestCommitAfterFailedPut: once a Put has failed the update can only be
// rolled back: its Commit fails and the rows of the Puts before it are not
// stored either (they were, and the update half applied).
func TestCommitAfterFailedPut(t *testing.T) {
	ctx := context.Background()
	d := newTestDB(t, Options{})
	snapshot(t, d, 100)
	u, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Rollback()
	if err := u.Put(Record{Hash: d.Hash("K1"), Color: checkpoint.Red}); err != nil {
		t.Fatal(err)
	}
	if err := u.Put(Record{Hash: d.Hash("K2"), Color: 9}); err == nil {
		t.Fatal("a status out of range was written")
	}
	if err := u.Commit(); err == nil {
		t.Fatal("Commit after a failed Put succeeded")
	}
	check(t, d, 100, nil)
}
