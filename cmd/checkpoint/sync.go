package main

import (
	"context"
	"fmt"
	"log/slog"

	"checkpoint/cache"
	"checkpoint/config"
	"checkpoint/feed"
)

// cmdSync fetches signed updates into the cache: once with --once, else
// every feed.interval until stopped.
func cmdSync(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "sync")
	once := fs.Bool("once", false, "sync once and exit (status 1 when the sync failed)")
	cfgPath := fs.String("config", "", "config file ([feed] and [cache] sections)")
	dbPath := fs.String("db", "", "cache file (overrides cache.path)")
	url := fs.String("url", "", "feed URL (overrides feed.url)")
	root := fs.String("root", "", "provisioned root.json (overrides feed.root)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "checkpoint sync: no arguments are taken")
		return exitUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint: %v\n", err)
		return config.ExitConfig
	}
	if *dbPath != "" {
		cfg.Cache.Path = *dbPath
	}
	if *url != "" {
		cfg.Feed.URL = *url
	}
	if *root != "" {
		cfg.Feed.Root = *root
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	fc, err := feed.ConfigFrom(cfg.Feed, cfg.Cache.Path, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint sync: %v\n", err)
		return exitUsage
	}
	db, err := cache.OpenOrRecover(ctx, cfg.Cache.Path, cache.Options{MaxAge: cfg.Cache.MaxAge.D(), Logger: log})
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint sync: %v\n", err)
		return exitFail
	}
	defer db.Close()
	s, err := feed.NewSyncer(db, fc)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint sync: %v\n", err)
		return exitFail
	}
	if *once {
		if _, err := s.SyncOnce(ctx); err != nil {
			return exitFail
		}
		return exitOK
	}
	s.Run(ctx)
	return exitOK
}
