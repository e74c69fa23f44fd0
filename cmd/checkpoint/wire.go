package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/camera"
	"checkpoint/config"
	"checkpoint/credential"
	"checkpoint/feed"
	"checkpoint/gpio"
	"checkpoint/policy"
	"checkpoint/web"
)

// policyRules builds the verdict rules from the config's [policy] table.
func policyRules(p config.Policy) policy.Rules {
	r := policy.DefaultRules()
	r.Unknown = p.Unknown.C()
	r.CCCD = p.CCCD.C()
	r.Stale = p.Stale.C()
	r.ShowFullName = p.ShowFullName
	r.RequireList, r.NotListed = p.SiteList == "require", p.NotListed.C()
	return r
}

// gpioWiring is the [gpio] table as the gpio package takes it.
func gpioWiring(g config.GPIO) gpio.Wiring {
	return gpio.Wiring{
		Green: g.Green, Yellow: g.Yellow, Red: g.Red, Buzzer: g.Buzzer, Relay: g.Relay,
		ActiveLow: g.ActiveLow, Button: g.Button, ButtonActiveLow: g.ButtonActiveLow, Debounce: g.Debounce.D(),
	}
}

// openGPIO opens the outputs the [gpio] table describes.
func openGPIO(g config.GPIO, w io.Writer, log *slog.Logger) (*gpio.Signal, error) {
	return gpio.Open(g.Driver, gpioWiring(g), w, log)
}

// openCamera opens the source the [camera] table selects: "replay"
// (camera.path at camera.fps, camera.loop), "rpicam" or "gocv". A replay
// path that does not exist is a config error.
func openCamera(c config.Camera, log *slog.Logger) (checkpoint.Source, error) {
	switch c.Source {
	case "replay":
		if _, err := os.Stat(c.Path); err != nil {
			return nil, configError{fmt.Errorf("camera.path: %w", err)}
		}
		r, err := camera.NewReplay([]string{c.Path}, camera.ReplayOptions{FPS: c.FPS, Loop: c.Loop, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("camera: %w", err)
		}
		return r, nil
	case "rpicam":
		args, err := camera.RPiCamArgs(camera.RPiCamSettings{
			Width: c.Width, Height: c.Height, FPS: c.FPS,
			Exposure: c.Exposure, Shutter: c.Shutter.D(), Gain: c.Gain,
			Focus: c.Focus, LensPosition: c.LensPosition, Extra: c.Args,
		})
		if err != nil {
			return nil, configError{err}
		}
		return camera.NewRPiCam(camera.RPiCamOptions{
			Command: c.Command, Args: args, Width: c.Width, Height: c.Height,
			StallTimeout: 2 * c.StallTimeout.D(), Logger: log,
		})
	case "gocv":
		return camera.OpenGoCV(camera.GoCVOptions{
			Device: c.Device, Pipeline: c.Pipeline,
			Width: c.Width, Height: c.Height, FPS: c.FPS, FourCC: c.FourCC, Logger: log,
		})
	}
	return nil, configError{fmt.Errorf("camera.source: %q is not replay, rpicam or gocv", c.Source)}
}

// feedOptions builds the Syncer's options from the [feed] table: the root
// metadata is read from feed.root, and the state lives beside the cache
// (cachePath + ".feed"). Clock is left to NewSyncer's default (the system
// clock floored at the cache's feed time). An empty feed.url gives a syncer
// of directories (sticks) only.
func feedOptions(c config.Feed, cachePath string, log *slog.Logger) (feed.Options, error) {
	root, err := os.ReadFile(c.Root)
	if err != nil {
		return feed.Options{}, configError{fmt.Errorf("feed.root: read the feed's root metadata: %w", err)}
	}
	return feed.Options{
		URL:      c.URL,
		Root:     root,
		Dir:      cachePath + ".feed",
		Timeout:  c.Timeout.D(),
		Interval: c.Interval.D(),
		Logger:   log,
	}, nil
}

// newScanJudge builds the parser and judge for `scan`: from a config's cache
// and rules when cfgPath is set, else offline from the given files.
func newScanJudge(ctx context.Context, cfgPath, trustPath, rulesPath string, clock checkpoint.Clock) (*scanJudge, func(), error) {
	j := &scanJudge{
		parser: &credential.Parser{Clock: clock},
		judge:  &policy.Judge{Rules: policy.DefaultRules()},
		clock:  clock,
	}
	closeFn := func() {}
	if cfgPath != "" {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			// scan's contract: a bad command line, its --config included, is 2.
			return nil, nil, usageError{fmt.Errorf("config error: %w", err)}
		}
		db, err := cache.Open(ctx, cfg.Cache.Path, cache.Options{MaxAge: cfg.Cache.MaxAge.D(), SkipCheck: true,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, nil, err
		}
		closeFn = func() { db.Close() }
		j.parser.Trust = db
		j.judge.Store = db
		j.judge.Stale = db.Stale
		j.judge.List = db
		j.judge.ListCurrent = func(now time.Time) bool { return db.SiteListCurrent(cfg.Site, now) }
		if j.judge.Rules, err = siteRules(ctx, cfg.Policy, db, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
			closeFn()
			return nil, nil, err
		}
	}
	if trustPath != "" {
		pool, err := credential.LoadTrustFile(trustPath)
		if err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("--trust-cert: %w", err)
		}
		j.parser.Trust = pool
	}
	if rulesPath != "" {
		prof, err := policy.LoadProfile(rulesPath)
		if err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("--rules: %w", err)
		}
		j.judge.Rules.HC1 = prof
	}
	return j, closeFn, nil
}

// siteRules builds the verdict rules: the [policy] table, with the HC1 rule
// profile from policy.rules when set, else from the feed, else the defaults.
func siteRules(ctx context.Context, p config.Policy, db *cache.DB, log *slog.Logger) (policy.Rules, error) {
	r := policyRules(p)
	if p.Rules != "" {
		prof, err := policy.LoadProfile(p.Rules)
		if err != nil {
			return r, fmt.Errorf("policy.rules: %w", err)
		}
		r.HC1 = prof
		return r, nil
	}
	if db == nil {
		return r, nil
	}
	b, err := db.Rules(ctx)
	if err != nil {
		return r, fmt.Errorf("read rule profile from cache: %w", err)
	}
	if b != nil {
		prof, err := policy.ParseProfile(b)
		if err != nil {
			// The feed signed it, so this is a format this version does
			// not understand: keep the defaults and say so.
			log.Warn("rule profile from the feed not understood; using the default HC1 rules", "err", err)
			return r, nil
		}
		r.HC1 = prof
	}
	return r, nil
}

// The cache is what the operator screen needs of it, /healthz's ping included.
var (
	_ web.Cache  = (*cache.DB)(nil)
	_ web.Pinger = (*cache.DB)(nil)
)
