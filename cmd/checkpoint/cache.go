package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"checkpoint/cache"
	"checkpoint/config"
)

// cmdCache manages the local status cache: `cache import --csv FILE`.
func cmdCache(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintln(e.stderr, "usage: checkpoint cache import --csv FILE [--config FILE | --db PATH]")
		return exitUsage
	}
	fs := newFlags(e, "cache import")
	csvPath := fs.String("csv", "", "CSV file of qid,status,valid_until rows")
	cfgPath := fs.String("config", "", "config file (its cache.path is the cache)")
	dbPath := fs.String("db", "", "cache file (overrides the config)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if *csvPath == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "checkpoint cache import: --csv FILE is required and no other arguments are taken")
		return exitUsage
	}
	path, maxAge, code := cachePath(e, *cfgPath, *dbPath)
	if code != 0 {
		return code
	}
	f, err := os.Open(*csvPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint cache import: %v\n", err)
		return exitFail
	}
	defer f.Close()
	db, err := cache.OpenOrRecover(ctx, path, cache.Options{MaxAge: maxAge})
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint cache import: %v\n", err)
		return exitFail
	}
	defer db.Close()
	n, err := db.ImportCSV(ctx, f)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint cache import: %s: %v\n", *csvPath, err)
		return exitFail
	}
	fmt.Fprintf(e.stdout, "imported %d rows into %s\n", n, path)
	return exitOK
}

// cachePath picks the cache file from --db or the config, with the config's
// max_age. A config error exits with config.ExitConfig.
func cachePath(e *env, cfgPath, dbPath string) (string, time.Duration, int) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint: %v\n", err)
		return "", 0, config.ExitConfig
	}
	if dbPath != "" {
		return dbPath, cfg.Cache.MaxAge.D(), 0
	}
	return cfg.Cache.Path, cfg.Cache.MaxAge.D(), 0
}
