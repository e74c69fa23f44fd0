// Command checkpoint is the QR checkpoint scanner: the daemon and its tools.
//
// This package only parses flags, converts the config file into each
// package's own options, and wires the packages together. Commands return
// errors; report is the one place that turns an error into a message and
// an exit status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"checkpoint/config"
	"checkpoint/internal/memlimit"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1                 // an input could not be read, a check failed
	exitUsage  = 2                 // bad command line
	exitConfig = config.ExitConfig // a configuration error: systemd does not restart on it
	// exitStartup: the daemon could not start (outputs, cache, camera before
	// the first frame). checkpoint.service does not restart on it: the unit
	// fails, checkpoint-fault.service shows the fault pattern and starts the
	// daemon again after a while (firstboot --fault --retry).
	exitStartup = 75 // EX_TEMPFAIL
)

// command is one subcommand.
type command struct {
	name  string
	usage []string // synopsis lines, without "checkpoint "
	run   func(ctx context.Context, env *env, args []string) error
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
		{"run", []string{"run [--config FILE]: the scanner daemon"}, cmdRun},
		{"demo", []string{"demo [--loop] [--listen ADDR] [--fps N]: the daemon on the embedded demo set"}, cmdDemo},
		{"scan", []string{scanUsage + ": decode and judge image or payload files"}, cmdScan},
		{"cache", cacheVerbs, cmdCache},
		{"sync", []string{syncUsage + ": fetch signed updates into the cache"}, cmdSync},
		{"feed", feedVerbs, cmdFeed},
		{"events", []string{eventsUsage + ": export the event log"}, cmdEvents},
		{"update", updateVerbs, cmdUpdate},
		{"selftest", []string{"selftest [--config FILE]: check outputs, camera and cache"}, cmdSelftest},
		{"provision", []string{"provision IMAGE --config site.toml [--root root.json]: write a gate's config into an SD image"}, cmdProvision},
		{"firstboot", []string{"firstboot [--boot DIR] [--etc DIR] [--fault]: import the gate config from the boot partition"}, cmdFirstboot},
		{"version", []string{"version: print the version"}, cmdVersion},
	}
}

func main() {
	memlimit.Set()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal asks the command to stop; from then on the
		// default action applies, so a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	code := dispatch(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// dispatch runs the command args name and returns the exit status.
func dispatch(ctx context.Context, e *env, args []string) int {
	cmds := commands()
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		w := e.stdout
		if len(args) == 0 {
			w = e.stderr
		}
		fmt.Fprintln(w, "usage: checkpoint COMMAND [FLAGS]\n\ncommands:")
		for _, c := range cmds {
			for _, u := range c.usage {
				fmt.Fprintf(w, "  %s\n", u)
			}
		}
		fmt.Fprintln(w, "\nevery command and verb takes --help")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return report(e, c.name, c.run(ctx, e, args[1:]))
		}
	}
	return report(e, "", usageErrorf("unknown command %q (see checkpoint help)", args[0]))
}

// usageError is a bad command line: exit status 2.
type usageError struct{ error }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// configError is a configuration the command cannot run with: exit status
// 78, which systemd does not restart on.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// startupError is a daemon that could not start (outputs, cache, camera
// before the first frame): exit status exitStartup.
type startupError struct{ error }

func (e startupError) Unwrap() error { return e.error }

// exitStatus ends a command with a status whose reason the command has
// already printed (a scan with unreadable inputs, a failed selftest).
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// errHelp ends a command whose usage was printed on request: exit 0.
var errHelp = flag.ErrHelp

// report prints err once, prefixed by the command's name, and returns the
// exit status it stands for.
func report(e *env, name string, err error) int {
	code := exitCode(err)
	var st exitStatus
	if err != nil && !errors.Is(err, errHelp) && !errors.As(err, &st) {
		prefix := "checkpoint"
		if name != "" {
			prefix += " " + name
		}
		fmt.Fprintf(e.stderr, "%s: %v\n", prefix, err)
	}
	return code
}

// exitCode is the exit status err stands for.
func exitCode(err error) int {
	var (
		st exitStatus
		ue usageError
		ce configError
		fe *config.Error
		se startupError
	)
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce), errors.As(err, &fe):
		return exitConfig
	case errors.As(err, &se):
		return exitStartup
	}
	return exitFail
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// newFlags returns a flag set for "checkpoint name" whose usage prints the
// synopsis lines and the flags. Errors go to e.stderr; --help prints on
// e.stdout.
func newFlags(e *env, name string, synopsis ...string) *flag.FlagSet {
	fs := flag.NewFlagSet("checkpoint "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		for i, s := range synopsis {
			lead := "   or: "
			if i == 0 {
				lead = "usage: "
			}
			fmt.Fprintf(fs.Output(), "%scheckpoint %s\n", lead, s)
		}
		if len(synopsis) == 0 {
			fmt.Fprintf(fs.Output(), "usage: checkpoint %s [FLAGS]\n", name)
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(fs.Output(), "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; --help prints the usage on standard output and
// returns errHelp, a bad flag returns a usageError (the flag package has
// printed it with the usage).
func parseFlags(e *env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return errHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return exitStatus(exitUsage)
	}
	return nil
}

// noArgs parses flags for a command that takes no positional arguments.
func noArgs(e *env, fs *flag.FlagSet, args []string) error {
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf("unexpected argument %q (this command takes only flags; see --help)", fs.Arg(0))
	}
	return nil
}

// loadConfig loads the config file, or the defaults when path is empty,
// and says on w which one the command name runs on.
func loadConfig(w io.Writer, name, path string) (config.Config, error) {
	if path == "" {
		fmt.Fprintf(w, "checkpoint %s: no --config given: built-in defaults\n", name)
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, configError{fmt.Errorf("config error: %w", err)}
	}
	fmt.Fprintf(w, "checkpoint %s: config %s\n", name, path)
	return cfg, nil
}

func cmdVersion(ctx context.Context, e *env, args []string) error {
	if err := noArgs(e, newFlags(e, "version", "version"), args); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checkpoint %s\n", version)
	return nil
}

// oneVerb checks the verb of a command that has one: --help prints the
// usage, anything but verb is a usage error.
func oneVerb(e *env, name, verb, usage string, args []string) error {
	if done, err := noVerb(e, name, []string{usage}, args); done {
		return err
	}
	if args[0] != verb {
		return unknownVerb(e, name, []string{usage}, args[0])
	}
	return nil
}

// noVerb answers a command with verbs called without one (its synopsis on
// stderr, a usage exit) or with --help (on stdout); done is false when
// args name a verb.
func noVerb(e *env, name string, verbs, args []string) (done bool, err error) {
	switch {
	case len(args) == 0:
		verbHelp(e.stderr, name, verbs)
		return true, exitStatus(exitUsage)
	case isHelp(args[0]):
		verbHelp(e.stdout, name, verbs)
		return true, errHelp
	}
	return false, nil
}

// unknownVerb is the usage error of a verb name does not have.
func unknownVerb(e *env, name string, verbs []string, verb string) error {
	verbHelp(e.stderr, name, verbs)
	return usageErrorf("unknown verb %q", verb)
}

// verbHelp prints the synopsis lines of a command with verbs.
func verbHelp(w io.Writer, name string, verbs []string) {
	for i, v := range verbs {
		lead := "   or: "
		if i == 0 {
			lead = "usage: "
		}
		fmt.Fprintf(w, "%scheckpoint %s\n", lead, strings.SplitN(v, ": ", 2)[0])
	}
	fmt.Fprintf(w, "\n'checkpoint %s VERB --help' describes a verb's flags\n", name)
}
