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
	"checkpoint/config"
	"checkpoint/demo"
	"checkpoint/policy"
)

// defaultConfigPath is where the daemon's config lives on a gate.
const defaultConfigPath = "/etc/checkpoint/checkpoint.toml"

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "run [--config FILE]")
	cfgPath := fs.String("config", defaultConfigPath, "config file")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf("unexpected argument %q: the config file is given with --config FILE", fs.Arg(0))
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return configError{fmt.Errorf("config error: %w", err)}
	}
	return daemon(ctx, e, cfg, daemonOptions{configPath: *cfgPath})
}

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo", "demo [--loop] [--listen ADDR] [--fps N]")
	loop := fs.Bool("loop", false, "replay the demo scene forever")
	listen := fs.String("listen", "127.0.0.1:8080", "operator screen address (empty: off)")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "checkpoint-demo"), "where the demo frames and cache are made")
	fps := fs.Float64("fps", demo.FPS, "replay rate")
	level := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	budget := fs.Duration("budget", config.Default().Decode.Budget.D(), "decode time budget per frame (0: none, every retry runs)")
	if err := noArgs(e, fs, args); err != nil {
		return err
	}
	if *budget < 0 {
		return usageErrorf("--budget must not be negative")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageErrorf("--log-level %q is not debug, info, warn or error", *level)
	}
	cfg, err := demoConfig(ctx, e, *dir, *listen, *loop, *fps, lvl)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checkpoint demo: %d frames at %g fps from %s\n", demo.FrameCount(demo.Scenes()), *fps, cfg.Camera.Path)
	cfg.Decode.Budget = config.Duration(*budget)
	return daemon(ctx, e, cfg, daemonOptions{demo: true})
}

// demoConfig makes the demo frames and cache under dir and returns the
// daemon config that replays them.
func demoConfig(ctx context.Context, e *env, dir, listen string, loop bool, fps float64, level slog.Level) (config.Config, error) {
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
	cfg.LogLevel = config.Level(level)
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
	configPath string // the file cfg came from, for the log; "" for the demo
	demo       bool   // print each verdict with its latency and a summary at the end
	// clock replaces the system clock as the wall clock (tests that make it
	// jump); nil: the system clock. The cache's monotonic guard stays real.
	clock checkpoint.Clock
	// maxPages caps the cache file in SQLite pages (tests of a full disk); 0: no cap.
	maxPages int64
}

// newLogger returns the daemon's logger at the given level.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
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
	for _, csv := range [][]byte{demo.Statuses, demo.Codes} {
		if _, err := db.ImportCSV(ctx, bytes.NewReader(csv)); err != nil {
			db.Close()
			return fmt.Errorf("demo cache: %w", err)
		}
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

// Vietnamese translates a reason with the current rules.
func (j *swapJudge) Vietnamese(reason string) (string, bool) { return j.cur.Load().Vietnamese(reason) }

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
		next := *j.cur.Load()
		next.Rules = rules
		j.cur.Store(&next)
		log.Info("rules reloaded", "version", v)
	}
}
