package main

import (
	"context"
	"log/slog"

	"checkpoint/cache"
	"checkpoint/feed"
)

// syncUsage is the synopsis of `checkpoint sync`.
const syncUsage = "sync [--once] [--from DIR] [--config FILE] [--db PATH] [--url URL] [--root FILE]"

// cmdSync fetches signed updates into the cache: once with --once, else
// every feed.interval until stopped; with --from, once from a copy of the
// feed in a directory (a USB stick), with the same checks.
func cmdSync(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sync", syncUsage)
	once := fs.Bool("once", false, "sync once and exit (status 1 when the sync failed)")
	from := fs.String("from", "", "sync once from this copy of the feed (a stick's feed/ folder, written by feed export) instead of feed.url")
	cfgPath := fs.String("config", "", "config file ([feed] and [cache] sections)")
	dbPath := fs.String("db", "", "cache file (overrides cache.path)")
	url := fs.String("url", "", "feed URL (overrides feed.url)")
	root := fs.String("root", "", "provisioned root.json (overrides feed.root)")
	if err := noArgs(e, fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(e.stderr, "sync", *cfgPath)
	if err != nil {
		return err
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
	if cfg.Feed.URL == "" && *from == "" {
		return usageErrorf("no feed: set feed.url in the config, or give --url URL or --from DIR")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	fo, err := feedOptions(cfg.Feed, cfg.Cache.Path, log)
	if err != nil {
		return usageError{err}
	}
	fo.Site = cfg.Site
	if *cfgPath != "" {
		fo.Firmware = firmwareOptions(ctx, cfg, log) // a gate's config: offer its firmware
	}
	db, err := cache.OpenOrRecover(ctx, cfg.Cache.Path, cache.Options{MaxAge: cfg.Cache.MaxAge.D(), Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := feed.NewSyncer(db, fo)
	if err != nil {
		return err
	}
	if *from != "" {
		if _, err := s.SyncOnceFrom(ctx, *from); err != nil {
			return exitStatus(exitFail) // SyncOnceFrom logged it
		}
		return nil
	}
	if *once {
		if _, err := s.SyncOnce(ctx); err != nil {
			return exitStatus(exitFail) // SyncOnce logged it
		}
		return nil
	}
	s.Run(ctx)
	return nil
}
