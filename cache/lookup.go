package cache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"checkpoint"
)

// readPragmas tune every reading connection: the file is memory-mapped (no
// system call per page) and each connection keeps a larger page cache.
var readPragmas = []string{"PRAGMA mmap_size = 4294967296", "PRAGMA cache_size = -16384"}

// connector opens connections to one file and runs pragmas on each.
type connector struct {
	dsn     string
	pragmas []string
	drv     sqlite3.SQLiteDriver
	last    atomic.Pointer[sqlite3.SQLiteConn] // the connection made last (the writer has one)
}

func (c *connector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	sc := conn.(*sqlite3.SQLiteConn)
	for _, p := range c.pragmas {
		if _, err := sc.Exec(p, nil); err != nil {
			sc.Close()
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	c.last.Store(sc)
	return sc, nil
}

func (c *connector) Driver() driver.Driver { return &c.drv }

// lookupQuery reads what a key's status may be, with no help from the
// filter, in one view of the file: the block of each run that would hold
// key ?1 (whose leading bits are ?2), newest run first, then its base row.
// The first run whose block holds the key decides (query).
const lookupQuery = `SELECT g, b, NULL, NULL FROM (SELECT r.g AS g, (SELECT b FROM status_block
	WHERE id BETWEEN r.g << ` + blockBits + ` AND (r.g << ` + blockBits + `) + ?2 ORDER BY id DESC LIMIT 1) AS b FROM status_runs r)
UNION ALL
SELECT -1, NULL, s, u FROM status WHERE h = ?1
ORDER BY 1 DESC`

// blockBits is blockKeyBits in SQL.
const blockBits = "40"

// lookupBaseQuery probes the base table alone, with the runs' generation
// read in the same view of the file (filter.go). It always gives one row
// (an aggregate); count(*) says whether the key is there.
const lookupBaseQuery = `SELECT (SELECT v FROM meta WHERE k = '` + metaDeltaGen + `'), s, u, count(*) FROM status WHERE h = ?1`

// lookupRunQuery reads the block of a run that would hold a key, from the
// run's first block id ?1 and the key's leading bits ?2, with the
// generation. It always gives one row; the block is NULL when the run has
// none.
const lookupRunQuery = `SELECT (SELECT v FROM meta WHERE k = '` + metaDeltaGen + `'),
	(SELECT b FROM status_block WHERE id BETWEEN ?1 AND ?1 + ?2 ORDER BY id DESC LIMIT 1)`

// lookupConn is a reading connection with the status lookups prepared: the
// hot path runs on it directly, without database/sql's bookkeeping.
//
// Its buffers are allocated once, so a lookup allocates only what the
// driver itself does (the rows object, a boxed valid-until): fewer
// allocations mean fewer garbage collections and fewer fresh heap pages
// faulted in, which is where part of the latency tail came from.
type lookupConn struct {
	c     *sqlite3.SQLiteConn
	sts   []driver.Stmt
	q     driver.StmtQueryContext // lookupQuery
	bq    driver.StmtQueryContext // lookupBaseQuery
	rq    driver.StmtQueryContext // lookupRunQuery
	h     []byte                  // the key bound to the statements (HashSize bytes)
	args  []driver.NamedValue     // args[0].Value is h, boxed once
	qargs []driver.NamedValue     // h and its leading bits (set per lookup)
	rargs []driver.NamedValue     // the run's first block id (set per probe) and h's leading bits
	dest  []driver.Value
	bdest []driver.Value
	rdest []driver.Value
}

func (l *lookupConn) close() {
	for _, st := range l.sts {
		st.Close()
	}
	l.c.Close()
}

func (d *DB) getLookup() (*lookupConn, error) {
	select {
	case l := <-d.lookups:
		return l, nil
	default:
	}
	c, err := d.rconn.Connect(context.Background())
	if err != nil {
		return nil, err
	}
	sc := c.(*sqlite3.SQLiteConn)
	l := &lookupConn{
		c:     sc,
		h:     make([]byte, HashSize),
		dest:  make([]driver.Value, 4),
		bdest: make([]driver.Value, 4),
		rdest: make([]driver.Value, 2),
	}
	l.args = []driver.NamedValue{{Ordinal: 1, Value: l.h}}
	l.qargs = []driver.NamedValue{{Ordinal: 1, Value: l.h}, {Ordinal: 2}}
	l.rargs = []driver.NamedValue{{Ordinal: 1}, {Ordinal: 2}}
	for _, p := range []struct {
		q   *driver.StmtQueryContext
		sql string
	}{{&l.q, lookupQuery}, {&l.bq, lookupBaseQuery}, {&l.rq, lookupRunQuery}} {
		st, err := sc.Prepare(p.sql)
		if err != nil {
			l.close()
			return nil, err
		}
		l.sts = append(l.sts, st)
		*p.q = st.(driver.StmtQueryContext)
	}
	return l, nil
}

func (d *DB) putLookup(l *lookupConn) {
	if d.closed.Load() {
		l.close()
		return
	}
	select {
	case d.lookups <- l:
	default:
		l.close()
	}
}

// hasher computes keyed hashes under one key, reusing HMAC states and
// their buffers (a hash allocates nothing once the pool is warm).
type hasher struct {
	key  []byte
	pool sync.Pool // of *hmacState
}

// hmacState is one HMAC with the buffers its input and output go through.
type hmacState struct {
	m   hash.Hash
	in  []byte
	out [sha256.Size]byte
}

func newHasher(key []byte) *hasher {
	h := &hasher{key: append([]byte(nil), key...)}
	h.pool.New = func() any { return &hmacState{m: hmac.New(sha256.New, h.key)} }
	return h
}

// maxPooledKey bounds the input buffer a pooled state keeps.
const maxPooledKey = 4 << 10

// sum returns the keyed hash of key.
func (h *hasher) sum(key string) [HashSize]byte {
	st := h.pool.Get().(*hmacState)
	st.m.Reset()
	st.in = append(st.in[:0], key...)
	st.m.Write(st.in)
	st.m.Sum(st.out[:0])
	var out [HashSize]byte
	copy(out[:], st.out[:])
	if cap(st.in) > maxPooledKey {
		st.in = nil
	}
	h.pool.Put(st)
	return out
}

// Hash returns the keyed hash of a credential key under the cache's key.
func (d *DB) Hash(key string) [HashSize]byte { return d.key.Load().sum(key) }

// KeyHash returns the keyed hash of key in hex (implements policy.Store).
func (d *DB) KeyHash(key string) string {
	h := d.Hash(key)
	return hex.EncodeToString(h[:])
}

// HashKey returns the HMAC key the cache hashes credential keys with.
func (d *DB) HashKey() []byte { return append([]byte(nil), d.key.Load().key...) }

// Status returns the cached status of a credential key (implements policy.Store).
func (d *DB) Status(ctx context.Context, key string) (checkpoint.StatusEntry, bool, error) {
	h := d.Hash(key)
	return d.StatusHash(ctx, h[:])
}

// StatusHash returns the cached status for an already hashed key.
func (d *DB) StatusHash(ctx context.Context, h []byte) (checkpoint.StatusEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return checkpoint.StatusEntry{}, false, err
	}
	if d.closed.Load() {
		return checkpoint.StatusEntry{}, false, errors.New("look up status: cache closed")
	}
	l, err := d.getLookup()
	if err != nil {
		return checkpoint.StatusEntry{}, false, fmt.Errorf("look up status: %w", classify(err))
	}
	s, u, ok, err := d.lookup(l, h)
	if err != nil {
		l.close()
		return checkpoint.StatusEntry{}, false, fmt.Errorf("look up status: %w", classify(err))
	}
	d.putLookup(l)
	if !ok {
		return checkpoint.StatusEntry{}, false, nil
	}
	e := checkpoint.StatusEntry{Color: colorOf(s)}
	if u = loadUntil(u); u != 0 {
		e.ValidUntil = time.Unix(u, 0).UTC()
	}
	return e, true, nil
}

// colorOf maps a stored status to its colour; a value out of range (a
// damaged row) reads as red.
func colorOf(s int64) checkpoint.Color {
	if s < 0 || s > int64(checkpoint.Green) {
		return checkpoint.Red
	}
	return checkpoint.Color(s)
}

// lookup finds h's status on l. The filter gives the generation it is
// complete for before it is asked (a run's bits are set before its
// generation is stored), then:
//   - key maybe in some run: the runs whose filters may hold it, newest
//     first; the first row found is the answer, if the generation read with
//     it is the filter's (no newer run can then hold the key);
//   - otherwise the base row, if the generation read with it is the filter's;
//   - otherwise every table at once (lookupQuery).
func (d *DB) lookup(l *lookupConn, h []byte) (s, u int64, ok bool, err error) {
	if len(h) != HashSize {
		return 0, 0, false, nil // every stored key is HashSize bytes
	}
	copy(l.h, h) // the driver copies the bound bytes when a query starts
	f := d.filter.Load()
	if f == nil {
		return l.query()
	}
	gen := f.gen.Load()
	if gen < 0 {
		return l.query()
	}
	if f.all.has(h) {
		l.rargs[1].Value = keyPrefix(h) // boxed here: a lookup the filter answers allocates nothing more
		for _, r := range *f.runs.Load() {
			if !r.f.has(h) {
				continue
			}
			l.rargs[0].Value = r.id
			if _, err := l.run(l.rq, l.rargs, l.rdest); err != nil {
				return 0, 0, false, err
			}
			if !d.current(l.rdest[0], gen) {
				return l.query()
			}
			b, _ := l.rdest[1].([]byte)
			if b == nil {
				continue
			}
			s, u, found, err := block(b).find(h)
			if err != nil {
				return 0, 0, false, err
			}
			if found {
				return s, u, s != tombstone, nil
			}
			// A false positive: on to older runs, then the base.
		}
	}
	if _, err := l.run(l.bq, l.args, l.bdest); err != nil {
		return 0, 0, false, err
	}
	if !d.current(l.bdest[0], gen) {
		return l.query()
	}
	s, _ = l.bdest[1].(int64)
	u, _ = l.bdest[2].(int64)
	n, _ := l.bdest[3].(int64)
	return s, u, n > 0, nil
}

// current reports whether the delta_gen read with a probe is gen, the
// filter's. A newer one comes from another process (or a commit whose
// filter update is still under way): the filter is reloaded, and that
// process's WAL frames wait for this process's checkpointer (pin.go).
func (d *DB) current(dbGen driver.Value, gen int64) bool {
	g, ok := dbGen.(int64)
	if ok && g == gen {
		return true
	}
	if g > gen {
		d.reloadFilter()
		d.committed()
	}
	return false
}

// run runs one of l's statements with args bound and reads its first row into
// dest; found is false when there is none. context.Background: the driver
// then runs it without a cancellation watcher (a lookup takes microseconds).
func (l *lookupConn) run(q driver.StmtQueryContext, args []driver.NamedValue, dest []driver.Value) (found bool, err error) {
	rows, err := q.QueryContext(context.Background(), args)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	switch err := rows.Next(dest); {
	case err == io.EOF:
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// query runs lookupQuery for l.h: status and valid-until from the newest
// run holding it, or else from the base.
func (l *lookupConn) query() (s, u int64, ok bool, err error) {
	l.qargs[1].Value = keyPrefix(l.h)
	rows, err := l.q.QueryContext(context.Background(), l.qargs)
	if err != nil {
		return 0, 0, false, err
	}
	defer rows.Close()
	for {
		switch err := rows.Next(l.dest); {
		case err == io.EOF:
			return 0, 0, false, nil
		case err != nil:
			return 0, 0, false, err
		}
		if g, _ := l.dest[0].(int64); g < 0 {
			s, _ = l.dest[2].(int64)
			u, _ = l.dest[3].(int64)
			return s, u, true, nil
		}
		b, _ := l.dest[1].([]byte)
		if b == nil {
			continue
		}
		s, u, found, err := block(b).find(l.h)
		if found || err != nil {
			return s, u, found && s != tombstone, err
		}
	}
}
