package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/config"
	"checkpoint/credential"
	"checkpoint/policy"
	"checkpoint/web"
)

// policyRules builds the verdict rules from the config's [policy] table.
// The colours were validated when the config was loaded.
func policyRules(p config.Policy) policy.Rules {
	r := policy.DefaultRules()
	r.Unknown = mustColor(p.Unknown)
	r.CCCD = mustColor(p.CCCD)
	r.Stale = mustColor(p.Stale)
	r.ShowFullName = p.ShowFullName
	return r
}

func mustColor(s string) checkpoint.Color {
	c, err := checkpoint.ParseColor(s)
	if err != nil {
		panic(fmt.Sprintf("config validation let through %v", err))
	}
	return c
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
