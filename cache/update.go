package cache

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"checkpoint"
)

// Record is one status row as a feed or an import carries it.
type Record struct {
	Hash       [HashSize]byte // keyed hash of the credential key
	Color      checkpoint.Color
	ValidUntil int64 // unix seconds; 0: no end
	Delete     bool  // remove the row (deltas only)
}

// Revocation is one HC1 revocation hash.
type Revocation struct {
	Type HashType
	Hash [HashSize]byte // the first 16 bytes of the EU DCC revocation hash
}

// HashType is an EU DCC revocation hash type.
type HashType uint8

// Revocation hash types.
const (
	HashUCI            HashType = 1 // SHA-256 of the UCI
	HashCountryCodeUCI HashType = 2 // SHA-256 of the issuing country code and the UCI
	HashSignature      HashType = 3 // SHA-256 of the COSE signature (first half for ECDSA)
)

// ParseHashType parses "UCI", "COUNTRYCODEUCI" or "SIGNATURE".
func ParseHashType(s string) (HashType, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "UCI":
		return HashUCI, nil
	case "COUNTRYCODEUCI":
		return HashCountryCodeUCI, nil
	case "SIGNATURE":
		return HashSignature, nil
	}
	return 0, fmt.Errorf("unknown revocation hash type %q (want UCI, COUNTRYCODEUCI or SIGNATURE)", s)
}

// String returns the EU DCC name of the hash type.
func (t HashType) String() string {
	switch t {
	case HashUCI:
		return "UCI"
	case HashCountryCodeUCI:
		return "COUNTRYCODEUCI"
	case HashSignature:
		return "SIGNATURE"
	}
	return fmt.Sprintf("hashtype(%d)", uint8(t))
}

// batchRows is how many rows one multi-row statement writes: it amortises the
// per-statement cost of the driver over many rows.
const batchRows = 1024

// Update is one write transaction. Nothing it does is visible to readers
// until Commit; Rollback (or a failed Commit) leaves the cache as it was.
type Update struct {
	d    *DB
	tx   *sql.Tx
	ctx  context.Context
	wctx context.Context // ctx without its cancellation: see exec
	bw   *blockWriter    // status rows into the new run, while they come in key order
	ins  *rowWriter      // status rows into the stage: after ClearStatuses, or a run's out of order
	del  *rowWriter      // removals from the stage (after ClearStatuses)
	base bool            // after ClearStatuses: rows go to the stage, then the base table
	run  int64           // the run delta rows go to: the delta_gen its commit records
	f    *deltaFilter
	rf   *bloom // the run's filter, sized by Expect (or a default) at the first row
	exp  int64
	dn   int64 // rows written to the run

	key     []byte
	feed    *feedState
	rules   []byte
	rulesOK bool
	extra   map[string][]byte
	site    *SiteList // with siteSet: the site list written (nil: cleared)
	siteSet bool
	done    bool
	failed  error // a Put's: the update can then only be rolled back

	// Rows counts status rows written or deleted.
	Rows int64
}

// defaultRunKeys sizes a run's filter when the update did not say (Expect).
const defaultRunKeys = 1 << 16

// Begin starts an update. Only one update runs at a time; others wait.
func (d *DB) Begin(ctx context.Context) (*Update, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("begin cache update: %w", err)
	}
	// The transaction never ends by itself when ctx does (see exec).
	wctx := context.WithoutCancel(ctx)
	tx, err := d.wr.BeginTx(wctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin cache update: %w", classify(err))
	}
	u := &Update{d: d, tx: tx, ctx: ctx, wctx: wctx, f: d.filter.Load()}
	gen, err := readDeltaGen(wctx, tx)
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	// Rows go to a new run: a removal is a row with status -1 there.
	u.run = gen + 1
	return u, nil
}

// stageWriter prepares a writer of rows into the stage, a key written
// again replacing its row.
func (u *Update) stageWriter() (*rowWriter, error) {
	const ins = "INSERT OR REPLACE INTO stage.status(h, s, u) VALUES "
	return newRowWriter(u.ctx, u.d.wcon.last.Load(), ins+tuples("(?,?,?)", batchRows), ins+"(?,?,?)", 3)
}

// runRow writes one row of the update's run: packed into blocks while the
// rows come in key order, and once one does not, into the stage, which is
// packed at Commit (stageRun).
func (u *Update) runRow(h []byte, s, v int64) error {
	if u.ins == nil {
		if u.bw == nil {
			bw, err := newBlockWriter(u.run, blockStore(u.ctx, u.tx))
			if err != nil {
				return err
			}
			u.bw = bw
		}
		err := u.bw.add(h, s, v)
		if !errors.Is(err, errUnsorted) {
			return err
		}
		if err := u.stageRun(); err != nil {
			return err
		}
	}
	return u.ins.add(h, s, v)
}

// stageRun moves the run's rows so far, stored and not, into the stage.
func (u *Update) stageRun() error {
	if err := startStage(u.wctx, u.tx); err != nil {
		return err
	}
	ins, err := u.stageWriter()
	if err != nil {
		return fmt.Errorf("prepare cache update: %w", err)
	}
	u.ins = ins
	lo, hi := runFirstID(u.run), runFirstID(u.run+1)-1
	rows, err := u.tx.QueryContext(u.wctx, "SELECT id, b FROM status_block WHERE id BETWEEN ? AND ?", lo, hi)
	if err != nil {
		return fmt.Errorf("read the run back: %w", classify(err))
	}
	add := func(_ int64, h []byte, s, v int64) error { return ins.add(h, s, v) }
	if err := eachRunRow(rows, add); err != nil {
		return fmt.Errorf("read the run back: %w", err)
	}
	for i, s := range u.bw.ss {
		if err := ins.add(u.bw.keys[i*HashSize:(i+1)*HashSize], int64(s), u.bw.us[i]); err != nil {
			return err
		}
	}
	u.bw = nil
	if err := u.exec("DELETE FROM status_block WHERE id BETWEEN ? AND ?", lo, hi); err != nil {
		return fmt.Errorf("drop the run's blocks: %w", err)
	}
	return nil
}

// storeRun stores the rest of the run and records it in status_runs.
func (u *Update) storeRun() error {
	var n int64
	var err error
	if u.ins != nil {
		n, err = packStage(u.ctx, u.tx, u.run, nil)
	} else {
		n, err = u.bw.n, u.bw.flush()
	}
	if err != nil {
		return fmt.Errorf("write statuses: %w", err)
	}
	if err := u.exec("INSERT INTO status_runs(g, n) VALUES (?, ?)", u.run, n); err != nil {
		return fmt.Errorf("record the run: %w", err)
	}
	return nil
}

// Expect says how many status rows the update is about to write (a
// delta's size): the filter of its run is sized for them.
func (u *Update) Expect(rows int64) { u.exp = rows }

// ClearStatuses removes every status row (before a snapshot). The rows Put
// after it go to the stage, and at Commit in one copy to the base table.
func (u *Update) ClearStatuses() error {
	if err := u.flush(); err != nil {
		return err
	}
	for _, q := range []string{"DELETE FROM status", "DELETE FROM status_block", "DELETE FROM status_runs"} {
		if err := u.exec(q); err != nil {
			return fmt.Errorf("clear statuses: %w", err)
		}
	}
	if err := startStage(u.wctx, u.tx); err != nil {
		return err
	}
	if u.base {
		return nil
	}
	ins, err := u.stageWriter()
	if err != nil {
		return fmt.Errorf("prepare cache update: %w", err)
	}
	del, err := newRowWriter(u.ctx, u.d.wcon.last.Load(), "DELETE FROM stage.status WHERE h IN ("+tuples("?", batchRows)+")",
		"DELETE FROM stage.status WHERE h = ?", 1)
	if err != nil {
		ins.close()
		return fmt.Errorf("prepare cache update: %w", err)
	}
	if u.ins != nil {
		u.ins.close()
	}
	u.ins, u.del, u.bw, u.base = ins, del, nil, true
	return nil
}

// Put writes (or, with Delete set, removes) status rows. Rows of one call are
// written in batches. Before ClearStatuses (a delta) they go to the update's
// run in order, so a key may repeat anywhere and the last row wins; after
// it (a snapshot) a key may repeat within a call only among writes.
func (u *Update) Put(recs ...Record) error {
	err := u.put(recs)
	if err == nil {
		err = u.flush()
	}
	if err != nil && u.failed == nil {
		u.failed = err
	}
	return err
}

func (u *Update) put(recs []Record) error {
	for i := range recs {
		r := &recs[i]
		if !u.base {
			// Into the filters before the commit: a lookup may then read
			// a run for nothing, never miss a committed row.
			if u.rf == nil {
				u.rf = newBloom(max(u.exp, defaultRunKeys))
			}
			u.f.all.add(r.Hash[:])
			u.rf.add(r.Hash[:])
			u.dn++
		}
		var err error
		switch {
		case r.Delete && !u.base:
			err = u.runRow(r.Hash[:], tombstone, 0)
		case r.Delete:
			err = u.del.add(r.Hash[:])
		case r.Color > checkpoint.Green:
			return fmt.Errorf("status %d out of range", r.Color)
		default:
			var until int64
			if until, err = storeUntil(r.ValidUntil); err != nil {
				return err
			}
			if u.base {
				err = u.ins.add(r.Hash[:], int64(r.Color), until)
			} else {
				err = u.runRow(r.Hash[:], int64(r.Color), until)
			}
		}
		if err != nil {
			return fmt.Errorf("write statuses: %w", err)
		}
	}
	return nil
}

// flush writes the rows still buffered.
func (u *Update) flush() error {
	for _, w := range []*rowWriter{u.ins, u.del} {
		if w == nil {
			continue
		}
		if err := w.flush(); err != nil {
			return fmt.Errorf("write statuses: %w", err)
		}
	}
	if !u.base {
		u.Rows = u.dn
		return nil
	}
	u.Rows = u.ins.n + u.del.n
	return nil
}

// SetRevocations replaces the revocation list.
func (u *Update) SetRevocations(list []Revocation) error {
	if err := u.exec("DELETE FROM revoked"); err != nil {
		return fmt.Errorf("clear revocations: %w", err)
	}
	st, err := u.tx.PrepareContext(u.wctx, "INSERT OR IGNORE INTO revoked(t, h) VALUES (?, ?)")
	if err != nil {
		return fmt.Errorf("write revocations: %w", classify(err))
	}
	defer st.Close()
	for _, r := range list {
		if err := u.ctx.Err(); err != nil {
			return err
		}
		if _, err := st.ExecContext(u.wctx, int64(r.Type), r.Hash[:]); err != nil {
			return fmt.Errorf("write revocations: %w", classify(err))
		}
	}
	return nil
}

// KID returns the HC1 key identifier of a DER certificate: the first 8 bytes
// of its SHA-256.
func KID(der []byte) []byte {
	s := sha256.Sum256(der)
	return s[:8]
}

// SetSigners replaces the HC1 trust list with these DER certificates.
func (u *Update) SetSigners(ders [][]byte) error {
	if err := u.exec("DELETE FROM signer"); err != nil {
		return fmt.Errorf("clear trust list: %w", err)
	}
	st, err := u.tx.PrepareContext(u.wctx, "INSERT OR IGNORE INTO signer(kid, der) VALUES (?, ?)")
	if err != nil {
		return fmt.Errorf("write trust list: %w", classify(err))
	}
	defer st.Close()
	for _, der := range ders {
		if err := u.ctx.Err(); err != nil {
			return err
		}
		if _, err := st.ExecContext(u.wctx, KID(der), der); err != nil {
			return fmt.Errorf("write trust list: %w", classify(err))
		}
	}
	return nil
}

// MaxRules caps the rule profile blob.
const MaxRules = 64 << 10

// SetRules replaces the rule profile blob (nil removes it).
func (u *Update) SetRules(blob []byte) error {
	if len(blob) > MaxRules {
		return fmt.Errorf("rule profile is %d bytes, at most %d allowed", len(blob), MaxRules)
	}
	u.rules, u.rulesOK = blob, true
	return nil
}

// SetMeta records a value of the caller's in the meta table (committed with
// the update); read it back with DB.Meta.
func (u *Update) SetMeta(k string, v []byte) {
	if u.extra == nil {
		u.extra = map[string][]byte{}
	}
	u.extra[k] = v
}

// SetKey sets the HMAC key the statuses are hashed with (from the feed).
func (u *Update) SetKey(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("hash key is %d bytes, want %d", len(key), KeySize)
	}
	u.key = append([]byte(nil), key...)
	return nil
}

// SetFeed records the feed version, its verified publication time and the
// expiry of the verified timestamp metadata. The update time is the clock's
// now at Commit.
func (u *Update) SetFeed(version int64, feedTime, expires time.Time) {
	u.feed = &feedState{Version: version, FeedTime: feedTime.UTC(), Expires: expires.UTC()}
}

// Commit makes the update visible at once.
func (u *Update) Commit() error {
	if u.done {
		return errors.New("cache update already finished")
	}
	err := u.failed
	if err != nil {
		err = fmt.Errorf("commit cache update: a write failed before: %w", err)
	} else {
		err = u.commit()
	}
	if err != nil {
		u.tx.Rollback()
	}
	u.closeWriters()
	u.done = true
	return err
}

func (u *Update) closeWriters() {
	for _, w := range []*rowWriter{u.ins, u.del} {
		if w != nil {
			w.close()
		}
	}
}

// exec runs one statement of the update. The driver gets ctx without its
// cancellation: an interrupted statement would roll the whole transaction
// back under the rows still being written (rowWriter). ctx is checked here
// before each statement instead.
func (u *Update) exec(q string, args ...any) error {
	if err := u.ctx.Err(); err != nil {
		return err
	}
	_, err := u.tx.ExecContext(u.wctx, q, args...)
	return classify(err)
}

func (u *Update) commit() error {
	if err := u.flush(); err != nil {
		return err
	}
	if u.dn > 0 && !u.base {
		if err := u.storeRun(); err != nil {
			return err
		}
	}
	d := u.d
	st := *d.state.Load()
	st.Updated = d.opts.Clock.Now().UTC()
	st.mono, st.hasMono = d.opts.Mono(), true
	if u.feed != nil {
		st.Version = u.feed.Version
		if u.feed.FeedTime.After(st.FeedTime) {
			st.FeedTime = u.feed.FeedTime
		}
		st.Expires = u.feed.Expires
	}
	st.stored = st.Updated
	meta, err := u.metaRows(&st)
	if err != nil {
		return err
	}
	rebuilt := u.feed != nil && d.rebuilding.Load()
	if rebuilt {
		meta[metaRebuild] = int64(0)
	}
	for k, v := range meta {
		if err := u.exec("INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, v); err != nil {
			return fmt.Errorf("write meta %s: %w", k, err)
		}
	}
	baseRows, _ := meta[metaBaseRows].(int64)
	if err := d.commitTracked(u, baseRows); err != nil {
		return err
	}
	if u.key != nil {
		d.key.Store(newHasher(u.key))
	}
	d.state.Store(&st)
	if u.siteSet {
		d.site.Store(u.site)
	}
	d.committed()
	if rebuilt {
		d.rebuilding.Store(false)
	}
	return nil
}

// metaRows returns the meta rows the update writes with state st.
func (u *Update) metaRows(st *feedState) (map[string]any, error) {
	meta := map[string]any{
		metaVersion:  st.Version,
		metaFeedTime: unixNano(st.FeedTime),
		metaUpdated:  unixNano(st.Updated),
		metaExpires:  unixNano(st.Expires),
	}
	if u.key != nil {
		meta[metaKey] = u.key
		meta[metaKeyFrom] = "feed"
	}
	if u.base {
		// The merge policy compares the runs with this count.
		if err := u.ctx.Err(); err != nil {
			return nil, err
		}
		n, err := fromStage(u.wctx, u.tx)
		if err != nil {
			return nil, err
		}
		meta[metaBaseRows] = n
	}
	if u.rulesOK {
		meta[metaRules] = u.rules
	}
	if u.siteSet {
		b, err := u.siteMeta()
		if err != nil {
			return nil, err
		}
		meta[metaSite] = b
	}
	for k, v := range u.extra {
		meta[metaUser+k] = v
	}
	return meta, nil
}

// Rollback abandons the update; it is a no-op after Commit.
func (u *Update) Rollback() error {
	if u.done {
		return nil
	}
	u.done = true
	err := u.tx.Rollback()
	u.closeWriters()
	return err
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// touchGap is how old the stored time of the last verified update may grow
// while syncs find nothing new (at most MaxAge/8): in between, Touch renews
// it in memory only. A sync every 5 minutes would otherwise commit the meta
// page to the WAL, copy it back and sync both files every time. (The
// feed's own files a sync rewrites, go-tuf's root.json and the manifest
// downloaded, cost the device more: about 80 KiB a sync with the file
// system's journal, measured by make bench-cache.) A restarted gate, or another process
// reading the file, sees a last update at most this much older than the
// true one; its first sync renews it.
const touchGap = time.Hour

// Touch records a verified sync that found nothing new: expires is the
// verified timestamp's expiry. When that is the expiry already held and the
// stored update time is recent (touchGap), nothing is written.
func (d *DB) Touch(ctx context.Context, expires time.Time) error {
	u, err := d.Begin(ctx)
	if err != nil {
		return err
	}
	st := d.state.Load()
	now := d.opts.Clock.Now().UTC()
	if age := now.Sub(st.stored); expires.UTC().Equal(st.Expires) && !st.stored.IsZero() && age >= 0 && age < min(touchGap, d.opts.MaxAge/8) {
		renewed := *st
		renewed.Updated, renewed.mono, renewed.hasMono = now, d.opts.Mono(), true
		// A commit that ended just before Begin may still be storing its
		// state: then this one is stale, and the Touch is written instead.
		if d.state.CompareAndSwap(st, &renewed) {
			return u.Rollback()
		}
		st = d.state.Load()
	}
	u.SetFeed(st.Version, st.FeedTime, expires)
	return u.Commit()
}

// Counts are the numbers of rows per table.
type Counts struct {
	Statuses, Revocations, Signers, Events int64
	// Deltas are the rows of the runs not yet merged into the base
	// (removals, and keys in more than one run, included); they are part of
	// Statuses already.
	Deltas int64
}

// Count counts the rows of each table (a full scan: for tools and tests).
func (d *DB) Count(ctx context.Context) (Counts, error) {
	var c Counts
	var err error
	if c.Statuses, err = d.countStatuses(ctx); err != nil {
		return c, fmt.Errorf("count statuses: %w", err)
	}
	for _, q := range []struct {
		n    *int64
		name string
		q    string
	}{
		{&c.Deltas, "status_runs", "SELECT coalesce(sum(n), 0) FROM status_runs"},
		{&c.Revocations, "revoked", "SELECT count(*) FROM revoked"},
		{&c.Signers, "signer", "SELECT count(*) FROM signer"},
		{&c.Events, "event", "SELECT count(*) FROM event"},
	} {
		if err := d.rd.QueryRowContext(ctx, q.q).Scan(q.n); err != nil {
			return c, fmt.Errorf("count %s: %w", q.name, classify(err))
		}
	}
	return c, nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns its first line
// ("ok" when the file is sound).
func (d *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var s string
	if err := d.rd.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&s); err != nil {
		return "", fmt.Errorf("integrity_check: %w", classify(err))
	}
	return s, nil
}
