package main

import (
	"context"
	"errors"
	"log/slog"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"checkpoint"
	"checkpoint/config"
	"checkpoint/internal/backoff"
	"checkpoint/provision"
)

// cmdFirstboot imports the gate config from the boot partition (run by
// checkpoint-firstboot.service), or with --fault holds the fault pattern
// while the gate cannot run (checkpoint-fault.service).
func cmdFirstboot(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "firstboot", "firstboot [--boot DIR] [--etc DIR] [--group NAME] [--fault]")
	boot := fs.String("boot", "/boot/firmware", "where the boot partition is mounted")
	etc := fs.String("etc", "/etc/checkpoint", "the config directory")
	group := fs.String("group", "checkpoint", "group given read access to the imported config; empty: leave as created")
	fault := fs.Bool("fault", false, "log why the gate cannot run and show the fault pattern until stopped")
	retry := fs.Duration("retry", 0, "with --fault, after checkpoint.service could not start (exit 75): hold the pattern this long, then exit 75 for the unit to start the daemon again (0: hold until stopped)")
	if err := noArgs(e, fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	if *fault {
		return holdFault(ctx, e, log, faultOptions{boot: *boot, etc: *etc, retry: *retry})
	}
	gid := -1
	if *group != "" {
		g, err := user.LookupGroup(*group)
		if err != nil {
			log.Error("config not imported: group missing (did systemd-sysusers run?)", "group", *group, "err", err)
			return exitStatus(exitFail)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			log.Error("config not imported: group has no numeric id", "group", *group, "gid", g.Gid)
			return exitStatus(exitFail)
		}
	}
	res, err := provision.Importer{Boot: *boot, Etc: *etc, GID: gid, Logger: log}.Import()
	var refused *provision.RefusedError
	switch {
	case errors.As(err, &refused):
		log.Error("config on the boot partition refused; the gate shows the fault pattern", "file", refused.File, "reason", err.Error())
		return exitStatus(exitConfig)
	case err != nil:
		log.Error("config import failed", "err", err)
		return exitStatus(exitFail)
	case !res.Imported:
		log.Info("no config on the boot partition to import", "dir", *boot)
	case res.Stub:
		log.Warn("secrets could not be cut out of the boot partition's copy line by line; the copy was replaced by a note", "keys", res.Redacted)
	case len(res.Redacted) > 0:
		log.Info("secrets removed from the boot partition's copy", "keys", res.Redacted)
	}
	return nil
}

// faultOptions are what holdFault needs beyond the process environment.
type faultOptions struct {
	boot, etc string
	// retry: how long to hold after the daemon could not start before asking
	// for it to be started again; 0: hold until stopped.
	retry time.Duration
}

// holdFault logs why the gate cannot run and shows the fault pattern until
// ctx is done. Started by OnFailure= after checkpoint.service exited
// exitStartup (systemd sets MONITOR_UNIT and MONITOR_EXIT_STATUS), it holds
// for o.retry only, then returns exitStartup: the unit's ExecStopPost= starts
// the daemon again. A config fault is held until stopped: it needs a
// technician.
func holdFault(ctx context.Context, e *env, log *slog.Logger, o faultOptions) error {
	reason := provision.FaultReason(o.boot, o.etc)
	failed := e.getenv("MONITOR_UNIT")
	retry := reason == "" && o.retry > 0 && failed == "checkpoint.service" &&
		e.getenv("MONITOR_EXIT_STATUS") == strconv.Itoa(exitStartup)
	switch {
	case reason != "":
	case retry:
		reason = "the scanner daemon could not start; see journalctl -u checkpoint"
	default:
		reason = "the scanner daemon stopped; see journalctl -u checkpoint"
	}
	if retry {
		log.Error("gate fault", "reason", reason, "retry_in", o.retry.String())
	} else {
		log.Error("gate fault", "reason", reason)
	}
	// The pins come from the installed config when it loads, else the defaults.
	cfg, err := config.Load(filepath.Join(o.etc, provision.EtcConfigName))
	if err != nil {
		cfg = config.Default()
	}
	ind, closeInd, err := openIndicator(cfg, e, log)
	if err != nil {
		log.Error("fault pattern cannot be shown", "err", err)
		return exitStatus(exitFail)
	}
	defer closeInd()
	ind.Idle(checkpoint.IdleFault)
	if !retry {
		<-ctx.Done()
		return nil
	}
	if !backoff.Wait(ctx, o.retry) {
		return nil
	}
	log.Info("starting the scanner daemon again")
	return exitStatus(exitStartup)
}

// openIndicator opens the gate's outputs as the config describes; the
// returned function returns every output to its safe state.
func openIndicator(cfg config.Config, e *env, log *slog.Logger) (checkpoint.Indicator, func(), error) {
	sig, err := openGPIO(cfg.GPIO, e.stdout, log)
	if err != nil {
		return nil, nil, err
	}
	// Let the signal's goroutine take up its start state first: an idle mode
	// set before it runs is played but not announced on the terminal.
	sig.Sync()
	return sig, func() {
		if err := sig.Close(); err != nil {
			log.Error("outputs not returned to their safe state", "err", err)
		}
	}, nil
}
