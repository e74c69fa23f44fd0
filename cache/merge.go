package cache

import (
	"bytes"
	"container/heap"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Statuses live in two places:
//
//   - status, the base, written by a snapshot or a merge in key order
//     through the stage (stage.go), so its pages are full;
//   - status_block, the runs: each delta (or import) writes its rows as one
//     run g (the delta_gen its commit records; status_runs lists the runs
//     and their sizes), packed into blocks (block.go), a removal being a
//     row with status -1 (tombstone). The newest run holding a key decides
//     it; a key in no run is the base's.
//
// Keys are random hashes. Written into the base, a delta changing a
// hundredth of a national list would land on nearly every page and rewrite
// the whole file through the WAL (and the SD card); written into one delta
// table, each delta would rewrite the earlier deltas' pages. A run is
// written in key order after every earlier run, so a delta costs about its
// own size, however many came before it. MergeDeltas folds the runs into
// the base once they outgrow 1/mergeFraction of it (a rewrite of the base
// at its full page fill), and compacts the newest runs into one when there
// are more than maxRuns, so a lookup never asks more than maxRuns filters.

// tombstone is the status of a run row that removes its key.
const tombstone = -1

// mergeFraction: MergeDeltas merges when the runs hold more than
// 1/mergeFraction of the base's rows. A merge rewrites the base (about
// three times its size written, stage and WAL and checkpoint): the rarer,
// the less the SD card wears; the runs meanwhile cost about 19 bytes a row
// on disk (block.go) and 4 bytes a row of memory for their filters, so at
// the most 2.4 bytes a key and 0.5 a key. Daily deltas of 1% are merged
// every 12 days.
const mergeFraction = 8

// maxRuns is the most runs lookups ask; past it the newest half are
// compacted into one (hourly deltas: once a day and a third).
const maxRuns = 32

// MergeStats describes one merge or compaction.
type MergeStats struct {
	Rows      int64 // delta rows merged into the base, or compacted (0: nothing was needed)
	Runs      int   // runs merged or compacted
	Compacted bool  // the newest runs were compacted into one; the base is untouched
	Base      int64 // base rows after the merge
	Duration  time.Duration
}

// run is one delta run as status_runs lists it.
type run struct{ g, n int64 }

// readRuns lists the runs, oldest first.
func readRuns(ctx context.Context, tx *sql.Tx) ([]run, error) {
	rows, err := tx.QueryContext(ctx, "SELECT g, n FROM status_runs ORDER BY g")
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", classify(err))
	}
	defer rows.Close()
	var runs []run
	for rows.Next() {
		var r run
		if err := rows.Scan(&r.g, &r.n); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	return runs, classify(rows.Err())
}

// MergeDeltas, in one transaction, folds every run into the base table when
// the runs hold more than 1/mergeFraction of the base's rows (or whenever
// there is a run, with force), or else compacts the newest half of the runs
// into one when there are more than maxRuns. Lookups keep answering, before
// and after alike, while it runs; an interrupted merge leaves the cache as
// it was.
func (d *DB) MergeDeltas(ctx context.Context, force bool) (MergeStats, error) {
	start := time.Now()
	var ms MergeStats
	tx, err := d.wr.BeginTx(ctx, nil)
	if err != nil {
		return ms, fmt.Errorf("merge status deltas: %w", classify(err))
	}
	defer tx.Rollback()
	runs, err := readRuns(ctx, tx)
	if err != nil {
		return ms, fmt.Errorf("merge status deltas: %w", err)
	}
	var baseMeta sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaBaseRows).Scan(&baseMeta); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ms, fmt.Errorf("merge status deltas: read meta: %w", classify(err))
	}
	ms.Base = baseMeta.Int64
	for _, r := range runs {
		ms.Rows += r.n
	}
	switch {
	case len(runs) > 0 && (force || ms.Rows*mergeFraction > ms.Base):
		ms.Runs = len(runs)
		ms.Base, err = d.mergeRuns(ctx, tx, runs)
	case len(runs) > maxRuns:
		ms.Runs, ms.Compacted = (len(runs)+1)/2, true
		ms.Rows, err = d.compactRuns(ctx, tx, runs[len(runs)-ms.Runs:])
	default:
		return MergeStats{Base: ms.Base}, nil
	}
	if err != nil {
		return ms, fmt.Errorf("merge status deltas: %w", err)
	}
	d.committed()
	ms.Duration = time.Since(start)
	return ms, nil
}

// mergeRuns rewrites the base with every run folded in: the base and the
// runs are read side by side in key order (mergeStreams), the newest row of
// each key written to the stage in that order, removals left out, and the
// stage copied back in bulk, full pages again. Each stage page is written
// once, at the end of the table: folding the runs into a copy of the base
// in place instead touched its pages at random, which under a small page
// cache wrote many of them back again and again (at 100M keys 12.6 GB for
// a 2.3 GB base). Then it commits tx; it returns the base's rows.
func (d *DB) mergeRuns(ctx context.Context, tx *sql.Tx, runs []run) (int64, error) {
	if err := startStage(ctx, tx); err != nil {
		return 0, err
	}
	const ins = "INSERT INTO stage.status(h, s, u) VALUES "
	w, err := newRowWriter(ctx, d.wcon.last.Load(), ins+tuples("(?,?,?)", batchRows), ins+"(?,?,?)", 3)
	if err != nil {
		return 0, fmt.Errorf("prepare the merge: %w", err)
	}
	defer w.close()
	err = mergeStreams(ctx, tx, true, runs, func(h []byte, s, u int64) error {
		if s < 0 {
			return nil
		}
		return w.add(h, s, shortUntil(u))
	})
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		return 0, fmt.Errorf("write the merged statuses to the stage: %w", err)
	}
	n, err := fromStage(ctx, tx)
	if err != nil {
		return 0, err
	}
	for _, q := range []string{"DELETE FROM status_block", "DELETE FROM status_runs"} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("clear the runs: %w", classify(err))
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", metaBaseRows, n); err != nil {
		return 0, fmt.Errorf("write meta: %w", classify(err))
	}
	gen, err := bumpDeltaGen(ctx, tx)
	if err != nil {
		return 0, err
	}
	d.filterMu.Lock()
	defer d.filterMu.Unlock()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", classify(err))
	}
	d.filter.Store(newDeltaFilter(filterCapacity(0, n), gen, nil))
	return n, nil
}

// compactRuns folds pick (the newest runs, oldest first) into one new run,
// removals kept (older runs or the base may hold those keys): each key's
// newest row written to the stage in key order, then packed as the new run.
// It drops them and commits tx, and returns the new run's rows.
func (d *DB) compactRuns(ctx context.Context, tx *sql.Tx, pick []run) (int64, error) {
	before, err := readDeltaGen(ctx, tx)
	if err != nil {
		return 0, err
	}
	gen, err := bumpDeltaGen(ctx, tx) // the new run's g
	if err != nil {
		return 0, err
	}
	if err := d.stageRuns(ctx, tx, pick); err != nil {
		return 0, err
	}
	n, rf, err := replaceRuns(ctx, tx, pick, gen)
	if err != nil {
		return 0, err
	}
	d.filterMu.Lock()
	defer d.filterMu.Unlock()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", classify(err))
	}
	// The union filter holds the same keys; the runs' filters change.
	f := d.filter.Load()
	if f == nil || f.gen.Load() != before {
		d.reloadFilter()
		return n, nil
	}
	runs := []*runFilter{rf}
	for _, r := range *f.runs.Load() {
		if r.g < pick[0].g {
			runs = append(runs, r)
		}
	}
	d.filter.Store(newDeltaFilterOf(f.all, gen, runs))
	return n, nil
}

// replaceRuns drops the runs pick and stores the stage's rows as run gen
// with its filter, emptying the stage, in tx. It returns the run's rows.
func replaceRuns(ctx context.Context, tx *sql.Tx, pick []run, gen int64) (int64, *runFilter, error) {
	for _, q := range []struct {
		q      string
		lo, hi int64
	}{
		{"DELETE FROM status_block WHERE id >= ? AND id < ?", runFirstID(pick[0].g), runFirstID(gen)},
		{"DELETE FROM status_runs WHERE g >= ? AND g < ?", pick[0].g, gen},
	} {
		if _, err := tx.ExecContext(ctx, q.q, q.lo, q.hi); err != nil {
			return 0, nil, fmt.Errorf("drop the compacted runs: %w", classify(err))
		}
	}
	var most int64 // the rows of the runs picked: at least the new run's
	for _, r := range pick {
		most += r.n
	}
	rf := newRunFilter(gen, newBloom(most))
	n, err := packStage(ctx, tx, gen, rf.f.add)
	if err != nil {
		return 0, nil, fmt.Errorf("store the compacted run: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO status_runs(g, n) VALUES (?, ?)", gen, n); err != nil {
		return 0, nil, fmt.Errorf("record the run: %w", classify(err))
	}
	return n, rf, nil
}

// stageRuns writes each key's newest row of runs, in key order, into a new
// stage, in tx.
func (d *DB) stageRuns(ctx context.Context, tx *sql.Tx, runs []run) error {
	if err := startStage(ctx, tx); err != nil {
		return err
	}
	const ins = "INSERT INTO stage.status(h, s, u) VALUES "
	w, err := newRowWriter(ctx, d.wcon.last.Load(), ins+tuples("(?,?,?)", batchRows), ins+"(?,?,?)", 3)
	if err != nil {
		return fmt.Errorf("prepare the compaction: %w", err)
	}
	defer w.close()
	err = mergeStreams(ctx, tx, false, runs, func(h []byte, s, u int64) error { return w.add(h, s, u) })
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		return fmt.Errorf("write the compacted statuses to the stage: %w", err)
	}
	return nil
}

// newDeltaFilterOf is a filter with the union all.
func newDeltaFilterOf(all *bloom, gen int64, runs []*runFilter) *deltaFilter {
	f := &deltaFilter{all: all}
	f.runs.Store(&runs)
	f.gen.Store(gen)
	return f
}

// stream is one source of rows in key order: the base or a run.
type stream struct {
	rows   *sql.Rows
	packed bool // rows are a run's blocks (b), not rows (h, s, u)
	blk    block
	bn, bw int   // the block's rows and valid-until width
	bi     int   // its next row
	prio   int64 // the higher wins a key: a run's g; the base 0
	h      [HashSize]byte
	s, u   int64
}

func (st *stream) next() (bool, error) {
	if st.packed {
		return st.nextPacked()
	}
	if !st.rows.Next() {
		return false, classify(st.rows.Err())
	}
	var h sql.RawBytes
	if err := st.rows.Scan(&h, &st.s, &st.u); err != nil {
		return false, err
	}
	if len(h) != HashSize {
		return false, fmt.Errorf("%w: a status key is %d bytes, want %d", ErrCorrupt, len(h), HashSize)
	}
	copy(st.h[:], h)
	return true, nil
}

// nextPacked reads a run's next row, and its next block when one is done.
func (st *stream) nextPacked() (bool, error) {
	for st.bi >= st.bn {
		if !st.rows.Next() {
			return false, classify(st.rows.Err())
		}
		if err := st.rows.Scan((*[]byte)(&st.blk)); err != nil {
			return false, fmt.Errorf("read run %d's blocks: %w", st.prio, err)
		}
		n, w, err := st.blk.dims()
		if err != nil {
			return false, fmt.Errorf("read run %d's blocks: %w", st.prio, err)
		}
		st.bn, st.bw, st.bi = n, w, 0
	}
	h, s, u := st.blk.row(st.bn, st.bw, st.bi)
	copy(st.h[:], h)
	st.s, st.u = s, u
	st.bi++
	return true, nil
}

// streams is a heap of streams by key, then the higher prio first.
type streams []*stream

func (s streams) Len() int { return len(s) }
func (s streams) Less(i, j int) bool {
	if c := bytes.Compare(s[i].h[:], s[j].h[:]); c != 0 {
		return c < 0
	}
	return s[i].prio > s[j].prio
}
func (s streams) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s *streams) Push(x any)   { *s = append(*s, x.(*stream)) }
func (s *streams) Pop() any {
	old := *s
	x := old[len(old)-1]
	*s = old[:len(old)-1]
	return x
}

// mergeStreams calls fn, in key order, with each key's row from the newest
// of runs holding it, or from the base (with base) if none does; removals
// included. The rows fn gets are only valid during the call.
func mergeStreams(ctx context.Context, tx *sql.Tx, base bool, runs []run, fn func(h []byte, s, u int64) error) error {
	var all streams
	defer func() {
		for _, st := range all {
			st.rows.Close()
		}
	}()
	open := func(prio int64, q string, args ...any) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read statuses: %w", classify(err))
		}
		all = append(all, &stream{rows: rows, prio: prio, packed: prio > 0})
		return nil
	}
	if base {
		if err := open(0, "SELECT h, s, u FROM status ORDER BY h"); err != nil {
			return err
		}
	}
	for _, r := range runs {
		q := "SELECT b FROM status_block WHERE id BETWEEN ? AND ? ORDER BY id"
		if err := open(r.g, q, runFirstID(r.g), runFirstID(r.g+1)-1); err != nil {
			return err
		}
	}
	h := make(streams, 0, len(all))
	for _, st := range all {
		switch ok, err := st.next(); {
		case err != nil:
			return fmt.Errorf("read statuses: %w", err)
		case ok:
			h = append(h, st)
		}
	}
	heap.Init(&h)
	var last [HashSize]byte
	for first := true; len(h) > 0; first = false {
		st := h[0]
		if first || st.h != last {
			if err := fn(st.h[:], st.s, st.u); err != nil {
				return err
			}
			last = st.h
		}
		switch ok, err := st.next(); {
		case err != nil:
			return fmt.Errorf("read statuses: %w", err)
		case ok:
			heap.Fix(&h, 0)
		default:
			heap.Pop(&h)
		}
	}
	return nil
}

// EachStatus calls fn with every status a lookup can find, in key order,
// from one consistent view of the cache (for tools and tests).
func (d *DB) EachStatus(ctx context.Context, fn func(Record) error) error {
	tx, err := d.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("read statuses: %w", classify(err))
	}
	defer tx.Rollback()
	runs, err := readRuns(ctx, tx)
	if err != nil {
		return err
	}
	return mergeStreams(ctx, tx, true, runs, func(h []byte, s, u int64) error {
		if s < 0 {
			return nil
		}
		r := Record{Color: colorOf(s), ValidUntil: loadUntil(u)}
		copy(r.Hash[:], h)
		return fn(r)
	})
}

// countStatuses counts the statuses a lookup can find: the base's rows,
// plus each key whose newest run row is a status and which the base lacks,
// less each key whose newest run row is a removal and which the base holds.
func (d *DB) countStatuses(ctx context.Context) (int64, error) {
	tx, err := d.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, classify(err)
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM status").Scan(&n); err != nil {
		return 0, classify(err)
	}
	runs, err := readRuns(ctx, tx)
	if err != nil {
		return 0, err
	}
	probe, err := tx.PrepareContext(ctx, "SELECT count(*) FROM status WHERE h = ?")
	if err != nil {
		return 0, classify(err)
	}
	defer probe.Close()
	err = mergeStreams(ctx, tx, false, runs, func(h []byte, s, _ int64) error {
		var inBase int64
		if err := probe.QueryRowContext(ctx, h).Scan(&inBase); err != nil {
			return classify(err)
		}
		switch {
		case s >= 0 && inBase == 0:
			n++
		case s < 0 && inBase > 0:
			n--
		}
		return nil
	})
	return n, err
}
