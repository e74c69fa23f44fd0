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
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"checkpoint"
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
// delta table, versions 2 and 3 one delta table instead of runs, version 4
// its runs' rows unpacked, versions 1 and 2 neither the site table nor the
// gate's direction in the event log; all are upgraded in place on open,
// keeping every entry (schema.go).
const schemaVersion = 5

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
	// EventCheckpoint is how long the event log's commits wait for the
	// checkpoint that copies them into the file and syncs it
	// (DefaultEventCheckpoint when zero); a feed's commit is copied back
	// within a second.
	EventCheckpoint time.Duration
}

// DefaultEventCheckpoint lets the entries of a busy gate share one
// checkpoint: each commit of an entry appends its three pages to the WAL,
// and one checkpoint writes them to the file once and syncs (two syncs,
// each a commit of the file system's journal: 85 KiB on the device for an
// entry checkpointed alone). A power cut loses at most the entries of this
// window, about what the kernel keeps unwritten anyway (30 s).
const DefaultEventCheckpoint = 30 * time.Second

// DB is an open cache. Its methods are safe for concurrent use.
type DB struct {
	path  string
	stage string // this open's stage file (stage.go)
	opts  Options
	log   *slog.Logger
	rd    *sql.DB // readers (pool)
	wr    *sql.DB // the one writer connection
	wcon  *connector
	ck    *sql.DB // the checkpointer's connection
	pin   *readPin

	ckMu   sync.Mutex
	ckWake chan struct{} // a commit happened; nil once closed
	ckLazy chan struct{} // an event-log commit happened; nil once closed
	ckRuns atomic.Int64  // checkpoints the checkpointer ran
	ckStop chan struct{} // closed by Close
	ckDone chan struct{} // the checkpointer has stopped

	rconn    *connector
	lookups  chan *lookupConn // idle lookup connections
	revoked  *sql.Stmt
	signers  *sql.Stmt
	metaStmt *sql.Stmt

	key    atomic.Pointer[hasher] // HMAC key
	state  atomic.Pointer[feedState]
	site   atomic.Pointer[SiteList] // nil: no site list
	listed *sql.Stmt

	rebuilding atomic.Bool

	filter     atomic.Pointer[deltaFilter] // keys that may be in the delta table (filter.go)
	filterMu   sync.Mutex                  // serialises filter loads with commits that change the delta table
	filterBusy atomic.Bool                 // a background filter load is running
	bg         sync.WaitGroup              // background filter loads

	mu     sync.Mutex // serialises writers that read-modify-write meta
	closed atomic.Bool
}

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
	if opts.EventCheckpoint <= 0 {
		opts.EventCheckpoint = DefaultEventCheckpoint
	}
	d := &DB{path: path, opts: opts, log: opts.Logger}
	if err := private(path, opts.Logger); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", path, err)
	}
	var err error
	if d.stage, err = newStage(path); err != nil {
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

func (d *DB) open(ctx context.Context) error {
	var err error
	// The writer does not checkpoint at commit: the checkpointer does, in
	// the background, so an update's commit does not wait for the copy.
	d.wcon = &connector{dsn: dsn(d.path, true), pragmas: append([]string{
		fmt.Sprintf("PRAGMA page_size = %d", pageSize), // for a new file only
		"PRAGMA journal_mode = WAL",
		"PRAGMA journal_size_limit = 67108864",
		"PRAGMA cache_size = -65536",
		"PRAGMA mmap_size = 4294967296",
		"PRAGMA temp_store = MEMORY",
		"PRAGMA wal_autocheckpoint = 0",
	}, stagePragmas(d.stage)...)}
	d.wr = sql.OpenDB(d.wcon)
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
	// Readers without SQLite's per-connection mutex (each is used by one
	// goroutine at a time: database/sql's pool, the lookup pool, the pin):
	// a lookup locked and unlocked it on every call into SQLite.
	d.rconn = &connector{dsn: dsn(d.path, false) + "&mode=ro&_mutex=no", pragmas: readPragmas}
	d.pin = newReadPin(d.rconn)
	d.ck = sql.OpenDB(&connector{dsn: dsn(d.path, false), pragmas: []string{"PRAGMA journal_size_limit = 67108864"}})
	d.ck.SetMaxOpenConns(1)
	// Copy back what migrate wrote, then take the pin (pin.go).
	if err := d.checkpoint(ctx, "PASSIVE"); err != nil {
		return fmt.Errorf("checkpoint: %w", classify(err))
	}
	d.ckWake, d.ckLazy = make(chan struct{}, 1), make(chan struct{}, 1)
	d.ckStop, d.ckDone = make(chan struct{}), make(chan struct{})
	go d.checkpointer(d.ckWake, d.ckLazy)
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
		{&d.listed, "SELECT u FROM site WHERE h = ?"},
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
// checkpointGap, until Close. After an event-log commit (lazy) it waits
// Options.EventCheckpoint, or until a feed's commit comes.
func (d *DB) checkpointer(wake, lazy <-chan struct{}) {
	defer close(d.ckDone)
	var last time.Time
	for {
		var due time.Time
		select {
		case <-d.ckStop:
			return
		case <-wake:
			due = last.Add(checkpointGap)
		case <-lazy:
			due = time.Now().Add(d.opts.EventCheckpoint)
		}
		for wait := time.Until(due); wait > 0; wait = time.Until(due) {
			t := time.NewTimer(wait)
			select {
			case <-d.ckStop:
				t.Stop()
				return
			case <-t.C:
			case <-wake:
				t.Stop()
				if soon := last.Add(checkpointGap); soon.Before(due) {
					due = soon
				}
			}
		}
		select { // this checkpoint takes the event-log commits so far
		case <-lazy:
		default:
		}
		d.checkpoint(context.Background(), "PASSIVE")
		d.ckRuns.Add(1)
		last = time.Now()
	}
}

// Checkpoint copies every committed WAL frame back into the database file
// now and truncates the WAL (the background checkpointer does this lazily).
func (d *DB) Checkpoint(ctx context.Context) error {
	if err := d.checkpoint(ctx, "TRUNCATE"); err != nil {
		return fmt.Errorf("checkpoint: %w", classify(err))
	}
	return nil
}

// CheckpointPassive runs the checkpoint the background checkpointer runs
// after commits: the committed frames are copied back, and the WAL is kept
// to be written over from its start by the next commit (its size and
// blocks stay, so the file system has no allocation to journal).
func (d *DB) CheckpointPassive(ctx context.Context) error {
	if err := d.checkpoint(ctx, "PASSIVE"); err != nil {
		return fmt.Errorf("checkpoint: %w", classify(err))
	}
	return nil
}

// committed wakes the checkpointer.
func (d *DB) committed() { d.wakeCheckpointer(false) }

// committedLazy wakes the checkpointer for an event-log commit.
func (d *DB) committedLazy() { d.wakeCheckpointer(true) }

func (d *DB) wakeCheckpointer(lazy bool) {
	d.ckMu.Lock()
	defer d.ckMu.Unlock()
	ch := d.ckWake
	if lazy {
		ch = d.ckLazy
	}
	select {
	case ch <- struct{}{}: // nil once closed: never ready
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
	for _, s := range []*sql.Stmt{d.revoked, d.signers, d.metaStmt, d.listed} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if d.rd != nil {
		errs = append(errs, d.rd.Close())
	}
	if d.ckDone != nil {
		d.ckMu.Lock()
		d.ckWake, d.ckLazy = nil, nil
		close(d.ckStop)
		d.ckMu.Unlock()
		<-d.ckDone
	}
	if d.ck != nil {
		errs = append(errs, d.ck.Close())
	}
	if d.pin != nil {
		errs = append(errs, d.pin.close())
	}
	if d.wr != nil {
		// Fold the WAL back into the file so a copy of the .db alone is whole.
		d.wr.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		errs = append(errs, d.wr.Close())
	}
	if d.stage != "" {
		if err := os.Remove(d.stage); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
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
