package cache

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
)

// A lookup first asks an in-memory filter of the delta table's keys. When the
// key cannot be there, one probe of the base table answers, together with the
// delta table's generation (meta delta_gen, bumped by every commit that
// changes the delta table, in any process) read in the same query: if it is
// the generation the filter is complete for, the answer is right for that
// view of the file. Otherwise the lookup reads both tables (lookupQuery), and
// a generation from another process's commit has the filter rebuilt in the
// background. A key the filter may hold reads its delta row first: a row
// there is the answer in any view that holds it (a tombstone: removed); with
// none, the base probe above follows. So a lookup costs one B-tree probe
// however large the delta table grows (two when the filter's maybe is
// wrong), and a writer in another process is never missed.

// filterBitsPerKey and filterProbes size the filter: a blocked Bloom filter,
// one 64-byte block per key, 6 bits set in it; about 0.1% false positives
// at its capacity.
const (
	filterBitsPerKey = 16
	filterProbes     = 6
	filterMinKeys    = 1 << 14
)

// deltaFilter answers "may this key be in the delta table?". Bits are only
// ever added; a merge or snapshot starts a new filter.
type deltaFilter struct {
	gen   atomic.Int64 // delta_gen it holds every key of; -1: none
	words []atomic.Uint64
	mask  uint64 // number of blocks - 1
	keys  atomic.Int64
	limit int64 // keys it was sized for
}

func newDeltaFilter(capacity int64, gen int64) *deltaFilter {
	capacity = max(capacity, filterMinKeys)
	blocks := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerKey/512))
	f := &deltaFilter{words: make([]atomic.Uint64, blocks*8), mask: blocks - 1, limit: capacity}
	f.gen.Store(gen)
	return f
}

// add records a key (a keyed hash: its bytes are uniform, so they index the
// filter directly).
func (f *deltaFilter) add(h []byte) {
	block := (binary.LittleEndian.Uint64(h[0:8]) & f.mask) * 8
	x := binary.LittleEndian.Uint64(h[8:16])
	for range filterProbes {
		p := x & 511
		f.words[block+p>>6].Or(1 << (p & 63))
		x >>= 9
	}
	f.keys.Add(1)
}

// has reports whether h may have been added.
func (f *deltaFilter) has(h []byte) bool {
	block := (binary.LittleEndian.Uint64(h[0:8]) & f.mask) * 8
	x := binary.LittleEndian.Uint64(h[8:16])
	for range filterProbes {
		p := x & 511
		if f.words[block+p>>6].Load()&(1<<(p&63)) == 0 {
			return false
		}
		x >>= 9
	}
	return true
}

// filterCapacity is how many keys a new filter is sized for: the delta
// table's current rows and then some, at least what it may hold before a merge.
func filterCapacity(deltaRows, baseRows int64) int64 {
	return max(2*deltaRows, 2*baseRows/mergeFraction)
}

// bumpDeltaGen advances delta_gen within tx and returns the new value.
func bumpDeltaGen(ctx context.Context, tx *sql.Tx) (int64, error) {
	var gen sql.NullInt64
	err := tx.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaDeltaGen).Scan(&gen)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read meta %s: %w", metaDeltaGen, classify(err))
	}
	next := gen.Int64 + 1
	if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", metaDeltaGen, next); err != nil {
		return 0, fmt.Errorf("write meta %s: %w", metaDeltaGen, classify(err))
	}
	return next, nil
}

// loadFilter builds the filter from the delta table as it is now.
func (d *DB) loadFilter(ctx context.Context) error {
	d.filterMu.Lock()
	defer d.filterMu.Unlock()
	tx, err := d.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("load delta filter: %w", classify(err))
	}
	defer tx.Rollback()
	var gen, base sql.NullInt64
	var deltas int64
	for _, q := range []struct {
		dst any
		q   string
	}{
		{&gen, "SELECT v FROM meta WHERE k = '" + metaDeltaGen + "'"},
		{&base, "SELECT v FROM meta WHERE k = '" + metaBaseRows + "'"},
		{&deltas, "SELECT count(*) FROM status_delta"},
	} {
		if err := tx.QueryRowContext(ctx, q.q).Scan(q.dst); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("load delta filter: %w", classify(err))
		}
	}
	f := newDeltaFilter(filterCapacity(deltas, base.Int64), gen.Int64)
	rows, err := tx.QueryContext(ctx, "SELECT h FROM status_delta")
	if err != nil {
		return fmt.Errorf("load delta filter: %w", classify(err))
	}
	defer rows.Close()
	var h []byte
	for rows.Next() {
		if err := rows.Scan(&h); err != nil {
			return fmt.Errorf("load delta filter: %w", err)
		}
		if len(h) >= HashSize {
			f.add(h)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load delta filter: %w", classify(err))
	}
	if !gen.Valid {
		f.gen.Store(-1) // no generation recorded: the filter is never trusted
	}
	d.filter.Store(f)
	return nil
}

// reloadFilter rebuilds the filter in the background, once at a time.
func (d *DB) reloadFilter() {
	if d.closed.Load() || !d.filterBusy.CompareAndSwap(false, true) {
		return
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		defer d.filterBusy.Store(false)
		if err := d.loadFilter(context.Background()); err != nil && !d.closed.Load() {
			d.log.Warn("cache delta filter reload failed; lookups read both tables meanwhile", "err", err)
		}
	}()
}

// commitTracked commits u's transaction and keeps the delta filter true to
// it: a snapshot (u.base, baseRows in the base table) starts an empty
// filter, an update that wrote delta rows bumps the generation the filter
// is proven current by, and a filter that was reloaded meanwhile, is behind
// another process's commit or is full is rebuilt (lookups read both tables
// until then).
func (d *DB) commitTracked(u *Update, baseRows int64) error {
	var gen int64
	if u.base || u.dn > 0 {
		var err error
		if gen, err = bumpDeltaGen(u.ctx, u.tx); err != nil {
			return err
		}
	}
	d.filterMu.Lock()
	defer d.filterMu.Unlock()
	if err := u.tx.Commit(); err != nil {
		return fmt.Errorf("commit cache update: %w", classify(err))
	}
	switch f := d.filter.Load(); {
	case u.base:
		d.filter.Store(newDeltaFilter(filterCapacity(0, baseRows), gen))
	case u.dn == 0:
	case f == u.f && f.gen.Load() == gen-1 && f.keys.Load() <= f.limit:
		f.gen.Store(gen) // it holds this update's keys and every earlier one
	default:
		d.reloadFilter()
	}
	return nil
}
