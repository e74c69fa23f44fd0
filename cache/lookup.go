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
	return sc, nil
}

func (c *connector) Driver() driver.Driver { return &c.drv }

// lookupQuery finds a key's status: its row in the delta table if it has one
// (none when that row is a removal), otherwise its row in the base table. At
// most one row comes back whatever order SQLite runs the two arms in.
const lookupQuery = `SELECT s, u FROM status_delta WHERE h = ?1 AND s >= 0
UNION ALL
SELECT s, u FROM status WHERE h = ?1 AND NOT EXISTS (SELECT 1 FROM status_delta WHERE h = ?1)`

// lookupBaseQuery probes the base table alone, with the delta table's
// generation read in the same view of the file (filter.go). It always gives
// one row (an aggregate); count(*) says whether the key is there.
const lookupBaseQuery = `SELECT (SELECT v FROM meta WHERE k = '` + metaDeltaGen + `'), s, u, count(*) FROM status WHERE h = ?1`

// lookupDeltaQuery reads a key's row in the delta table alone (s = -1: removed).
const lookupDeltaQuery = `SELECT s, u FROM status_delta WHERE h = ?1`

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
	dq    driver.StmtQueryContext // lookupDeltaQuery
	h     []byte                  // the key bound to the statements (HashSize bytes)
	args  []driver.NamedValue     // args[0].Value is h, boxed once
	dest  []driver.Value
	bdest []driver.Value
	ddest []driver.Value
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
		dest:  make([]driver.Value, 2),
		bdest: make([]driver.Value, 4),
		ddest: make([]driver.Value, 2),
	}
	l.args = []driver.NamedValue{{Ordinal: 1, Value: l.h}}
	for _, p := range []struct {
		q   *driver.StmtQueryContext
		sql string
	}{{&l.q, lookupQuery}, {&l.bq, lookupBaseQuery}, {&l.dq, lookupDeltaQuery}} {
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
	if u != 0 {
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
// complete for before it is asked (the bits for a generation are set before
// it is stored), then:
//   - key maybe in the delta table: its delta row, if any, is the answer
//     (a delta row is authoritative in any view that holds it);
//   - otherwise the base row, if delta_gen read with it is that generation
//     (the delta table is then the one the filter describes);
//   - otherwise both tables at once (lookupQuery).
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
	if f.has(h) {
		found, err := l.run(l.dq, l.ddest)
		if err != nil || found {
			s, _ = l.ddest[0].(int64)
			u, _ = l.ddest[1].(int64)
			return s, u, found && s != tombstone, err
		}
		// A false positive, or a row removed since: ask the base.
	}
	if _, err := l.run(l.bq, l.bdest); err != nil {
		return 0, 0, false, err
	}
	dbGen, _ := l.bdest[0].(int64)
	if l.bdest[0] != nil && dbGen == gen {
		s, _ = l.bdest[1].(int64)
		u, _ = l.bdest[2].(int64)
		n, _ := l.bdest[3].(int64)
		return s, u, n > 0, nil
	}
	if dbGen > gen {
		// Another process (or a commit whose filter update is still under
		// way) changed the delta table; its WAL frames wait for this
		// process's checkpointer (pin.go).
		d.reloadFilter()
		d.committed()
	}
	return l.query()
}

// run runs one of l's statements with l.h bound and reads its first row into
// dest; found is false when there is none. context.Background: the driver
// then runs it without a cancellation watcher (a lookup takes microseconds).
func (l *lookupConn) run(q driver.StmtQueryContext, dest []driver.Value) (found bool, err error) {
	rows, err := q.QueryContext(context.Background(), l.args)
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

// query runs lookupQuery for l.h: status and valid-until from both tables.
func (l *lookupConn) query() (s, u int64, ok bool, err error) {
	found, err := l.run(l.q, l.dest)
	if err != nil || !found {
		return 0, 0, false, err
	}
	s, _ = l.dest[0].(int64)
	u, _ = l.dest[1].(int64)
	return s, u, true, nil
}
