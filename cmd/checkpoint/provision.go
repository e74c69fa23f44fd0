package main

import (
	"context"
	"flag"
	"fmt"

	"checkpoint/provision"
)

const provisionUsage = "provision IMAGE --config site.toml [--root root.json]"

// cmdProvision writes a gate's config (and optionally the feed root) onto the
// boot partition of an image file or card.
func cmdProvision(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "provision", provisionUsage)
	cfgPath := fs.String("config", "", "the gate's `checkpoint.toml` (required)")
	root := fs.String("root", "", "the feed's TUF `root.json` to install with it (optional)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(fs.Output(), "\nValidates the config and writes it onto the FAT boot partition of IMAGE (an image\n"+
			"file or a card device); the gate imports it on its first boot.")
	}
	pos, err := parseInterleaved(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *cfgPath == "" {
		fs.Usage()
		return exitStatus(exitUsage)
	}
	warnings, err := provision.Provision(ctx, provision.Request{Image: pos[0], ConfigPath: *cfgPath, RootPath: *root})
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "checkpoint provision: warning: %s\n", w)
	}
	fmt.Fprintf(e.stdout, "%s: %s written to the boot partition\n", pos[0], provision.ConfigName)
	if *root != "" {
		fmt.Fprintf(e.stdout, "%s: %s written to the boot partition\n", pos[0], provision.RootName)
	}
	return nil
}

// parseInterleaved parses flags that may come before or after the positional
// arguments (`provision IMAGE --config FILE`), returning the positional ones.
func parseInterleaved(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(e, fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
