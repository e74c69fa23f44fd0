package main

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"checkpoint/cache"
)

// cmdEvents exports the event log: `events export --since TIME [--hourly]`.
// Output is JSON lines (see cache.ExportEvents).
func cmdEvents(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(e.stderr, "usage: checkpoint events export --since TIME [--hourly] [--config FILE | --db PATH]")
		return exitUsage
	}
	fs := newFlags(e, "events export")
	since := fs.String("since", "", "first time to export: RFC 3339, YYYY-MM-DD (UTC) or a duration ago such as 24h")
	hourly := fs.Bool("hourly", false, "export the hourly counts instead of the entries")
	cfgPath := fs.String("config", "", "config file (its cache.path holds the log)")
	dbPath := fs.String("db", "", "cache file (overrides the config)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if *since == "" || fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "checkpoint events export: --since TIME is required and no other arguments are taken")
		return exitUsage
	}
	t, err := parseSince(*since, time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint events export: --since: %v\n", err)
		return exitUsage
	}
	path, maxAge, code := cachePath(e, *cfgPath, *dbPath)
	if code != 0 {
		return code
	}
	db, err := cache.Open(ctx, path, cache.Options{MaxAge: maxAge, SkipCheck: true})
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint events export: %v\n", err)
		return exitFail
	}
	defer db.Close()
	w := bufio.NewWriter(e.stdout)
	if _, err := db.ExportEvents(ctx, w, t, *hourly); err != nil {
		fmt.Fprintf(e.stderr, "checkpoint events export: %v\n", err)
		return exitFail
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "checkpoint events export: %v\n", err)
		return exitFail
	}
	return exitOK
}

// parseSince reads RFC 3339, a date (UTC midnight) or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339, YYYY-MM-DD or a duration such as 24h", s)
}
