package cache

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Statuses live in two tables with the same layout:
//
//   - status, the base, written by a snapshot in key order, so its pages
//     are full;
//   - status_delta, the rows changed since, written by deltas and imports,
//     a removal being a row with status -1 (tombstone).
//
// A lookup reads the delta table first (lookupQuery). Keys are random
// hashes, so a delta changing a tenth of a national list lands on nearly
// every page of the base: written there directly, each sync would rewrite
// the whole file through the WAL (and the SD card). Written to the delta
// table it costs about its own size. MergeDeltas folds the delta table into
// the base once it outgrows mergeFraction of it, so that cost is paid once
// per several deltas, and the file stays within a fraction of its base size.

// tombstone is the status of a delta row that removes its key.
const tombstone = -1

// mergeFraction: MergeDeltas merges when the delta table holds more than
// 1/mergeFraction of the base's rows. The file then holds, besides the base
// (27.6 bytes per key), at most that sixteenth plus the last delta, in use or
// as free pages kept for the next deltas: 1.7 bytes per key plus about 2.8
// per key for a delta changing a tenth of the keys. Daily deltas of 1% are
// merged once a week.
const mergeFraction = 16

// MergeStats describes one merge.
type MergeStats struct {
	Rows     int64         // delta rows merged (0: no merge was needed)
	Base     int64         // base rows after the merge
	Duration time.Duration // to commit
}

// MergeDeltas folds the delta table into the base table in one transaction
// when it holds more than 1/16 of the base's rows, or whenever it is not
// empty with force. Lookups keep answering, before and after alike, while it
// runs; an interrupted merge leaves both tables as they were.
func (d *DB) MergeDeltas(ctx context.Context, force bool) (MergeStats, error) {
	start := time.Now()
	var ms MergeStats
	tx, err := d.wr.BeginTx(ctx, nil)
	if err != nil {
		return ms, fmt.Errorf("merge status deltas: %w", classify(err))
	}
	defer tx.Rollback()
	var deltas, base int64
	var baseMeta sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM status_delta").Scan(&deltas); err != nil {
		return ms, fmt.Errorf("merge status deltas: count: %w", classify(err))
	}
	switch err := tx.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaBaseRows).Scan(&baseMeta); {
	case err == sql.ErrNoRows:
	case err != nil:
		return ms, fmt.Errorf("merge status deltas: read meta: %w", classify(err))
	}
	base = baseMeta.Int64
	ms.Base = base
	if deltas == 0 || (!force && deltas*mergeFraction <= base) {
		return ms, nil
	}
	var added, removed int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM status_delta d
		WHERE d.s >= 0 AND NOT EXISTS (SELECT 1 FROM status b WHERE b.h = d.h)`).Scan(&added); err != nil {
		return ms, fmt.Errorf("merge status deltas: count new keys: %w", classify(err))
	}
	r, err := tx.ExecContext(ctx, "DELETE FROM status WHERE h IN (SELECT h FROM status_delta WHERE s < 0)")
	if err != nil {
		return ms, fmt.Errorf("merge status deltas: removals: %w", classify(err))
	}
	removed, _ = r.RowsAffected()
	for _, q := range []string{
		"INSERT OR REPLACE INTO status(h, s, u) SELECT h, s, u FROM status_delta WHERE s >= 0",
		"DELETE FROM status_delta",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return ms, fmt.Errorf("merge status deltas: %w", classify(err))
		}
	}
	base += added - removed
	if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", metaBaseRows, base); err != nil {
		return ms, fmt.Errorf("merge status deltas: write meta: %w", classify(err))
	}
	gen, err := bumpDeltaGen(ctx, tx)
	if err != nil {
		return ms, fmt.Errorf("merge status deltas: %w", err)
	}
	d.filterMu.Lock()
	if err := tx.Commit(); err != nil {
		d.filterMu.Unlock()
		return ms, fmt.Errorf("merge status deltas: commit: %w", classify(err))
	}
	d.filter.Store(newDeltaFilter(filterCapacity(0, base), gen))
	d.filterMu.Unlock()
	d.committed()
	ms.Rows, ms.Base, ms.Duration = deltas, base, time.Since(start)
	return ms, nil
}

// EachStatus calls fn with every status a lookup can find, in key order,
// from one consistent view of the cache (for tools and tests).
func (d *DB) EachStatus(ctx context.Context, fn func(Record) error) error {
	tx, err := d.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("read statuses: %w", classify(err))
	}
	defer tx.Rollback()
	base, err := tx.QueryContext(ctx, "SELECT h, s, u FROM status ORDER BY h")
	if err != nil {
		return fmt.Errorf("read statuses: %w", classify(err))
	}
	defer base.Close()
	delta, err := tx.QueryContext(ctx, "SELECT h, s, u FROM status_delta ORDER BY h")
	if err != nil {
		return fmt.Errorf("read statuses: %w", classify(err))
	}
	defer delta.Close()
	next := func(rows *sql.Rows) (rec Record, ok bool, err error) {
		if !rows.Next() {
			return rec, false, rows.Err()
		}
		var h []byte
		var s int64
		if err := rows.Scan(&h, &s, &rec.ValidUntil); err != nil {
			return rec, false, err
		}
		if len(h) != HashSize {
			return rec, false, fmt.Errorf("%w: a status key is %d bytes, want %d", ErrCorrupt, len(h), HashSize)
		}
		copy(rec.Hash[:], h)
		rec.Color, rec.Delete = colorOf(s), s < 0
		return rec, true, nil
	}
	b, bok, err := next(base)
	if err != nil {
		return fmt.Errorf("read statuses: %w", err)
	}
	x, xok, err := next(delta)
	if err != nil {
		return fmt.Errorf("read statuses: %w", err)
	}
	for bok || xok {
		c := 1 // which comes first: -1 base, 0 both, 1 delta
		switch {
		case !xok:
			c = -1
		case bok:
			c = bytes.Compare(b.Hash[:], x.Hash[:])
		}
		if c < 0 {
			b.Delete = false // a base row is never a removal
			if err := fn(b); err != nil {
				return err
			}
		} else if !x.Delete {
			if err := fn(x); err != nil {
				return err
			}
		}
		if c <= 0 {
			if b, bok, err = next(base); err != nil {
				return fmt.Errorf("read statuses: %w", err)
			}
		}
		if c >= 0 {
			if x, xok, err = next(delta); err != nil {
				return fmt.Errorf("read statuses: %w", err)
			}
		}
	}
	return nil
}
