package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"checkpoint/cache"
)

// cacheVerbs are the synopsis lines of `checkpoint cache`.
var cacheVerbs = []string{
	"cache import --csv FILE [--config FILE | --db PATH]: load qid,status,valid_until rows in one transaction",
	"cache downgrade [--config FILE | --db PATH]: (run by the package when an older version is installed) rewrite the cache in the layout releases before schema 5 read",
}

// cmdCache manages the local status cache.
func cmdCache(ctx context.Context, e *env, args []string) error {
	if done, err := noVerb(e, "cache", cacheVerbs, args); done {
		return err
	}
	switch args[0] {
	case "import":
		return cacheImport(ctx, e, args)
	case "downgrade":
		return cacheDowngrade(ctx, e, args)
	}
	return unknownVerb(e, "cache", cacheVerbs, args[0])
}

const cacheUsage = "cache import --csv FILE [--config FILE | --db PATH]"

// cacheImport is `cache import --csv FILE`.
func cacheImport(ctx context.Context, e *env, args []string) error {
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

const downgradeUsage = "cache downgrade [--config FILE | --db PATH]"

// cacheDowngrade is `cache downgrade`: deb/prerm runs it, the daemon
// stopped, before an older version of the package is unpacked. A file that
// is not there is nothing to do.
func cacheDowngrade(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cache downgrade", downgradeUsage)
	cfgPath := fs.String("config", "", "config file (its cache.path is the cache)")
	dbPath := fs.String("db", "", "cache file (overrides the config)")
	if err := noArgs(e, fs, args[1:]); err != nil {
		return err
	}
	path, _, err := cachePath(e, "cache downgrade", *cfgPath, *dbPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stdout, "no cache at %s: nothing to rewrite\n", path)
		return nil
	}
	changed, err := cache.Downgrade(ctx, path)
	switch {
	case err != nil:
		return err
	case changed:
		fmt.Fprintf(e.stdout, "rewrote %s in schema 4, for a release before schema 5\n", path)
	default:
		fmt.Fprintf(e.stdout, "%s is in schema 4 or older already\n", path)
	}
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
