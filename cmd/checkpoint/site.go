package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"checkpoint/feed/publish"
)

// warner prints what a publish wants the operator to know.
func warner(e *env) func(string) {
	return func(msg string) { fmt.Fprintf(e.stderr, "warning: %s\n", msg) }
}

// feedSite runs `feed site VERB`: a site's key and signed list.
func feedSite(ctx context.Context, e *env, args []string) error {
	var verbs []string
	for _, v := range feedVerbs {
		if strings.HasPrefix(v, "feed site ") {
			verbs = append(verbs, v)
		}
	}
	if done, err := noVerb(e, "feed site", verbs, args); done {
		return err
	}
	switch args[0] {
	case "init":
		return siteInit(e, args[1:])
	case "publish":
		return sitePublish(ctx, e, args[1:])
	case "import":
		return siteImport(e, args[1:])
	}
	return unknownVerb(e, "feed site", verbs, args[0])
}

func siteInit(e *env, args []string) error {
	fs := newFlags(e, "feed site init", feedUsage("site init"))
	expires := fs.Duration("expires", publish.DefaultSiteExpiry, "lifetime of the site's first, empty, list")
	rekey := fs.Bool("rekey", false, "replace the key of a delegated site (lost or stolen): its list is empty until it publishes with the new key")
	pos, err := parsePositional(e, fs, args, 2, 2, "DIR and SITE are required")
	if err != nil {
		return err
	}
	dir, site := pos[0], pos[1]
	if err := publish.SiteInit(dir, site, publish.SiteOptions{Expiry: *expires, Rekey: *rekey}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "site %s delegated sites/%s/* (in the feed from the next feed publish or feed refresh)\n"+
		"  the site's kit: %s\n  the site's key: %s (give it to the site, then delete it here)\n",
		site, site, filepath.Join(dir, "sites", site), publish.SiteKeyPath(dir, site))
	return nil
}

func sitePublish(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feed site publish", feedUsage("site publish"))
	people := fs.String("people", "", "CSV of qid (or cccd) rows, optional until column (required)")
	keyPath := fs.String("key", "", "the site's key (default DIR/sites/SITE/site.pem)")
	expires := fs.Duration("expires", publish.DefaultSiteExpiry, "lifetime of the signed list: gates requiring it treat it as stale after that")
	pos, err := parsePositional(e, fs, args, 2, 2, "DIR and SITE are required")
	if err != nil {
		return err
	}
	dir, site := pos[0], pos[1]
	if *people == "" {
		fs.Usage()
		return usageErrorf("--people FILE is required")
	}
	if *keyPath == "" {
		*keyPath = publish.SiteKeyPath(dir, site)
	}
	key, err := publish.ReadKey(*keyPath)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	f, err := os.Open(*people)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := publish.SitePublish(ctx, dir, site, f, key, publish.SiteOptions{Expiry: *expires})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "site %s: signed list version %d, %d people, valid until %s\n", site, res.Version, res.Entries, res.Expires.Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "on the authority's machine it goes out with the next feed publish or feed refresh; from another machine, send:\n")
	for _, f := range res.Files {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}
	return nil
}

func siteImport(e *env, args []string) error {
	fs := newFlags(e, "feed site import", feedUsage("site import"))
	pos, err := parsePositional(e, fs, args, 2, -1, "DIR and the files the site sent are required")
	if err != nil {
		return err
	}
	res, err := publish.SiteImport(pos[0], pos[1:], publish.SiteOptions{})
	if err != nil {
		return err
	}
	for _, r := range res {
		fmt.Fprintf(e.stdout, "site %s: list version %d (%d people, valid until %s) imported; it goes out with the next feed publish or feed refresh\n",
			r.Site, r.Version, r.Entries, r.Expires.Format(time.RFC3339))
	}
	return nil
}

func feedExport(e *env, args []string) error {
	fs := newFlags(e, "feed export", feedUsage("export"))
	pos, err := parsePositional(e, fs, args, 2, 2, "DIR and DEST are required")
	if err != nil {
		return err
	}
	res, err := publish.Export(pos[0], pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exported feed version %d to %s: %d files, %d bytes\n"+
		"  on a stick labelled CHECKPOINT this folder must be feed/ at its top\n", res.Version, pos[1], res.Files, res.Bytes)
	return nil
}
