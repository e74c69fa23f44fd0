package cache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
)

// A lookup first asks an in-memory filter of the delta runs' keys (merge.go).
// When the key cannot be in any run, one probe of the base table answers,
// together with the runs' generation (meta delta_gen, bumped by every commit
// that changes the runs, in any process) read in the same query: if it is
// the generation the filter is complete for, the answer is right for that
// view of the file. A key the filter may hold is looked for in the runs
// whose own filters may hold it, newest first, each probe reading the
// generation too; the first row found is the answer (a tombstone: removed),
// none sends it on to the base. A generation the filter does not know has
// the lookup read every table at once (lookupQuery), and, when it comes
// from another process's commit, the filter rebuilt in the background. So a
// lookup costs one B-tree probe however many runs there are (two when a
// filter's maybe is wrong), and a writer in another process is never missed.

// filterBitsPerKey and filterProbes size the filters: blocked Bloom filters,
// one 64-byte block per key, 6 bits set in it; about 0.1% false positives
// at capacity.
const (
	filterBitsPerKey = 16
	filterProbes     = 6
	filterMinKeys    = 1 << 14
)

// bloom answers "may this key have been added?". Bits are only ever added.
type bloom struct {
	words []atomic.Uint64
	shift uint // 64 - log2(number of blocks)
	keys  atomic.Int64
	limit int64 // keys it was sized for
}

func newBloom(capacity int64) *bloom {
	capacity = max(capacity, filterMinKeys)
	blocks := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerKey/512))
	return &bloom{words: make([]atomic.Uint64, blocks*8), shift: uint(64 - bits.TrailingZeros64(blocks)), limit: capacity}
}

// block returns the index of h's first word. It is h's leading bits: keys
// added in increasing order (a chunk's rows) walk the filter from its start
// to its end, which the processor's prefetcher follows, where any other bits
// would put nearly every key in a block not in the caches.
func (f *bloom) block(h []byte) uint64 {
	return binary.BigEndian.Uint64(h[0:8]) >> f.shift * 8
}

// add records a key (a keyed hash: its bytes are uniform, so they index the
// filter directly).
func (f *bloom) add(h []byte) {
	block := f.block(h)
	x := binary.LittleEndian.Uint64(h[8:16])
	for range filterProbes {
		p := x & 511
		f.words[block+p>>6].Or(1 << (p & 63))
		x >>= 9
	}
	f.keys.Add(1)
}

// has reports whether h may have been added.
func (f *bloom) has(h []byte) bool {
	block := f.block(h)
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

// full reports whether f holds more keys than it was sized for (it then
// answers maybe more often, never no for a key it holds).
func (f *bloom) full() bool { return f.keys.Load() > f.limit }

// runFilter is the filter of one delta run.
type runFilter struct {
	g  int64
	id driver.Value // its first block id, boxed once: binding it allocates nothing
	f  *bloom
}

func newRunFilter(g int64, f *bloom) *runFilter {
	return &runFilter{g: g, id: runFirstID(g), f: f}
}

// deltaFilter is the filter of every run: all, the union, asked first, then
// each run's own. A merge or snapshot starts a new one.
type deltaFilter struct {
	gen  atomic.Int64 // delta_gen it is complete for; -1: none
	all  *bloom
	runs atomic.Pointer[[]*runFilter] // newest first
}

func newDeltaFilter(capacity int64, gen int64, runs []*runFilter) *deltaFilter {
	f := &deltaFilter{all: newBloom(capacity)}
	f.runs.Store(&runs)
	f.gen.Store(gen)
	return f
}

// addRun records a committed run (newest), then gen: a lookup that sees gen
// sees the run.
func (f *deltaFilter) addRun(r *runFilter, gen int64) {
	runs := append([]*runFilter{r}, *f.runs.Load()...)
	f.runs.Store(&runs)
	f.gen.Store(gen)
}

// filterCapacity is how many keys a new filter is sized for: the runs'
// current rows and then some, at least what they may hold before a merge.
func filterCapacity(deltaRows, baseRows int64) int64 {
	return max(2*deltaRows, 2*baseRows/mergeFraction)
}

// bumpDeltaGen advances delta_gen within tx and returns the new value.
func bumpDeltaGen(ctx context.Context, tx *sql.Tx) (int64, error) {
	gen, err := readDeltaGen(ctx, tx)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", metaDeltaGen, gen+1); err != nil {
		return 0, fmt.Errorf("write meta %s: %w", metaDeltaGen, classify(err))
	}
	return gen + 1, nil
}

func readDeltaGen(ctx context.Context, tx *sql.Tx) (int64, error) {
	var gen sql.NullInt64
	err := tx.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaDeltaGen).Scan(&gen)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read meta %s: %w", metaDeltaGen, classify(err))
	}
	return gen.Int64, nil
}

// loadFilter builds the filter from the runs as they are now.
func (d *DB) loadFilter(ctx context.Context) error {
	d.filterMu.Lock()
	defer d.filterMu.Unlock()
	tx, err := d.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("load delta filter: %w", classify(err))
	}
	defer tx.Rollback()
	var gen, base sql.NullInt64
	for _, q := range []struct {
		dst any
		q   string
	}{
		{&gen, "SELECT v FROM meta WHERE k = '" + metaDeltaGen + "'"},
		{&base, "SELECT v FROM meta WHERE k = '" + metaBaseRows + "'"},
	} {
		if err := tx.QueryRowContext(ctx, q.q).Scan(q.dst); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("load delta filter: %w", classify(err))
		}
	}
	runs, err := readRuns(ctx, tx)
	if err != nil {
		return fmt.Errorf("load delta filter: %w", err)
	}
	var rows int64
	byG := map[int64]*runFilter{}
	rfs := make([]*runFilter, len(runs))
	for i, r := range runs {
		rows += r.n
		rf := newRunFilter(r.g, newBloom(r.n))
		rfs[len(runs)-1-i], byG[r.g] = rf, rf
	}
	f := newDeltaFilter(filterCapacity(rows, base.Int64), gen.Int64, rfs)
	if err := addRunKeys(ctx, tx, f, byG); err != nil {
		return fmt.Errorf("load delta filter: %w", err)
	}
	if !gen.Valid {
		f.gen.Store(-1) // no generation recorded: the filter is never trusted
	}
	d.filter.Store(f)
	return nil
}

// addRunKeys adds every key of the runs to f and to the run's filter.
func addRunKeys(ctx context.Context, tx *sql.Tx, f *deltaFilter, byG map[int64]*runFilter) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, b FROM status_block")
	if err != nil {
		return classify(err)
	}
	return eachRunRow(rows, func(g int64, h []byte, _, _ int64) error {
		f.all.add(h)
		if rf := byG[g]; rf != nil {
			rf.f.add(h)
		} else {
			// A run status_runs does not list: never trusted.
			f.gen.Store(-1)
		}
		return nil
	})
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
			d.log.Warn("cache delta filter reload failed; lookups read every table meanwhile", "err", err)
		}
	}()
}

// commitTracked commits u's transaction and keeps the delta filter true to
// it: a snapshot (u.base, baseRows in the base table) starts an empty
// filter, an update that wrote a run adds the run's filter and the
// generation it is proven current by, and a filter that was reloaded
// meanwhile, is behind another process's commit or is full is rebuilt
// (lookups read every table until then).
func (d *DB) commitTracked(u *Update, baseRows int64) error {
	var gen int64
	if u.base || u.dn > 0 {
		var err error
		if err := u.ctx.Err(); err != nil {
			return err
		}
		if gen, err = bumpDeltaGen(u.wctx, u.tx); err != nil {
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
		d.filter.Store(newDeltaFilter(filterCapacity(0, baseRows), gen, nil))
	case u.dn == 0:
	case f == u.f && f.gen.Load() == gen-1 && gen == u.run && !f.all.full():
		// It holds this update's keys and every earlier one.
		f.addRun(newRunFilter(u.run, u.rf), gen)
	default:
		d.reloadFilter()
	}
	return nil
}
