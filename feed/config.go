package feed

import (
	"fmt"
	"log/slog"
	"os"

	"checkpoint/config"
)

// ConfigFrom builds a Syncer's Config from the gate's [feed] section: the
// root metadata is read from c.Root, and the state lives beside the cache
// (cachePath + ".feed"). Clock is left to NewSyncer's default (the system
// clock floored at the cache's feed time).
func ConfigFrom(c config.Feed, cachePath string, log *slog.Logger) (Config, error) {
	if c.URL == "" {
		return Config{}, fmt.Errorf("feed.url is not set")
	}
	root, err := os.ReadFile(c.Root)
	if err != nil {
		return Config{}, fmt.Errorf("read feed root metadata: %w", err)
	}
	return Config{
		URL:      c.URL,
		Root:     root,
		Dir:      cachePath + ".feed",
		Timeout:  c.Timeout.D(),
		Interval: c.Interval.D(),
		Logger:   log,
	}, nil
}
