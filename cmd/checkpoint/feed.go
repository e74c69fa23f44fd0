package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"checkpoint/feed/format"
	"checkpoint/feed/publish"
)

// feedVerbs are the synopsis lines of `checkpoint feed`.
var feedVerbs = []string{
	"feed init DIR [--root-expires 8760h]: create the authority's signing keys and an empty feed",
	"feed publish DIR --statuses FILE.csv [--revocations FILE] [--trust-list FILE] [--rules FILE] [--expires 24h] [--firmware checkpoint_V_arm64.deb [--rollout 10%] [--rollback]]: sign a new version (--firmware without --statuses keeps the statuses)",
	"feed refresh DIR [--expires 24h]: re-sign the timestamp (daily, from cron)",
	"feed serve DIR [--listen 127.0.0.1:8000]: serve DIR/repo over HTTP (tests and demos)",
	"feed export DIR DEST: write what a gate needs to sync from a USB stick into DEST (the stick's feed/ folder)",
	"feed site init DIR SITE [--rekey]: make a site's key pair and delegate sites/SITE/* to it",
	"feed site publish DIR SITE --people FILE.csv [--key FILE] [--expires 720h]: sign the site's list with the site's key",
	"feed site import DIR FILES...: take in the signed files a site sent",
}

// feedUsage is the synopsis of the verb named (feedVerbs without the text).
func feedUsage(verb string) string {
	for _, v := range feedVerbs {
		if syn, _, _ := strings.Cut(v, ": "); strings.HasPrefix(syn, "feed "+verb+" ") {
			return syn
		}
	}
	return "feed " + verb
}

// cmdFeed builds the signed status feed (authority side).
func cmdFeed(ctx context.Context, e *env, args []string) error {
	if done, err := noVerb(e, "feed", feedVerbs, args); done {
		return err
	}
	switch args[0] {
	case "init":
		return feedInit(e, args[1:])
	case "publish":
		return feedPublish(ctx, e, args[1:])
	case "refresh":
		return feedRefresh(e, args[1:])
	case "serve":
		return feedServe(ctx, e, args[1:])
	case "export":
		return feedExport(e, args[1:])
	case "site":
		return feedSite(ctx, e, args[1:])
	}
	return unknownVerb(e, "feed", feedVerbs, args[0])
}

// parseDir parses flags and the one DIR argument, which may come before or
// after the flags.
func parseDir(e *env, fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parsePositional(e, fs, args, 1, 1, "one DIR argument is required")
	if err != nil {
		return "", err
	}
	return pos[0], nil
}

// parsePositional parses flags and from min to max positional arguments
// (max < 0: no limit), which may come before or after the flags; missing
// says what is wanted.
func parsePositional(e *env, fs *flag.FlagSet, args []string, min, max int, missing string) ([]string, error) {
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := parseFlags(e, fs, args); err != nil {
		return nil, err
	}
	pos = append(pos, fs.Args()...)
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		fs.Usage()
		return nil, usageErrorf("%s", missing)
	}
	return pos, nil
}

func feedInit(e *env, args []string) error {
	fs := newFlags(e, "feed init", feedUsage("init"))
	rootExp := fs.Duration("root-expires", publish.DefaultRootExpiry, "lifetime of the root metadata")
	dir, err := parseDir(e, fs, args)
	if err != nil {
		return err
	}
	if err := publish.Init(dir, publish.InitOptions{RootExpiry: *rootExp}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "feed created in %s\n  serve:     %s\n  provision: %s (as feed.root on every gate)\n  keep safe: %s\n",
		dir, filepath.Join(dir, "repo"), filepath.Join(dir, "repo", "root.json"), filepath.Join(dir, "keys"))
	return nil
}

func feedPublish(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feed publish", feedUsage("publish"))
	statuses := fs.String("statuses", "", "CSV of qid,status,valid_until rows, or with a header naming a code column for typed codes (required)")
	revocations := fs.String("revocations", "", "CSV of hashtype,hash rows (default: keep the previous list)")
	trust := fs.String("trust-list", "", "PEM bundle of DSC certificates (default: keep the previous list)")
	rules := fs.String("rules", "", "JSON rule profile (default: keep the previous one)")
	expires := fs.Duration("expires", publish.DefaultTimestampExpiry, "timestamp lifetime: gates go stale this long after the last publish or refresh")
	keep := fs.Int("keep-deltas", publish.DefaultKeepDeltas, "deltas kept for gates that are behind")
	chunk := fs.Int("chunk", publish.DefaultChunkRecords, "status rows per chunk")
	shrink := fs.Bool("allow-shrink", false, fmt.Sprintf("publish even when the file removes more than %.0f%% of the statuses published before", 100*publish.MaxShrink))
	firmware := fs.String("firmware", "", "the gates' firmware: a package made by make deb (checkpoint_VERSION_arm64.deb)")
	rollout := fs.String("rollout", "", "share of gates that take the firmware, such as 10% (default 100% for a new package; alone: widen the current one's)")
	rollback := fs.Bool("rollback", false, "the firmware is lower than the feed's: a deliberate rollback, which gates on a higher version take")
	dir, err := parseDir(e, fs, args)
	if err != nil {
		return err
	}
	fw, err := firmwareFlags(*firmware, *rollout, *rollback)
	if err != nil {
		return err
	}
	if *statuses == "" && fw == nil {
		fs.Usage()
		return usageErrorf("--statuses FILE is required (but for a publish of firmware alone)")
	}
	var in publish.Inputs
	for _, f := range []struct {
		path string
		dst  *io.Reader
	}{{*statuses, &in.Statuses}, {*revocations, &in.Revocations}, {*trust, &in.TrustList}, {*rules, &in.Rules}} {
		if f.path == "" {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			return err
		}
		defer fh.Close()
		*f.dst = fh
	}
	start := time.Now()
	last := time.Now()
	m, err := publish.Publish(ctx, dir, in, publish.Options{
		Warn:            warner(e),
		TimestampExpiry: *expires,
		KeepDeltas:      *keep,
		ChunkRecords:    *chunk,
		AllowShrink:     *shrink,
		Firmware:        fw,
		Progress: func(stage string, n int64) {
			if time.Since(last) > time.Second {
				fmt.Fprintf(e.stderr, "%s: %d rows\n", stage, n)
				last = time.Now()
			}
		},
	})
	if err != nil {
		return err
	}
	changes := int64(-1)
	if len(m.Deltas) > 0 {
		changes = m.Deltas[len(m.Deltas)-1].Changes
	}
	fmt.Fprintf(e.stdout, "published version %d: %d statuses, %d changes, in %v\n", m.Version, m.Statuses, max(changes, 0), time.Since(start).Round(time.Millisecond))
	switch {
	case fw != nil && fw.Package != nil:
		f, _ := publish.ReadPackage(fw.Package)
		fmt.Fprintf(e.stdout, "firmware %s (%s) for %g%% of the gates%s\n", f.Version, f.Architecture, cmp.Or(fw.Rollout, 100), map[bool]string{true: ", a deliberate rollback"}[fw.Rollback])
	case fw != nil:
		fmt.Fprintf(e.stdout, "firmware rollout now %g%% of the gates\n", fw.Rollout)
	}
	return nil
}

// firmwareFlags reads --firmware, --rollout and --rollback (nil: none given).
func firmwareFlags(file, rollout string, rollback bool) (*publish.Firmware, error) {
	if file == "" && rollout == "" {
		if rollback {
			return nil, usageErrorf("--rollback needs --firmware FILE")
		}
		return nil, nil
	}
	fw := &publish.Firmware{Rollback: rollback}
	if rollout != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rollout), "%"), 64)
		if err != nil || !(v > 0 && v <= 100) {
			return nil, usageErrorf("--rollout %q: want a share of the gates above 0%% and at most 100%%, such as 10%%", rollout)
		}
		fw.Rollout = v
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--firmware: %w", err)
		}
		if len(b) > format.MaxFirmware {
			return nil, fmt.Errorf("--firmware %s: %d bytes, at most %d allowed", file, len(b), format.MaxFirmware)
		}
		fw.Package = b
	} else if rollback {
		return nil, usageErrorf("--rollback needs --firmware FILE")
	}
	return fw, nil
}

func feedRefresh(e *env, args []string) error {
	fs := newFlags(e, "feed refresh", feedUsage("refresh"))
	expires := fs.Duration("expires", publish.DefaultTimestampExpiry, "timestamp lifetime")
	dir, err := parseDir(e, fs, args)
	if err != nil {
		return err
	}
	if err := publish.Refresh(dir, publish.Options{TimestampExpiry: *expires, Warn: warner(e)}); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "timestamp renewed")
	return nil
}

// feedServe serves DIR/repo over HTTP: for tests and demos (any static
// server or CDN does in production).
func feedServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feed serve", feedUsage("serve"))
	listen := fs.String("listen", "127.0.0.1:8000", "address to listen on")
	dir, err := parseDir(e, fs, args)
	if err != nil {
		return err
	}
	repo := filepath.Join(dir, "repo")
	if _, err := os.Stat(filepath.Join(repo, "root.json")); err != nil {
		return fmt.Errorf("%s holds no feed: %w", dir, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %s", listenProblem(*listen, err))
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(repo)), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Fprintf(e.stdout, "serving %s on http://%s/\n", repo, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
