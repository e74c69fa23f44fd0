package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/config"
	"checkpoint/credential"
	"checkpoint/decode"
	"checkpoint/demo"
	"checkpoint/feed"
	"checkpoint/gpio"
	"checkpoint/notify"
	"checkpoint/policy"
	"checkpoint/web"
)

// defaultConfigPath is where the daemon's config lives on a gate.
const defaultConfigPath = "/etc/checkpoint/checkpoint.toml"

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "run")
	cfgPath := fs.String("config", defaultConfigPath, "config file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint run: config error: %v\n", err)
		return config.ExitConfig
	}
	return daemon(ctx, e, cfg, daemonOptions{})
}

func cmdDemo(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "demo")
	loop := fs.Bool("loop", false, "replay the demo scene forever")
	listen := fs.String("listen", "127.0.0.1:8080", "operator screen address (empty: off)")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "checkpoint-demo"), "where the demo frames and cache are made")
	fps := fs.Float64("fps", demo.FPS, "replay rate")
	level := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	budget := fs.Duration("budget", config.Default().Decode.Budget.D(), "decode time budget per frame (0: none, every retry runs)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := demoConfig(ctx, e, *dir, *listen, *loop, *fps, *level)
	if err == nil && *budget < 0 {
		err = fmt.Errorf("--budget must not be negative")
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint demo: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(e.stdout, "checkpoint demo: %d frames at %g fps from %s\n", demo.FrameCount(demo.Scenes()), *fps, cfg.Camera.Path)
	if *listen != "" {
		fmt.Fprintf(e.stdout, "operator screen: http://%s/\n", *listen)
	}
	cfg.Decode.Budget = config.Duration(*budget)
	return daemon(ctx, e, cfg, daemonOptions{demo: true})
}

// demoConfig makes the demo frames and cache under dir and returns the
// daemon config that replays them.
func demoConfig(ctx context.Context, e *env, dir, listen string, loop bool, fps float64, level string) (config.Config, error) {
	frames := filepath.Join(dir, "frames-v1")
	if _, err := demo.WriteFrames(frames); err != nil {
		return config.Config{}, err
	}
	dbPath := filepath.Join(dir, "demo.db")
	if err := buildDemoCache(ctx, dbPath); err != nil {
		return config.Config{}, err
	}
	cfg := config.Default()
	cfg.Gate = "demo"
	cfg.LogLevel = level
	cfg.Camera.Source = "replay"
	cfg.Camera.Path = frames
	cfg.Camera.Loop = loop
	cfg.Camera.FPS = fps
	cfg.Cache.Path = dbPath
	cfg.Feed.URL = ""
	cfg.GPIO.Driver = "terminal"
	cfg.Web.Listen = listen
	return cfg, nil
}

// daemonOptions are what differs between `run` and `demo`.
type daemonOptions struct {
	demo bool // print each verdict with its latency and a summary at the end
	// clock replaces the system clock as the wall clock (tests that make it
	// jump); nil: the system clock. The cache's monotonic guard stays real.
	clock checkpoint.Clock
	// maxPages caps the cache file in SQLite pages (tests of a full disk); 0: no cap.
	maxPages int64
}

// newLogger returns the daemon's logger at the given level.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// latencyPrinter prints each verdict with its frame-to-verdict latency and
// keeps the latencies for the summary.
type latencyPrinter struct {
	checkpoint.NopObserver
	w io.Writer

	mu  sync.Mutex
	lat []time.Duration
}

func (p *latencyPrinter) Verdict(ev checkpoint.Event) {
	p.mu.Lock()
	p.lat = append(p.lat, ev.Latency)
	p.mu.Unlock()
	v := ev.Verdict
	fmt.Fprintf(p.w, "  frame %4d  %-6s %-7s %-40s latency %6.2f ms\n", ev.FrameSeq, strings.ToUpper(v.Color.String()),
		v.Format, strings.Join(v.Reasons, "; "), float64(ev.Latency.Microseconds())/1000)
}

// summary prints the verdict count and latency percentiles.
func (p *latencyPrinter) summary(st checkpoint.ScannerStats, src checkpoint.SourceStats) {
	p.mu.Lock()
	lat := append([]time.Duration(nil), p.lat...)
	p.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Fprintf(p.w, "frames %d (dropped %d), codes %d, verdicts green %d yellow %d red %d",
		st.Frames, src.Dropped, st.Symbols, st.Verdicts[checkpoint.Green], st.Verdicts[checkpoint.Yellow], st.Verdicts[checkpoint.Red])
	if len(lat) > 0 {
		fmt.Fprintf(p.w, ", frame-to-verdict latency p50 %.2f ms p99 %.2f ms",
			ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)))
	}
	fmt.Fprintln(p.w)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile returns the q-quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(len(sorted)-1, i))
	return sorted[i]
}

// daemon runs the scanner from cfg until ctx is done (or, for a replay
// without loop, until the last frame). A failure before the first frame
// (outputs, cache, camera) exits exitStartup: systemd then leaves the unit
// failed and checkpoint-fault.service shows the fault pattern.
func daemon(ctx context.Context, e *env, cfg config.Config, o daemonOptions) int {
	log := newLogger(e.stderr, cfg.LogLevel)
	notifier := notify.New(log)
	ind, err := gpio.Open(cfg.GPIO, e.stdout, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint: outputs: %v\n", err)
		return exitStartup
	}
	defer ind.Close() // every output back to its safe state
	wall := o.clock
	if wall == nil {
		wall = checkpoint.SystemClock{}
	}
	db, err := cache.OpenOrRecover(ctx, cfg.Cache.Path, cache.Options{MaxAge: cfg.Cache.MaxAge.D(), Logger: log, Clock: wall, MaxPages: o.maxPages})
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint: %v\n", err)
		return exitStartup
	}
	defer db.Close()
	// Never earlier than the newest verified feed time, and still running
	// while the wall clock lags behind it.
	clock := &checkpoint.RunningFloorClock{Clock: wall, Floor: db.FeedTime}
	rules, err := siteRules(ctx, cfg.Policy, db, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint: %v\n", err)
		return config.ExitConfig
	}
	src, err := camera.Open(cfg.Camera, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint: camera: %v\n", err)
		return exitStartup
	}
	defer src.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	events := cache.NewEventLog(db, cache.EventLogOptions{Gate: cfg.Gate, Retention: cfg.Events.Retention.D(), Clock: clock, Logger: log})
	wg.Add(1)
	go func() { defer wg.Done(); events.Run(ctx) }()

	// With several workers, frames are decoded in parallel ahead of the
	// loop and handed on in order; with one, the loop decodes each itself.
	var frames checkpoint.Source = src
	var dec checkpoint.Decoder = decode.New(decode.Options{Workers: cfg.Decode.Workers, Budget: cfg.Decode.Budget.D()})
	if cfg.Decode.Workers > 1 {
		p := dec.(*decode.Decoder).Pipeline(ctx, src)
		defer p.Close()
		frames, dec = p, p
	}

	judge := &swapJudge{}
	judge.cur.Store(&policy.Judge{Store: db, Rules: rules, Stale: db.Stale})
	var syncStats func() web.SyncStats
	if cfg.Feed.URL != "" {
		fc, err := feed.ConfigFrom(cfg.Feed, cfg.Cache.Path, log)
		if err != nil {
			fmt.Fprintf(e.stderr, "checkpoint: feed: %v\n", err)
			return config.ExitConfig
		}
		fc.Clock = clock // what NewSyncer defaults to, on the daemon's wall clock
		syncer, err := feed.NewSyncer(db, fc)
		if err != nil {
			fmt.Fprintf(e.stderr, "checkpoint: feed: %v\n", err)
			return config.ExitConfig
		}
		wg.Add(2)
		go func() { defer wg.Done(); syncer.Run(ctx) }()
		go func() { defer wg.Done(); judge.follow(ctx, db, cfg.Policy, log) }()
		syncStats = func() web.SyncStats {
			st := syncer.Stats()
			return web.SyncStats{Version: st.Version, Errors: st.Failures, LastSuccess: st.LastSuccess}
		}
	}

	var started atomic.Bool // the first frame came: READY was sent
	s := &checkpoint.Scanner{
		Source:       frames,
		Decoder:      dec,
		Parser:       &credential.Parser{Trust: db, Clock: clock},
		Judge:        judge,
		Indicator:    ind,
		Clock:        clock,
		Logger:       log,
		Cooldown:     cfg.Policy.Cooldown.D(),
		StallTimeout: cfg.Camera.StallTimeout.D(),
		Stale:        db.Stale,
		Fault:        db.Rebuilding,
		Heartbeat:    notifier.Heartbeat,
		FirstFrame:   func() { started.Store(true); notifier.Ready() },
		Observers:    []checkpoint.Observer{events},
	}
	if cfg.Web.Listen != "" {
		srv, err := web.New(web.Options{Config: cfg.Web, Gate: cfg.Gate, Scanner: s, Camera: src, Cache: db,
			Sync: syncStats, Clock: clock, Logger: log, Stall: cfg.Camera.StallTimeout.D()})
		if err != nil {
			fmt.Fprintf(e.stderr, "checkpoint: operator screen: %v\n", err)
			return config.ExitConfig
		}
		s.Observers = append(s.Observers, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ListenAndServe(ctx); err != nil && ctx.Err() == nil {
				// The gate keeps scanning without its screen.
				log.Error("operator screen stopped", "err", err)
			}
		}()
	}
	var printer *latencyPrinter
	if o.demo {
		printer = &latencyPrinter{w: e.stdout}
		s.Observers = append(s.Observers, printer)
	}

	err = s.Run(ctx)
	notifier.Stopping()
	if o.demo && ctx.Err() == nil {
		// Let the last verdict's pattern finish before the outputs go safe.
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		ind.Wait(wctx)
		wcancel()
	}
	if printer != nil {
		printer.summary(s.Stats(), src.Stats())
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint: %v\n", err)
		if !started.Load() {
			return exitStartup
		}
		return exitFail
	}
	return exitOK
}

// buildDemoCache makes a fresh demo cache from the embedded statuses.
func buildDemoCache(ctx context.Context, path string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("demo cache: %w", err)
		}
	}
	db, err := cache.Open(ctx, path, cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("demo cache: %w", err)
	}
	if _, err := db.ImportCSV(ctx, bytes.NewReader(demo.Statuses)); err != nil {
		db.Close()
		return fmt.Errorf("demo cache: %w", err)
	}
	return db.Close()
}

// swapJudge is the daemon's judge: the rules it holds are replaced, between
// two verdicts, when a sync brings a new rule profile.
type swapJudge struct {
	cur atomic.Pointer[policy.Judge]
}

// Judge decides with the current rules.
func (j *swapJudge) Judge(ctx context.Context, c checkpoint.Credential, now time.Time) checkpoint.Verdict {
	return j.cur.Load().Judge(ctx, c, now)
}

// follow reloads the rules whenever the cache's feed version changes.
func (j *swapJudge) follow(ctx context.Context, db *cache.DB, p config.Policy, log *slog.Logger) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	seen := db.Version()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := db.Version()
		if v == seen {
			continue
		}
		seen = v
		rules, err := siteRules(ctx, p, db, log)
		if err != nil {
			log.Error("reload rules after sync", "version", v, "err", err)
			continue
		}
		old := j.cur.Load()
		j.cur.Store(&policy.Judge{Store: old.Store, Rules: rules, Stale: old.Stale})
		log.Info("rules reloaded", "version", v)
	}
}
