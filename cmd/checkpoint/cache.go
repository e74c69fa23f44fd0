package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"checkpoint/cache"
)

const cacheUsage = "cache import --csv FILE [--config FILE | --db PATH]"

// cmdCache manages the local status cache: `cache import --csv FILE`.
func cmdCache(ctx context.Context, e *env, args []string) error {
	if err := oneVerb(e, "cache", "import", cacheUsage, args); err != nil {
		return err
	}
	fs := newFlags(e, "cache import", cacheUsage)
	csvPath := fs.String("csv", "", "CSV file of qid,status,valid_until rows (a header may name a code column)")
	cfgPath := fs.String("config", "", "config file (its cache.path is the cache)")
	dbPath := fs.String("db", "", "cache file (overrides the config)")
	if err := noArgs(e, fs, args[1:]); err != nil {
		return err
	}
	if *csvPath == "" {
		return usageErrorf("--csv FILE is required")
	}
	path, maxAge, err := cachePath(e, "cache import", *cfgPath, *dbPath)
	if err != nil {
		return err
	}
	f, err := os.Open(*csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	db, err := cache.OpenOrRecover(ctx, path, cache.Options{MaxAge: maxAge})
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.ImportCSV(ctx, f)
	if err != nil {
		return fmt.Errorf("%s: %w", *csvPath, err)
	}
	fmt.Fprintf(e.stdout, "imported %d rows into %s\n", n, path)
	return nil
}

// cachePath picks the cache file from --db or the config, with the config's
// max_age.
func cachePath(e *env, name, cfgPath, dbPath string) (string, time.Duration, error) {
	if cfgPath == "" && dbPath != "" {
		return dbPath, 0, nil // the cache's default max_age
	}
	cfg, err := loadConfig(e.stderr, name, cfgPath)
	if err != nil {
		return "", 0, err
	}
	if dbPath != "" {
		return dbPath, cfg.Cache.MaxAge.D(), nil
	}
	return cfg.Cache.Path, cfg.Cache.MaxAge.D(), nil
}
