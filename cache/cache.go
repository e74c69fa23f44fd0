// Package cache is the gate's SQLite store: person statuses keyed by a keyed
// hash, HC1 revocation hashes, the HC1 trust list, the rule profile, the feed
// state and the event log.
//
// No plaintext credential key (QID, document number, UCI) is ever stored:
// keys are HMAC-SHA-256 of the key under the feed's hash key, truncated to
// 16 bytes. The database runs in WAL mode, so lookups keep answering while a
// sync writes; every update is one transaction.
package cache

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"checkpoint"
	"checkpoint/policy"
)

// HashSize is the length in bytes of a keyed hash as stored.
const HashSize = 16

// KeySize is the length in bytes of the HMAC key.
const KeySize = 32

// DefaultMaxAge is how long after the last verified update the cache turns stale.
const DefaultMaxAge = 24 * time.Hour

// ClockSkew is how far the clock may run behind the last verified update
// before the cache counts as stale: a clock that jumped backwards cannot be
// trusted to measure the data's age.
const ClockSkew = 5 * time.Minute

// pageSize is the page size of a new cache file: larger pages mean fewer
// B-tree levels for lookups and fewer, larger writes when a delta touches
// pages all over the file (keys are random hashes).
const pageSize = 8192

// schemaVersion is written to meta and checked on open. Version 1 had no
// delta table; it is upgraded in place on open.
const schemaVersion = 2

// ErrCorrupt is returned by Open when the file fails PRAGMA quick_check.
var ErrCorrupt = errors.New("cache file is corrupt")

// ErrFull is returned when the disk (or the configured page limit) is full.
var ErrFull = errors.New("cache is full")

// Options tune a DB. The zero value is usable.
type Options struct {
	// MaxAge is how long after the last verified update the cache is
	// stale (DefaultMaxAge when zero).
	MaxAge time.Duration
	// Clock gives the time recorded for updates (SystemClock when nil).
	// Wrap it in a checkpoint.RunningFloorClock over FeedTime for a gate.
	Clock checkpoint.Clock
	// Mono is a monotonic clock (time since any fixed instant); it guards
	// staleness against wall-clock jumps while the process runs. Default:
	// time since Open, read from Go's monotonic clock.
	Mono func() time.Duration
	// Logger receives warnings (slog.Default when nil).
	Logger *slog.Logger
	// MaxPages, when positive, caps the file at this many pages
	// (PRAGMA max_page_count): a write that needs more fails with ErrFull.
	MaxPages int64
	// SkipCheck skips PRAGMA quick_check at open.
	SkipCheck bool
}

// DB is an open cache. Its methods are safe for concurrent use.
type DB struct {
	path string
	opts Options
	log  *slog.Logger
	rd   *sql.DB // readers (pool)
	wr   *sql.DB // the one writer connection
	ck   *sql.DB // the checkpointer's connection

	ckMu   sync.Mutex
	ckWake chan struct{} // a commit happened; nil once closed
	ckStop chan struct{} // closed by Close
	ckDone chan struct{} // the checkpointer has stopped

	rconn    *connector
	lookups  chan *lookupConn // idle lookup connections
	revoked  *sql.Stmt
	signers  *sql.Stmt
	metaStmt *sql.Stmt

	key   atomic.Pointer[hasher] // HMAC key
	state atomic.Pointer[feedState]

	rebuilding atomic.Bool

	filter     atomic.Pointer[deltaFilter] // keys that may be in the delta table (filter.go)
	filterMu   sync.Mutex                  // serialises filter loads with commits that change the delta table
	filterBusy atomic.Bool                 // a background filter load is running
	bg         sync.WaitGroup              // background filter loads

	mu     sync.Mutex // serialises writers that read-modify-write meta
	closed atomic.Bool
}

// feedState is the in-memory copy of the update bookkeeping in meta.
type feedState struct {
	Version  int64     // feed version applied; 0: none
	FeedTime time.Time // newest verified feed publication time
	Updated  time.Time // wall time of the last verified update (sync or import)
	Expires  time.Time // expiry of the verified timestamp metadata; zero: none
	mono     time.Duration
	hasMono  bool
}

var _ policy.Store = (*DB)(nil)

// Open opens or creates the cache at path. A file that fails quick_check
// gives an error wrapping ErrCorrupt (see Recover).
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Clock == nil {
		opts.Clock = checkpoint.SystemClock{}
	}
	if opts.Mono == nil {
		start := time.Now()
		opts.Mono = func() time.Duration { return time.Since(start) }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &DB{path: path, opts: opts, log: opts.Logger}
	if err := private(path, opts.Logger); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	if err := d.open(ctx); err != nil {
		d.closeAll()
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	return d, nil
}

// private creates the cache file readable and writable by its owner only
// (0600) whatever the umask, and takes group and other access away from an
// existing one and its -wal and -shm files. SQLite creates the -wal and -shm
// files with the database file's mode.
func private(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			continue // no such file yet
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			if err := os.Chmod(path+suffix, m&^0o077); err != nil {
				log.Warn("cache file readable by others, and its mode cannot be changed", "file", path+suffix, "mode", fmt.Sprintf("%04o", m), "err", err)
			}
		}
	}
	return nil
}

func dsn(path string, write bool) string {
	q := url.Values{}
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", "10000")
	if write {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

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

func (d *DB) open(ctx context.Context) error {
	var err error
	// The writer does not checkpoint at commit: the checkpointer does, in
	// the background, so an update's commit does not wait for the copy.
	d.wr = sql.OpenDB(&connector{dsn: dsn(d.path, true), pragmas: []string{
		fmt.Sprintf("PRAGMA page_size = %d", pageSize), // for a new file only
		"PRAGMA journal_mode = WAL",
		"PRAGMA journal_size_limit = 67108864",
		"PRAGMA cache_size = -65536",
		"PRAGMA mmap_size = 4294967296",
		"PRAGMA temp_store = MEMORY",
		"PRAGMA wal_autocheckpoint = 0",
	}})
	d.wr.SetMaxOpenConns(1)
	d.wr.SetMaxIdleConns(1)
	d.wr.SetConnMaxLifetime(0)
	// The first connection creates the file; check it before anything else.
	if err := d.wr.PingContext(ctx); err != nil {
		return classify(err)
	}
	if !d.opts.SkipCheck {
		if err := quickCheck(ctx, d.wr); err != nil {
			return err
		}
	}
	if d.opts.MaxPages > 0 {
		p := fmt.Sprintf("PRAGMA max_page_count = %d", d.opts.MaxPages)
		if _, err := d.wr.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := d.migrate(ctx); err != nil {
		return err
	}
	d.ck = sql.OpenDB(&connector{dsn: dsn(d.path, false), pragmas: []string{"PRAGMA journal_size_limit = 67108864"}})
	d.ck.SetMaxOpenConns(1)
	d.ckWake, d.ckStop, d.ckDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go d.checkpointer(d.ckWake)
	d.rconn = &connector{dsn: dsn(d.path, false) + "&mode=ro", pragmas: readPragmas}
	d.lookups = make(chan *lookupConn, 8)
	d.rd = sql.OpenDB(d.rconn)
	d.rd.SetMaxIdleConns(4)
	d.rd.SetConnMaxLifetime(0)
	for _, s := range []struct {
		p *(*sql.Stmt)
		q string
	}{
		{&d.revoked, "SELECT 1 FROM revoked WHERE t = ? AND h = ?"},
		{&d.signers, "SELECT der FROM signer WHERE kid = ? ORDER BY der"},
		{&d.metaStmt, "SELECT v FROM meta WHERE k = ?"},
	} {
		if *s.p, err = d.rd.PrepareContext(ctx, s.q); err != nil {
			return fmt.Errorf("prepare %q: %w", s.q, err)
		}
	}
	if err := d.loadState(ctx); err != nil {
		return err
	}
	return d.loadFilter(ctx)
}

// checkpointGap is the least time between two background checkpoints.
const checkpointGap = time.Second

// checkpointer copies committed WAL frames back into the database file after
// commits (PASSIVE: it never blocks readers or the writer), at most once per
// checkpointGap, until Close.
func (d *DB) checkpointer(wake <-chan struct{}) {
	defer close(d.ckDone)
	var last time.Time
	for {
		select {
		case <-d.ckStop:
			return
		case <-wake:
		}
		if wait := checkpointGap - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-d.ckStop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		d.ck.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		last = time.Now()
	}
}

// Checkpoint copies every committed WAL frame back into the database file
// now and truncates the WAL (the background checkpointer does this lazily).
func (d *DB) Checkpoint(ctx context.Context) error {
	if _, err := d.ck.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", classify(err))
	}
	return nil
}

// committed wakes the checkpointer.
func (d *DB) committed() {
	d.ckMu.Lock()
	defer d.ckMu.Unlock()
	select {
	case d.ckWake <- struct{}{}:
	default:
	}
}

// quickCheck runs PRAGMA quick_check and wraps ErrCorrupt on any finding.
func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		if isCorrupt(err) {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return fmt.Errorf("quick_check: %w", err)
	}
	defer rows.Close()
	var first string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("quick_check: %w", err)
		}
		if first == "" {
			first = s
		}
	}
	if err := rows.Err(); err != nil {
		if isCorrupt(err) {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return fmt.Errorf("quick_check: %w", err)
	}
	if first != "ok" {
		return fmt.Errorf("%w: quick_check: %s", ErrCorrupt, first)
	}
	return nil
}

func isCorrupt(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB
	}
	return false
}

// classify maps SQLite errors to this package's sentinel errors.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull:
			return fmt.Errorf("%w: %v", ErrFull, err)
		case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	return err
}

const schema = `
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status(h BLOB PRIMARY KEY, s INTEGER NOT NULL, u INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_delta(h BLOB PRIMARY KEY, s INTEGER NOT NULL, u INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revoked(t INTEGER NOT NULL, h BLOB NOT NULL, PRIMARY KEY(t, h)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signer(kid BLOB NOT NULL, der BLOB NOT NULL, PRIMARY KEY(kid, der)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event(
	t INTEGER NOT NULL, gate TEXT NOT NULL, format TEXT NOT NULL,
	verdict INTEGER NOT NULL, reasons TEXT NOT NULL, kh BLOB);
CREATE INDEX IF NOT EXISTS event_t ON event(t);
CREATE TABLE IF NOT EXISTS event_hour(
	hour INTEGER NOT NULL, gate TEXT NOT NULL, format TEXT NOT NULL, verdict INTEGER NOT NULL,
	n INTEGER NOT NULL, PRIMARY KEY(hour, gate, format, verdict)) WITHOUT ROWID;
`

// Meta keys.
const (
	metaSchema   = "schema"
	metaKey      = "hmac_key"
	metaKeyFrom  = "hmac_key_source" // "local" or "feed"
	metaVersion  = "feed_version"
	metaFeedTime = "feed_time"  // unix nanos
	metaUpdated  = "updated"    // unix nanos
	metaExpires  = "expires"    // unix nanos
	metaRules    = "rules"      // rule profile blob
	metaRebuild  = "rebuilding" // "1" while waiting for a snapshot after a corrupt file
	metaBaseRows = "base_rows"  // rows in the base status table (see merge.go)
	metaDeltaGen = "delta_gen"  // bumped by every commit that changes status_delta (see filter.go)
	metaUser     = "x:"         // prefix of the values of Update.SetMeta
)

func (d *DB) migrate(ctx context.Context) error {
	tx, err := d.wr.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	var v sql.NullInt64
	err = tx.QueryRowContext(ctx, "SELECT v FROM meta WHERE k = ?", metaSchema).Scan(&v)
	switch {
	case err == nil && v.Int64 == 1:
		// Version 1: no delta table yet. Add it and count the base once.
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("upgrade schema 1 to %d: %w", schemaVersion, classify(err))
		}
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM status").Scan(&n); err != nil {
			return fmt.Errorf("upgrade schema 1 to %d: count statuses: %w", schemaVersion, classify(err))
		}
		for k, val := range map[string]any{metaSchema: schemaVersion, metaBaseRows: n, metaDeltaGen: int64(0)} {
			if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, val); err != nil {
				return fmt.Errorf("upgrade schema 1 to %d: write meta: %w", schemaVersion, classify(err))
			}
		}
	case err == nil:
		if v.Int64 != schemaVersion {
			return fmt.Errorf("cache schema version %d, this build reads %d", v.Int64, schemaVersion)
		}
	case errors.Is(err, sql.ErrNoRows) || isNoTable(err):
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("create schema: %w", classify(err))
		}
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		for k, val := range map[string]any{metaSchema: schemaVersion, metaKey: key, metaKeyFrom: "local", metaDeltaGen: int64(0)} {
			if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, val); err != nil {
				return fmt.Errorf("write meta: %w", classify(err))
			}
		}
	default:
		return classify(err)
	}
	return classify(tx.Commit())
}

func isNoTable(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrError
}

// loadState reads the key and the feed bookkeeping from meta.
func (d *DB) loadState(ctx context.Context) error {
	key, err := d.metaBytes(ctx, metaKey)
	if err != nil {
		return err
	}
	if len(key) != KeySize {
		return fmt.Errorf("%w: hash key is %d bytes, want %d", ErrCorrupt, len(key), KeySize)
	}
	d.key.Store(newHasher(key))
	st := &feedState{}
	st.Version, err = d.metaInt(ctx, metaVersion)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		k string
		t *time.Time
	}{{metaFeedTime, &st.FeedTime}, {metaUpdated, &st.Updated}, {metaExpires, &st.Expires}} {
		n, err := d.metaInt(ctx, f.k)
		if err != nil {
			return err
		}
		if n != 0 {
			*f.t = time.Unix(0, n).UTC()
		}
	}
	rb, err := d.metaInt(ctx, metaRebuild)
	if err != nil {
		return err
	}
	d.rebuilding.Store(rb != 0)
	d.state.Store(st)
	return nil
}

func (d *DB) metaBytes(ctx context.Context, k string) ([]byte, error) {
	var b []byte
	err := d.metaStmt.QueryRowContext(ctx, k).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read meta %s: %w", k, classify(err))
	}
	return b, nil
}

func (d *DB) metaInt(ctx context.Context, k string) (int64, error) {
	var n sql.NullInt64
	err := d.metaStmt.QueryRowContext(ctx, k).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read meta %s: %w", k, classify(err))
	}
	return n.Int64, nil
}

// Path returns the file the cache lives in.
func (d *DB) Path() string { return d.path }

// Close closes the cache.
func (d *DB) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	return d.closeAll()
}

func (d *DB) closeAll() error {
	var errs []error
	d.bg.Wait()
	if d.lookups != nil {
	drain:
		for {
			select {
			case l := <-d.lookups:
				l.close()
			default:
				break drain
			}
		}
	}
	for _, s := range []*sql.Stmt{d.revoked, d.signers, d.metaStmt} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if d.rd != nil {
		errs = append(errs, d.rd.Close())
	}
	if d.ck != nil {
		d.ckMu.Lock()
		d.ckWake = nil
		close(d.ckStop)
		d.ckMu.Unlock()
		<-d.ckDone
		errs = append(errs, d.ck.Close())
	}
	if d.wr != nil {
		// Fold the WAL back into the file so a copy of the .db alone is whole.
		d.wr.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		errs = append(errs, d.wr.Close())
	}
	return errors.Join(errs...)
}

// Ping checks that the cache file can still be read (the operator
// screen's /healthz): one query on a reading connection.
func (d *DB) Ping(ctx context.Context) error {
	var n int
	if err := d.rd.QueryRowContext(ctx, "SELECT 1 FROM meta LIMIT 1").Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read cache %s: %w", d.path, err)
	}
	return nil
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
		// way) changed the delta table.
		d.reloadFilter()
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

// Version returns the feed version applied (0 when none).
func (d *DB) Version() int64 { return d.state.Load().Version }

// FeedTime returns the newest verified feed publication time (zero when no
// feed was applied): a lower bound on the true time (see checkpoint.FloorClock).
func (d *DB) FeedTime() time.Time { return d.state.Load().FeedTime }

// Updated returns the wall time of the last verified update (zero when none).
func (d *DB) Updated() time.Time { return d.state.Load().Updated }

// Expires returns the expiry of the last verified feed timestamp (zero when none).
func (d *DB) Expires() time.Time { return d.state.Load().Expires }

// MaxAge returns the staleness bound.
func (d *DB) MaxAge() time.Duration { return d.opts.MaxAge }

// Stale reports whether the cache must not be trusted as current at now:
// never updated; the last verified update is older than MaxAge by the wall
// clock or, within this process, by the monotonic clock; the clock runs more
// than ClockSkew behind the last update (it jumped backwards, so the age is
// unknown); or the verified timestamp metadata has expired. Pass the floored
// time (checkpoint.FloorClock).
func (d *DB) Stale(now time.Time) bool {
	st := d.state.Load()
	if st.Updated.IsZero() || d.rebuilding.Load() {
		return true
	}
	if now.Sub(st.Updated) > d.opts.MaxAge {
		return true
	}
	if st.Updated.Sub(now) > ClockSkew {
		return true
	}
	if st.hasMono && d.opts.Mono()-st.mono > d.opts.MaxAge {
		return true
	}
	if !st.Expires.IsZero() && now.After(st.Expires) {
		return true
	}
	return false
}

// Rebuilding reports whether the cache was found corrupt, moved aside and
// recreated, and waits for a snapshot from the feed: the gate shows its fault
// pattern meanwhile (checkpoint.IdleFault).
func (d *DB) Rebuilding() bool { return d.rebuilding.Load() }

// Recover moves a corrupt cache file (and its -wal and -shm files) aside to
// path.corrupt-YYYYMMDDTHHMMSS, then creates a new, empty cache marked as
// rebuilding until the next snapshot is applied. It returns the new cache and
// the path the old file was moved to.
func Recover(ctx context.Context, path string, opts Options) (*DB, string, error) {
	clk := opts.Clock
	if clk == nil {
		clk = checkpoint.SystemClock{}
	}
	aside := path + ".corrupt-" + clk.Now().UTC().Format("20060102T150405")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("move corrupt cache aside: %w", err)
		}
	}
	d, err := Open(ctx, path, opts)
	if err != nil {
		return nil, aside, err
	}
	if err := d.setMeta(ctx, metaRebuild, int64(1)); err != nil {
		d.Close()
		return nil, aside, err
	}
	d.rebuilding.Store(true)
	return d, aside, nil
}

// OpenOrRecover opens the cache; when the file is corrupt it logs one line,
// moves it aside and starts an empty cache marked as rebuilding (see Recover).
func OpenOrRecover(ctx context.Context, path string, opts Options) (*DB, error) {
	d, err := Open(ctx, path, opts)
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return d, err
	}
	d, aside, rerr := Recover(ctx, path, opts)
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Error("cache file corrupt: moved aside, rebuilding from the feed", "path", path, "moved_to", aside, "err", err)
	if rerr != nil {
		return nil, fmt.Errorf("recover cache %s: %w", path, rerr)
	}
	return d, nil
}

func (d *DB) setMeta(ctx context.Context, k string, v any) error {
	if _, err := d.wr.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, v); err != nil {
		return fmt.Errorf("write meta %s: %w", k, classify(err))
	}
	return nil
}
