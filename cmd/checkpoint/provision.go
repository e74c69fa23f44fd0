package main

import (
	"context"
	"flag"
	"fmt"

	"checkpoint/provision"
)

// cmdProvision writes a gate's config (and optionally the feed root) onto the
// boot partition of an image file or card.
func cmdProvision(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "provision")
	cfgPath := fs.String("config", "", "the gate's `checkpoint.toml` (required)")
	root := fs.String("root", "", "the feed's TUF `root.json` to install with it (optional)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: checkpoint provision IMAGE --config site.toml [--root root.json]\n\n"+
			"Validates the config and writes it onto the FAT boot partition of IMAGE (an image\n"+
			"file or a card device); the gate imports it on its first boot.")
		fs.PrintDefaults()
	}
	pos, code, ok := parseInterleaved(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 || *cfgPath == "" {
		fs.Usage()
		return exitUsage
	}
	err := provision.Provision(ctx, provision.Request{Image: pos[0], ConfigPath: *cfgPath, RootPath: *root})
	if err != nil {
		fmt.Fprintf(e.stderr, "checkpoint provision: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(e.stdout, "%s: %s written to the boot partition\n", pos[0], provision.ConfigName)
	if *root != "" {
		fmt.Fprintf(e.stdout, "%s: %s written to the boot partition\n", pos[0], provision.RootName)
	}
	return exitOK
}

// parseInterleaved parses flags that may come before or after the positional
// arguments (`provision IMAGE --config FILE`), returning the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if code, ok := parseFlags(fs, args); !ok {
			return nil, code, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
