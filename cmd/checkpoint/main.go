// Command checkpoint is the QR checkpoint scanner: the daemon and its tools.
//
// This package only parses flags and wires the other packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"checkpoint/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // an input could not be read, a check failed
	exitUsage = 2 // bad command line
	// exitStartup: the daemon could not start (outputs, cache, camera before
	// the first frame). checkpoint.service does not restart on it: the unit
	// fails, checkpoint-fault.service shows the fault pattern and starts the
	// daemon again after a while (firstboot --fault --retry).
	exitStartup = 75 // EX_TEMPFAIL
)

// command is one subcommand.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, env *env, args []string) int
}

// env is what a subcommand may touch of the process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func commands() []command {
	return []command{
		{"run", "run [--config FILE]: the scanner daemon", cmdRun},
		{"demo", "demo [--loop] [--listen ADDR]: the daemon on the embedded demo set", cmdDemo},
		{"scan", "scan [--json] [--text] [--at RFC3339] [--config FILE] PATH...: decode and judge image or payload files", cmdScan},
		{"cache", "cache import --csv FILE [--config FILE]: load statuses into the cache", cmdCache},
		{"sync", "sync [--once] [--config FILE]: fetch signed updates into the cache", cmdSync},
		{"feed", "feed init|publish DIR ...: build the signed status feed (authority side)", cmdFeed},
		{"events", "events export --since TIME [--config FILE]: export the event log", cmdEvents},
		{"selftest", "selftest [--config FILE]: check outputs, camera and cache", cmdSelftest},
		{"provision", "provision IMAGE --config site.toml: write a gate's config into an SD image", cmdProvision},
		{"firstboot", "firstboot [--boot DIR] [--etc DIR] [--fault]: import the gate config from the boot partition", cmdFirstboot},
		{"version", "version: print the version", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, e *env, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(e.stderr, "usage: checkpoint COMMAND [FLAGS]\n\ncommands:")
		for _, c := range cmds {
			fmt.Fprintf(e.stderr, "  %s\n", c.usage)
		}
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "checkpoint: unknown command %q (see checkpoint help)\n", args[0])
	return exitUsage
}

// newFlags returns a flag set that reports errors to e.stderr.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("checkpoint "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses args, returning an exit status when the command should stop.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// loadConfig loads the config file, or the defaults when path is empty.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

func cmdVersion(ctx context.Context, e *env, args []string) int {
	fmt.Fprintf(e.stdout, "checkpoint %s\n", version)
	return exitOK
}

// notYet is the placeholder of a subcommand still being built.
func notYet(name string) func(context.Context, *env, []string) int {
	return func(_ context.Context, e *env, _ []string) int {
		fmt.Fprintf(e.stderr, "checkpoint %s: not implemented yet\n", name)
		return exitFail
	}
}
