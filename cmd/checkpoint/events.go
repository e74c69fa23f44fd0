package main

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"checkpoint/cache"
)

const eventsUsage = "events export --since TIME [--hourly] [--config FILE | --db PATH]"

// cmdEvents exports the event log: `events export --since TIME [--hourly]`.
// Output is JSON lines (see cache.ExportEvents).
func cmdEvents(ctx context.Context, e *env, args []string) error {
	if err := oneVerb(e, "events", "export", eventsUsage, args); err != nil {
		return err
	}
	fs := newFlags(e, "events export", eventsUsage)
	since := fs.String("since", "", "first time to export: RFC 3339, YYYY-MM-DD (UTC) or a duration ago such as 24h")
	hourly := fs.Bool("hourly", false, "export the hourly counts instead of the entries")
	cfgPath := fs.String("config", "", "config file (its cache.path holds the log)")
	dbPath := fs.String("db", "", "cache file (overrides the config)")
	if err := noArgs(e, fs, args[1:]); err != nil {
		return err
	}
	if *since == "" {
		return usageErrorf("--since TIME is required")
	}
	t, err := parseSince(*since, time.Now())
	if err != nil {
		return usageErrorf("--since: %w", err)
	}
	path, maxAge, err := cachePath(e, "events export", *cfgPath, *dbPath)
	if err != nil {
		return err
	}
	db, err := cache.Open(ctx, path, cache.Options{MaxAge: maxAge, SkipCheck: true})
	if err != nil {
		return err
	}
	defer db.Close()
	w := bufio.NewWriter(e.stdout)
	if _, err := db.ExportEvents(ctx, w, t, *hourly); err != nil {
		return err
	}
	return w.Flush()
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
