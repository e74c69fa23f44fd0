package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// feedState is the in-memory copy of the update bookkeeping in meta.
type feedState struct {
	Version  int64     // feed version applied; 0: none
	FeedTime time.Time // newest verified feed publication time
	Updated  time.Time // wall time of the last verified update (sync or import)
	Expires  time.Time // expiry of the verified timestamp metadata; zero: none
	stored   time.Time // Updated as the file holds it (a Touch may renew Updated in memory only)
	mono     time.Duration
	hasMono  bool
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
	st.stored = st.Updated
	d.state.Store(st)
	return d.loadSite(ctx)
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

func (d *DB) setMeta(ctx context.Context, k string, v any) error {
	if _, err := d.wr.ExecContext(ctx, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)", k, v); err != nil {
		return fmt.Errorf("write meta %s: %w", k, classify(err))
	}
	return nil
}

// Meta returns a value stored with Update.SetMeta (nil when absent).
func (d *DB) Meta(ctx context.Context, k string) ([]byte, error) { return d.metaBytes(ctx, metaUser+k) }

// PutMeta records a value of the caller's in the meta table at once, in a
// transaction of its own that changes nothing else (the feed state and the
// cache's freshness stay as they are); read it back with DB.Meta.
func (d *DB) PutMeta(ctx context.Context, k string, v []byte) error {
	return d.setMeta(ctx, metaUser+k, v)
}
