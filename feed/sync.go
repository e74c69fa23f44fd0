// Package feed is the gate's side of the status feed: a Syncer fetches the
// authority's TUF repository of static files (built by package publish),
// verifies every file against the provisioned root with go-tuf v2, and
// applies the targets (package format) to the cache in one transaction.
package feed

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	tuffetcher "github.com/theupdateframework/go-tuf/v2/metadata/fetcher"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/internal/backoff"
)

// Defaults for syncing.
const (
	DefaultInterval   = 5 * time.Minute
	DefaultTimeout    = 30 * time.Second
	DefaultMinBackoff = 5 * time.Second
	// DefaultMaxTarget caps one downloaded target.
	DefaultMaxTarget = 256 << 20
	// DefaultHoldDownloads is the most a sync keeps in memory of the
	// targets it applies, instead of writing them to the download folder:
	// an hourly delta at 100M keys (660 KB); 2 minutes at DefaultMinRate,
	// the most an interrupted sync then downloads again.
	DefaultHoldDownloads = 1 << 20
	// DefaultMetadataDeadline bounds the whole download of one metadata file.
	DefaultMetadataDeadline = 5 * time.Minute
	// DefaultMinRate is the slowest average rate, in bytes a second, a
	// target download may have: 64 kbit/s.
	DefaultMinRate = 8 << 10
)

// Options configure a Syncer.
type Options struct {
	// URL is the base URL of the repository: metadata at URL/, targets at
	// URL/targets/. Empty: the syncer reads directories only (SyncFrom).
	URL  string
	Root []byte // the provisioned root.json
	// Dir holds the trusted metadata and verified downloads between syncs
	// (for example the cache path + ".feed").
	Dir string
	// Timeout bounds waiting for an answer, and any pause in a download,
	// per request (DefaultTimeout when zero).
	Timeout time.Duration
	// Interval is the time between syncs (DefaultInterval when zero).
	Interval time.Duration
	// MinBackoff is the first wait after a failure; it doubles with each
	// further failure up to Interval (DefaultMinBackoff when zero).
	MinBackoff time.Duration
	// Clock gives the time metadata expiry is checked against. Default: the
	// system clock floored at the cache's feed time (checkpoint.RunningFloorClock).
	Clock     checkpoint.Clock
	Logger    *slog.Logger // slog.Default when nil
	Client    *http.Client // a client of its own when nil
	MaxTarget int64        // DefaultMaxTarget when zero
	// HoldDownloads: a sync whose chunks and side files total at most this
	// many bytes keeps them in memory, never writing them to the card
	// (DefaultHoldDownloads when zero; negative: always the download
	// folder, where an interrupted sync's finished downloads wait for the
	// next one).
	HoldDownloads int64
	// MetadataDeadline bounds the whole download of one metadata file
	// (DefaultMetadataDeadline when zero), however steadily it trickles in.
	MetadataDeadline time.Duration
	// MinRate sets each target's deadline: Timeout plus its signed length
	// at MinRate bytes a second (DefaultMinRate when zero).
	MinRate int64
	// AfterDirectory, when set, is told what each sync Run made from a
	// directory (TriggerFrom) did: the daemon shows it.
	AfterDirectory func(Result, error)
	// Site is the gate's site (format.CheckSiteName): its list, signed by
	// the site's delegated role, is kept in the cache. Empty: none.
	Site string
	// Firmware, when set, offers the firmware the feed names to the
	// installer (firmware.go); nil: firmware targets are ignored.
	Firmware *FirmwareOptions
}

// Stats are the syncer's metrics, for the logs and the status page.
type Stats struct {
	Version     int64           // feed version in the cache
	FeedTime    time.Time       // its publication time
	Expires     time.Time       // expiry of the verified timestamp
	LastAttempt time.Time       // start of the last sync
	LastSuccess time.Time       // end of the last successful sync
	LastError   string          // error of the last sync, empty after a success
	Mode        string          // what the last successful sync did: none, delta or snapshot
	Bytes       int64           // bytes downloaded by the last sync
	TotalBytes  int64           // bytes downloaded since start
	Applied     int64           // status rows written by the last successful sync
	Duration    time.Duration   // of the last sync
	Syncs       uint64          // syncs attempted
	Failures    uint64          // syncs failed
	Consecutive int             // failures since the last success
	SiteError   string          // why the last sync refused the site's list; empty when it did not
	Directory   DirectoryResult // the last sync from a directory (SyncFrom)
}

// DirectoryResult is what the last sync from a directory did.
type DirectoryResult struct {
	At      time.Time // zero: none yet
	Version int64     // feed version in the cache after it
	Mode    string    // none, delta or snapshot
	Err     string    // why it failed; empty after a success
	Kind    string    // the failure's Kind
}

// Result says what one sync did.
type Result struct {
	From, To int64  // cache version before and after
	Mode     string // none, delta or snapshot
	Applied  int64  // status rows written
	Fallback error  // why the delta was rejected, when the snapshot was used instead
	Bytes    int64  // bytes downloaded
	Duration time.Duration
	// Merged is how many delta rows were folded into the cache's base table
	// after the apply (see cache.DB.MergeDeltas), in MergeDuration;
	// Compacted, how many rows of the newest runs were compacted into one
	// instead.
	Merged        int64
	Compacted     int64
	MergeDuration time.Duration
	// Site is the site list version applied (0: none applied), SiteError
	// why the site's list was refused; the national part went on.
	Site      int64
	SiteError error
	// Firmware is the firmware version offered to the installer ("":
	// none), FirmwareError why the feed's firmware could not be offered;
	// the status part went on.
	Firmware      string
	FirmwareError error
}

// Syncer keeps a cache current from a feed. Sync and Run must not be called
// concurrently with each other; Stats may be called at any time.
type Syncer struct {
	db      *cache.DB
	cfg     Options
	rootID  string // of cfg.Root (root.go)
	log     *slog.Logger
	client  *http.Client
	trigger chan struct{}

	mu      sync.Mutex
	stats   Stats
	pending string // the directory TriggerFrom asked for

	afterBegin   func() // test hook: runs once the write transaction is open
	beforeCommit func() // test hook: runs with all rows written, before the commit
	afterCommit  func() // test hook: runs once the apply is committed, before any merge
	// chunkDone is a test hook: per status chunk applied, the time spent
	// reading it back (with its hash check), decoding it and writing its rows.
	chunkDone func(read, decode, write time.Duration)
	// dirOpening is a test hook: runs before a sync from a directory opens
	// each of its files.
	dirOpening func(name string)
}

// NewSyncer returns a syncer for db.
func NewSyncer(db *cache.DB, cfg Options) (*Syncer, error) {
	if len(cfg.Root) == 0 {
		return nil, errors.New("feed: no root metadata")
	}
	if _, err := metadata.Root().FromBytes(cfg.Root); err != nil {
		return nil, fmt.Errorf("feed: provisioned root metadata: %w", err)
	}
	if cfg.Dir == "" {
		return nil, errors.New("feed: no state directory")
	}
	if cfg.Site != "" {
		if err := format.CheckSiteName(cfg.Site); err != nil {
			return nil, fmt.Errorf("feed: %w", err)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.Clock == nil {
		// Running, so that while the wall clock lags behind the feed time
		// (no RTC) an expiring timestamp is still seen to expire.
		cfg.Clock = &checkpoint.RunningFloorClock{Clock: checkpoint.SystemClock{}, Floor: db.FeedTime}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxTarget <= 0 {
		cfg.MaxTarget = DefaultMaxTarget
	}
	if cfg.HoldDownloads == 0 {
		cfg.HoldDownloads = DefaultHoldDownloads
	}
	if cfg.MetadataDeadline <= 0 {
		cfg.MetadataDeadline = DefaultMetadataDeadline
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = DefaultMinRate
	}
	s := &Syncer{db: db, cfg: cfg, log: cfg.Logger, client: cfg.Client, trigger: make(chan struct{}, 1), rootID: rootID(cfg.Root)}
	if s.client == nil {
		s.client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
			TLSHandshakeTimeout: cfg.Timeout,
			MaxIdleConns:        2,
			IdleConnTimeout:     time.Minute,
		}}
	}
	s.stats.Version, s.stats.FeedTime, s.stats.Expires = db.Version(), db.FeedTime(), db.Expires()
	return s, nil
}

// Stats returns the metrics.
func (s *Syncer) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Trigger asks Run to sync now.
func (s *Syncer) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// TriggerFrom asks Run to sync from the directory dir next (a USB stick
// just mounted), then to go on with its schedule; Options.AfterDirectory
// is told the result.
func (s *Syncer) TriggerFrom(dir string) {
	s.mu.Lock()
	s.pending = dir
	s.mu.Unlock()
	s.Trigger()
}

// takePending returns and clears the directory TriggerFrom asked for.
func (s *Syncer) takePending() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.pending
	s.pending = ""
	return dir
}

// Run syncs now and then every Interval until ctx is done; after a failure
// it retries with exponential backoff (MinBackoff doubling up to Interval).
// Without a URL it only syncs the directories TriggerFrom names. Each sync
// logs one line.
func (s *Syncer) Run(ctx context.Context) {
	for {
		var err error
		if dir := s.takePending(); dir != "" {
			res, derr := s.SyncOnceFrom(ctx, dir)
			if ctx.Err() != nil {
				return
			}
			if s.cfg.AfterDirectory != nil {
				s.cfg.AfterDirectory(res, derr)
			}
		} else if s.cfg.URL != "" {
			_, err = s.SyncOnce(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		wait := s.cfg.Interval
		if err != nil {
			wait = s.backoff()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.trigger:
			t.Stop()
		case <-t.C:
		}
	}
}

// backoff is the wait after the latest run of failures.
func (s *Syncer) backoff() time.Duration {
	return backoff.Jitter(backoff.Exponential(s.cfg.MinBackoff, s.cfg.Interval, s.Stats().Consecutive))
}

// SyncOnce syncs once from the URL and logs one line: what was applied, or
// why the sync failed (with its Kind).
func (s *Syncer) SyncOnce(ctx context.Context) (Result, error) {
	res, err := s.Sync(ctx)
	if ctx.Err() == nil {
		s.logResult(res, err, false)
	}
	return res, err
}

// SyncOnceFrom syncs once from the directory dir (SyncFrom) and logs one
// line, as SyncOnce does.
func (s *Syncer) SyncOnceFrom(ctx context.Context, dir string) (Result, error) {
	res, err := s.SyncFrom(ctx, dir)
	if ctx.Err() == nil {
		s.logResult(res, err, true)
	}
	return res, err
}

// logResult logs what a sync (from a directory: dir) did, or why it failed.
func (s *Syncer) logResult(res Result, err error, dir bool) {
	more := []any{"retry_in", s.backoff().Round(time.Second)}
	if dir {
		more = []any{"source", "directory"}
	}
	if err != nil {
		s.log.Warn("feed sync failed", append([]any{"kind", Kind(err), "err", err, "version", s.db.Version()}, more...)...)
		return
	}
	if res.SiteError != nil {
		s.log.Warn("site list refused; the last good one is kept", "kind", Kind(res.SiteError), "err", res.SiteError)
	}
	if res.FirmwareError != nil {
		s.log.Warn("firmware not offered", "kind", Kind(res.FirmwareError), "err", res.FirmwareError)
	}
	if res.Fallback != nil {
		s.log.Warn("feed delta rejected, fell back to the snapshot", "kind", Kind(res.Fallback), "err", res.Fallback, "version", res.To, "applied", res.Applied)
		return
	}
	args := []any{"mode", res.Mode, "from", res.From, "version", res.To,
		"applied", res.Applied, "bytes", res.Bytes, "ms", res.Duration.Milliseconds()}
	if res.Merged > 0 {
		args = append(args, "merged", res.Merged, "merge_ms", res.MergeDuration.Milliseconds())
	}
	if res.Compacted > 0 {
		args = append(args, "compacted", res.Compacted, "merge_ms", res.MergeDuration.Milliseconds())
	}
	if res.Site > 0 {
		args = append(args, "site_list", res.Site)
	}
	if dir {
		args = append(args, more...)
	}
	s.log.Info("feed sync", args...)
}

// Error kinds, for logs and metrics.
const (
	KindSignature = "signature" // metadata not signed by the trusted keys
	KindRollback  = "rollback"  // older metadata or feed version than already trusted
	KindExpired   = "expired"   // metadata expired: a frozen or stale feed
	KindDigest    = "digest"    // a file does not match its signed length and hash (or is longer than allowed)
	KindDownload  = "download"  // HTTP error, truncated or oversized download
	KindTimeout   = "timeout"   // the server did not answer in time
	KindDiskFull  = "disk-full" // the cache could not grow
	KindFeed      = "feed"      // the feed's content is malformed
	KindOther     = "other"
)

// Kind classifies a sync error.
func Kind(err error) string {
	var te *timeoutError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return KindTimeout
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		return KindSignature
	case errors.Is(err, &metadata.ErrBadVersionNumber{}), errors.Is(err, errRollback):
		return KindRollback
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		return KindExpired
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}), errors.Is(err, &metadata.ErrDownloadLengthMismatch{}):
		return KindDigest
	case errors.Is(err, cache.ErrFull), errors.Is(err, syscall.ENOSPC):
		return KindDiskFull
	case errors.Is(err, &metadata.ErrDownload{}), errors.Is(err, &metadata.ErrDownloadHTTP{}), errors.Is(err, io.ErrUnexpectedEOF):
		return KindDownload
	case errors.Is(err, errFeed):
		return KindFeed
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return KindTimeout
		}
		return KindDownload
	}
	return KindOther
}

var (
	errRollback = errors.New("rollback")
	errFeed     = errors.New("malformed feed")
)

// source is where a sync reads the repository from: the feed's URL (fetcher)
// or a directory (dirFetcher), behind the same go-tuf updater.
type source interface {
	tuffetcher.Fetcher
	url() string       // the base URL go-tuf is configured with
	downloaded() int64 // bytes read so far
}

// Sync brings the cache to the feed's newest version once, from the feed's
// URL. On any error the cache keeps its last good state.
func (s *Syncer) Sync(ctx context.Context) (Result, error) {
	if s.cfg.URL == "" {
		return Result{}, errors.New("feed: no URL (this syncer reads directories only)")
	}
	targets, err := neturl.JoinPath(s.cfg.URL, "targets")
	if err != nil {
		return Result{}, fmt.Errorf("feed URL: %w", err)
	}
	f := &fetcher{ctx: ctx, client: s.client, base: s.cfg.URL, targets: strings.TrimSuffix(targets, "/") + "/",
		timeout: s.cfg.Timeout, metadata: s.cfg.MetadataDeadline, minRate: s.cfg.MinRate}
	return s.record(ctx, f, false)
}

// SyncFrom brings the cache to the newest version in dir, a copy of the
// repository (a USB stick, written by `feed export`), with exactly the
// checks of Sync: the same go-tuf updater and trusted metadata, files read
// from dir. A copy older than the cache's feed is refused as a rollback.
func (s *Syncer) SyncFrom(ctx context.Context, dir string) (Result, error) {
	f, err := openDir(ctx, dir, s.cfg.MetadataDeadline, s.dirOpening)
	if err != nil {
		s.mu.Lock()
		s.stats.Directory = DirectoryResult{At: s.cfg.Clock.Now(), Err: err.Error()}
		s.mu.Unlock()
		return Result{}, err
	}
	defer f.close()
	return s.record(ctx, f, true)
}

// record runs one sync from src and records it in the stats: a directory's
// in Stats.Directory only, so that it leaves the network's backoff alone.
func (s *Syncer) record(ctx context.Context, src source, dir bool) (Result, error) {
	start := time.Now()
	s.mu.Lock()
	if !dir {
		s.stats.LastAttempt = s.cfg.Clock.Now()
		s.stats.Syncs++
	}
	s.mu.Unlock()
	res, err := s.sync(ctx, src)
	res.Bytes = src.downloaded()
	res.Duration = time.Since(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	st.Version, st.FeedTime, st.Expires = s.db.Version(), s.db.FeedTime(), s.db.Expires()
	if dir {
		st.Directory = DirectoryResult{At: s.cfg.Clock.Now(), Version: st.Version, Mode: res.Mode}
		if err != nil {
			st.Directory.Err, st.Directory.Kind = err.Error(), Kind(err)
		}
		return res, err
	}
	st.Bytes, st.Duration = res.Bytes, res.Duration
	st.TotalBytes += res.Bytes
	if err != nil {
		st.Failures++
		st.Consecutive++
		st.LastError = err.Error()
		return res, err
	}
	st.LastSuccess = s.cfg.Clock.Now()
	st.LastError, st.Consecutive = "", 0
	st.Mode, st.Applied = res.Mode, res.Applied
	st.SiteError = ""
	if res.SiteError != nil {
		st.SiteError = res.SiteError.Error()
	}
	return res, nil
}

func (s *Syncer) sync(ctx context.Context, f source) (Result, error) {
	res := Result{From: s.db.Version(), To: s.db.Version(), Mode: "none"}
	if err := s.checkRoot(ctx); err != nil {
		return res, err
	}
	owned, err := s.owned(ctx)
	if err != nil {
		return res, err
	}
	up, err := s.repo(f)
	if err != nil {
		return res, err
	}
	if err := up.Refresh(); err != nil {
		return res, fmt.Errorf("refresh metadata: %w", err)
	}
	trusted := up.GetTrustedMetadataSet()
	expires := trusted.Timestamp.Signed.Expires
	mb, err := up.target("manifest.json", format.MaxManifest)
	if err != nil {
		return res, err
	}
	m, err := format.ParseManifest(mb)
	if err != nil {
		return res, fmt.Errorf("%w: %w", errFeed, err)
	}
	site, err := s.siteList(ctx, up, m)
	if err != nil {
		if !errors.Is(err, errSite) {
			return res, err
		}
		// The national part goes on; the cache keeps its last good list,
		// unless the feed's hash key changes under it.
		res.SiteError, site = err, nil
		if _, held := s.db.SiteList(); held && !bytes.Equal(s.db.HashKey(), m.Key()) {
			site = &siteChange{clear: true, marker: "none: refused under a new hash key"}
		}
	}
	res, err = s.apply(ctx, up, m, expires, owned, site, res)
	if err == nil && site != nil && !site.clear {
		res.Site = site.list.Version
	}
	if err == nil {
		res.Firmware, res.FirmwareError = s.firmware(up, f)
	}
	return res, err
}

// apply brings the cache to manifest m: nothing new (the freshness renewed,
// the site list changed if site says so), the deltas from the cache's
// version, or the snapshot; site's change goes into the same transaction.
func (s *Syncer) apply(ctx context.Context, up *repo, m *format.Manifest, expires time.Time, owned bool, site *siteChange, res Result) (Result, error) {
	// Another feed's data (before a moved gate's first snapshot) has no
	// version to compare with: the snapshot replaces it.
	have := s.db.Version()
	if !owned {
		have = 0
	}
	sameKey := owned && bytes.Equal(s.db.HashKey(), m.Key())
	switch {
	case m.Version < have:
		return res, fmt.Errorf("%w: feed version %d is older than version %d in the cache", errRollback, m.Version, have)
	case m.Version == have && sameKey && site == nil:
		return res, s.db.Touch(ctx, expires)
	case m.Version == have && sameKey:
		_, err := s.transaction(ctx, up, m, expires, nil, nil, site, func(*cache.Update) (int64, error) { return 0, nil })
		return res, err
	}
	var deltas []format.Delta
	if have > 0 && sameKey && !s.db.Rebuilding() {
		for _, d := range m.Deltas {
			if d.From >= have {
				deltas = append(deltas, d)
			}
		}
		if len(deltas) == 0 || deltas[0].From != have {
			deltas = nil // a gap: the snapshot it is
		}
	}
	var err error
	if deltas != nil {
		res, err = s.applyDeltas(ctx, up, m, deltas, expires, site, res)
		// Only wrong data warrants the (larger) snapshot; network and disk
		// errors are retried later.
		if err == nil || ctx.Err() != nil || (Kind(err) != KindDigest && Kind(err) != KindFeed) {
			return res, err
		}
		res.Fallback = err
	}
	res, err = s.applySnapshot(ctx, up, m, expires, site, res)
	if err != nil && res.Fallback != nil {
		err = &fallbackError{delta: res.Fallback, snapshot: err}
	}
	return res, err
}

// fallbackError is a failed snapshot after a rejected delta.
type fallbackError struct{ delta, snapshot error }

func (e *fallbackError) Error() string {
	return fmt.Sprintf("%v (after the delta was rejected: %v)", e.snapshot, e.delta)
}

// Unwrap returns the snapshot's error: it decides the Kind.
func (e *fallbackError) Unwrap() error { return e.snapshot }

// repo opens this sync's view of the repository over the trusted metadata
// in Dir.
func (s *Syncer) repo(f source) (*repo, error) {
	return newRepo(s.cfg.Root, s.cfg.Dir, f, s.cfg.Clock.Now())
}

// applyDeltas applies the deltas from the cache's version on, with the side
// files that changed, in one transaction; then folds the delta table into
// the base when it has grown enough.
func (s *Syncer) applyDeltas(ctx context.Context, up *repo, m *format.Manifest, deltas []format.Delta, expires time.Time, site *siteChange, res Result) (Result, error) {
	var chunks []string
	var changes int64
	for _, d := range deltas {
		chunks = append(chunks, d.Chunks...)
		changes += max(d.Changes, 0)
	}
	side, err := s.sideFiles(ctx, up, m, false)
	if err != nil {
		return res, err
	}
	rows, err := s.transaction(ctx, up, m, expires, chunks, side, site, func(u *cache.Update) (int64, error) {
		u.Expect(changes)
		return s.putChunks(ctx, up, u, format.KindDelta, chunks)
	})
	if err != nil {
		return res, err
	}
	res.To, res.Applied, res.Mode = m.Version, rows, "delta"
	// The delta is applied and visible; folding the runs into the base (or
	// compacting them), when they have grown enough, is housekeeping: a
	// failure leaves the cache whole and is retried after the next delta.
	ms, err := s.db.MergeDeltas(ctx, false)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("cache merge failed", "err", err)
	case err == nil && ms.Compacted:
		res.Compacted, res.MergeDuration = ms.Rows, ms.Duration
	case err == nil:
		res.Merged, res.MergeDuration = ms.Rows, ms.Duration
	}
	return res, nil
}

// applySnapshot replaces the statuses with the full snapshot under the
// manifest's hash key, and every side file, in one transaction.
func (s *Syncer) applySnapshot(ctx context.Context, up *repo, m *format.Manifest, expires time.Time, site *siteChange, res Result) (Result, error) {
	side, err := s.sideFiles(ctx, up, m, true)
	if err != nil {
		return res, err
	}
	rows, err := s.transaction(ctx, up, m, expires, m.Snapshot, side, site, func(u *cache.Update) (int64, error) {
		if err := u.ClearStatuses(); err != nil {
			return 0, err
		}
		if err := u.SetKey(m.Key()); err != nil {
			return 0, err
		}
		rows, err := s.putChunks(ctx, up, u, format.KindSnapshot, m.Snapshot)
		if err == nil && rows != m.Statuses {
			err = fmt.Errorf("%w: snapshot holds %d rows, manifest says %d", errFeed, rows, m.Statuses)
		}
		return rows, err
	})
	if err != nil {
		return res, err
	}
	res.To, res.Applied, res.Mode = m.Version, rows, "snapshot"
	return res, nil
}

// sideFiles returns the side files (revocations, trust list, rules) to
// apply, each with its SHA-256 in hex: all of them, or only those whose
// hash differs from the one last applied.
func (s *Syncer) sideFiles(ctx context.Context, up *repo, m *format.Manifest, all bool) (map[string]string, error) {
	side := map[string]string{}
	for _, p := range []string{m.Revocations, m.TrustList, m.Rules} {
		if p == "" {
			continue
		}
		tf, err := up.GetTargetInfo(p)
		if err != nil {
			return nil, fmt.Errorf("%w: target %s: %w", errFeed, p, err)
		}
		old, err := s.db.Meta(ctx, "applied:"+p)
		if err != nil {
			return nil, err
		}
		if h := hex.EncodeToString(tf.Hashes["sha256"]); all || h != string(old) {
			side[p] = h
		}
	}
	return side, nil
}

// transaction downloads the chunks and side files first (the write
// transaction never waits on the network; the site list is downloaded
// already), then in one transaction runs put, writes the side files and
// the site list and records the feed version. It returns the status rows
// put wrote.
func (s *Syncer) transaction(ctx context.Context, up *repo, m *format.Manifest, expires time.Time,
	chunks []string, side map[string]string, site *siteChange, put func(*cache.Update) (int64, error)) (int64, error) {
	downloads := slices.Concat(chunks, slices.Collect(maps.Keys(side)))
	size, err := up.fetch(downloads, s.cfg.MaxTarget, s.cfg.HoldDownloads)
	if err != nil {
		return 0, err
	}
	if size > s.cfg.HoldDownloads {
		s.emptyWAL(ctx)
	}
	u, err := s.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer u.Rollback()
	if s.afterBegin != nil {
		s.afterBegin()
	}
	rows, err := put(u)
	if err != nil {
		return 0, err
	}
	for p, h := range side {
		if err := s.putSide(up, u, m, p); err != nil {
			return 0, err
		}
		u.SetMeta("applied:"+p, []byte(h))
	}
	if site != nil {
		if err := site.apply(u); err != nil {
			return 0, err
		}
	}
	u.SetFeed(m.Version, m.Published, expires)
	u.SetMeta(metaRoot, []byte(s.rootID))
	if s.beforeCommit != nil {
		s.beforeCommit()
	}
	if err := u.Commit(); err != nil {
		return 0, err
	}
	if s.afterCommit != nil {
		s.afterCommit()
	}
	s.cleanDownloads()
	return rows, nil
}

// emptyWAL has the cache's WAL folded back and truncated before a big
// apply, so that the apply's frames are appended to an empty file. Written
// over instead, the blocks of an earlier WAL that the page cache no longer
// holds are each read back from the card before they are written (the
// 28 MB of a 1M-change delta's frames: 0.16 s written over a WAL no longer
// cached, 0.03 s appended, on the build machine's disk). Small
// applies write over the WAL's start as before: recently written, it is
// in memory, and the file keeps its blocks (nothing to journal).
func (s *Syncer) emptyWAL(ctx context.Context) {
	if err := s.db.Checkpoint(ctx); err != nil {
		s.log.Debug("WAL not emptied before a big apply", "err", err)
	}
}

// putSide checks one side file (revocations, trust list or rules) and
// writes it in u.
func (s *Syncer) putSide(up *repo, u *cache.Update, m *format.Manifest, p string) error {
	b, err := up.target(p, s.cfg.MaxTarget)
	if err != nil {
		return err
	}
	switch p {
	case m.Revocations:
		list, err := format.DecodeRevocations(b)
		if err != nil {
			return fmt.Errorf("%w: %w", errFeed, err)
		}
		return u.SetRevocations(list)
	case m.TrustList:
		ders, err := format.ParseTrustList(b)
		if err != nil {
			return fmt.Errorf("%w: %w", errFeed, err)
		}
		return u.SetSigners(ders)
	case m.Rules:
		if err := format.CheckRules(b); err != nil {
			return fmt.Errorf("%w: %w", errFeed, err)
		}
		return u.SetRules(b)
	}
	return nil
}

// cleanDownloads removes applied downloads but the manifest, which the
// next sync reads again (a sync that finds nothing new then fetches and
// writes nothing). A failure costs only disk space until the next apply
// tries again, so it is logged, not returned.
func (s *Syncer) cleanDownloads() {
	dir := filepath.Join(s.cfg.Dir, "targets")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("feed downloads not removed", "err", err)
		return
	}
	for _, e := range ents {
		if e.Name() == "manifest.json" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			s.log.Warn("feed download not removed", "err", err)
		}
	}
}

// timeoutError is a request that got no answer, or stalled, for the
// timeout, or (whole) did not finish by its deadline.
type timeoutError struct {
	url   string
	d     time.Duration
	whole bool
}

func (e *timeoutError) Error() string {
	if e.whole {
		return fmt.Sprintf("download of %s not finished within its deadline of %v", e.url, e.d)
	}
	return fmt.Sprintf("no answer from %s within %v", e.url, e.d)
}

// fetcher implements go-tuf's fetcher.Fetcher over a context, with a timeout
// on every pause and a deadline for the whole download: for a target, the
// timeout plus its length at minRate (so large files on slow links still
// arrive), for metadata a fixed one. It counts the bytes.
type fetcher struct {
	ctx      context.Context
	client   *http.Client
	base     string // the feed's URL
	timeout  time.Duration
	metadata time.Duration // deadline of a metadata file
	minRate  int64         // bytes a second
	targets  string        // URL prefix of the targets
	bytes    atomic.Int64
}

func (f *fetcher) url() string       { return f.base }
func (f *fetcher) downloaded() int64 { return f.bytes.Load() }

// deadline is the time the whole download of url, of at most maxLength
// bytes, may take.
func (f *fetcher) deadline(url string, maxLength int64) time.Duration {
	if !strings.HasPrefix(url, f.targets) {
		return f.metadata
	}
	secs := float64(maxLength) / float64(f.minRate)
	return f.timeout + time.Duration(min(secs, 100*365*24*3600)*float64(time.Second))
}

// DownloadFile fetches url, reading at most maxLength bytes.
func (f *fetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	shown := redactURL(url) // errors are logged: never a password in the URL
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	var paused, late atomic.Bool
	timer := time.AfterFunc(f.timeout, func() { paused.Store(true); cancel() })
	defer timer.Stop()
	deadline := f.deadline(url, maxLength)
	whole := time.AfterFunc(deadline, func() { late.Store(true); cancel() })
	defer whole.Stop()
	fail := func(err error) ([]byte, error) {
		if late.Load() {
			return nil, &timeoutError{url: shown, d: deadline, whole: true}
		}
		if paused.Load() {
			return nil, &timeoutError{url: shown, d: f.timeout}
		}
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fail(&metadata.ErrDownload{Msg: err.Error()})
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: shown}
	}
	if resp.ContentLength > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than the %d expected", shown, resp.ContentLength, maxLength)}
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	p := make([]byte, 64<<10)
	lr := io.LimitReader(resp.Body, maxLength+1)
	for {
		n, err := lr.Read(p)
		if n > 0 {
			timer.Reset(f.timeout)
			buf.Write(p[:n])
			f.bytes.Add(int64(n))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fail(&metadata.ErrDownload{Msg: fmt.Sprintf("%s: truncated after %d bytes", shown, buf.Len())})
			}
			return fail(&metadata.ErrDownload{Msg: fmt.Sprintf("%s: %v", shown, err)})
		}
	}
	if int64(buf.Len()) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is more than the %d bytes expected", shown, maxLength)}
	}
	return buf.Bytes(), nil
}

// redactURL returns raw with its password, if any, replaced by "xxxxx".
func redactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "the feed URL"
	}
	return u.Redacted()
}
