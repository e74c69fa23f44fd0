package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"checkpoint/feed/publish"
)

const feedUsage = `usage:
  checkpoint feed init DIR
  checkpoint feed publish DIR --statuses FILE.csv [--revocations FILE] [--trust-list FILE] [--rules FILE] [--expires 24h]
  checkpoint feed refresh DIR [--expires 24h]
  checkpoint feed serve DIR [--listen 127.0.0.1:8000]`

// cmdFeed builds the signed status feed (authority side).
func cmdFeed(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, feedUsage)
		return exitUsage
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
	}
	fmt.Fprintf(e.stderr, "checkpoint feed: unknown verb %q\n%s\n", args[0], feedUsage)
	return exitUsage
}

// parseDir parses flags and the one DIR argument, which may come before or
// after the flags.
func parseDir(e *env, fs *flag.FlagSet, args []string) (string, int, bool) {
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if code, ok := parseFlags(fs, args); !ok {
		return "", code, false
	}
	if dir == "" && fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() != 0 || dir == "" {
		fmt.Fprintf(e.stderr, "%s: one DIR argument is required\n%s\n", fs.Name(), feedUsage)
		return "", exitUsage, false
	}
	return dir, 0, true
}

func feedInit(e *env, args []string) int {
	fs := newFlags(e, "feed init")
	rootExp := fs.Duration("root-expires", publish.DefaultRootExpiry, "lifetime of the root metadata")
	dir, code, ok := parseDir(e, fs, args)
	if !ok {
		return code
	}
	if err := publish.Init(dir, publish.InitOptions{RootExpiry: *rootExp}); err != nil {
		fmt.Fprintf(e.stderr, "checkpoint feed init: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(e.stdout, "feed created in %s\n  serve:     %s\n  provision: %s (as feed.root on every gate)\n  keep safe: %s\n",
		dir, filepath.Join(dir, "repo"), filepath.Join(dir, "repo", "root.json"), filepath.Join(dir, "keys"))
	return exitOK
}

func feedPublish(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "feed publish")
	statuses := fs.String("statuses", "", "CSV of qid,status,valid_until rows (required)")
	revocations := fs.String("revocations", "", "CSV of hashtype,hash rows (default: keep the previous list)")
	trust := fs.String("trust-list", "", "PEM bundle of DSC certificates (default: keep the previous list)")
	rules := fs.String("rules", "", "JSON rule profile (default: keep the previous one)")
	expires := fs.Duration("expires", publish.DefaultTimestampExpiry, "timestamp lifetime: gates go stale this long after the last publish or refresh")
	keep := fs.Int("keep-deltas", publish.DefaultKeepDeltas, "deltas kept for gates that are behind")
	chunk := fs.Int("chunk", publish.DefaultChunkRecords, "status rows per chunk")
	dir, code, ok := parseDir(e, fs, args)
	if !ok {
		return code
	}
	if *statuses == "" {
		fmt.Fprintf(e.stderr, "checkpoint feed publish: --statuses FILE is required\n%s\n", feedUsage)
		return exitUsage
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
			fmt.Fprintf(e.stderr, "checkpoint feed publish: %v\n", err)
			return exitFail
		}
		defer fh.Close()
		*f.dst = fh
	}
	start := time.Now()
	last := time.Now()
	m, err := publish.Publish(ctx, dir, in, publish.Options{
		TimestampExpiry: *expires,
		KeepDeltas:      *keep,
		ChunkRecords:    *chunk,
		Progress: func(stage string, n int64) {
			if time.Since(last) > time.Second {
				fmt.Fprintf(e.stderr, "%s: %d rows\n", stage, n)
				last = time.Now()
			}
		},
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint feed publish: %v\n", err)
		return exitFail
	}
	changes := int64(-1)
	if len(m.Deltas) > 0 {
		changes = m.Deltas[len(m.Deltas)-1].Changes
	}
	fmt.Fprintf(e.stdout, "published version %d: %d statuses, %d changes, in %v\n", m.Version, m.Statuses, max(changes, 0), time.Since(start).Round(time.Millisecond))
	return exitOK
}

func feedRefresh(e *env, args []string) int {
	fs := newFlags(e, "feed refresh")
	expires := fs.Duration("expires", publish.DefaultTimestampExpiry, "timestamp lifetime")
	dir, code, ok := parseDir(e, fs, args)
	if !ok {
		return code
	}
	if err := publish.Refresh(dir, publish.Options{TimestampExpiry: *expires}); err != nil {
		fmt.Fprintf(e.stderr, "checkpoint feed refresh: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(e.stdout, "timestamp renewed")
	return exitOK
}

// feedServe serves DIR/repo over HTTP: for tests and demos (any static
// server or CDN does in production).
func feedServe(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "feed serve")
	listen := fs.String("listen", "127.0.0.1:8000", "address to listen on")
	dir, code, ok := parseDir(e, fs, args)
	if !ok {
		return code
	}
	repo := filepath.Join(dir, "repo")
	if _, err := os.Stat(filepath.Join(repo, "root.json")); err != nil {
		fmt.Fprintf(e.stderr, "checkpoint feed serve: %s holds no feed: %v\n", dir, err)
		return exitFail
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint feed serve: %v\n", err)
		return exitFail
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(repo)), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Fprintf(e.stdout, "serving %s on http://%s/\n", repo, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(e.stderr, "checkpoint feed serve: %v\n", err)
		return exitFail
	}
	return exitOK
}
