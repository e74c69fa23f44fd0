package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"checkpoint"
	"checkpoint/feed/format"
	"checkpoint/internal/atomicfile"
)

// Packager installs packages: dpkg on a gate (Dpkg).
type Packager interface {
	// Installed returns the installed version of the package, "" when it
	// is not installed, an error when dpkg left it half installed.
	Installed(ctx context.Context) (string, error)
	// Install installs a package file, keeping conffiles the gate changed.
	Install(ctx context.Context, file string) error
	// Save writes the installed package as a package file (a rollback's).
	Save(ctx context.Context, dst string) error
	// Inspect returns a package file's name, version and architecture.
	Inspect(ctx context.Context, file string) (name, version, arch string, err error)
}

// Service is the daemon's unit: systemd's checkpoint.service on a gate
// (Systemd).
type Service interface {
	Restart(ctx context.Context) error
	Status(ctx context.Context) (ServiceStatus, error)
}

// ServiceStatus is what the probation watches.
type ServiceStatus struct {
	Active   bool   // running and ready (READY=1)
	State    string // in words, for the reasons: "activating/auto-restart (exit-code 1)"
	PID      int    // main process, 0 when none
	Restarts int    // automatic restarts so far
}

// Defaults of an Installer.
const (
	DefaultProbation    = 10 * time.Minute
	DefaultStartTimeout = 3 * time.Minute
)

// Installer installs firmware packages with a probation and a rollback.
type Installer struct {
	Dir      string   // state directory (DefaultDir), root's
	Packages Packager // dpkg
	// Service is the daemon's unit; nil where no service manager runs (a
	// chroot): the package is installed without restart or probation.
	Service Service
	// Probation is how long the new daemon must stay up (DefaultProbation
	// when zero); StartTimeout how long it may take to be ready after the
	// install (DefaultStartTimeout when zero); Poll how often it is looked
	// at (1 s when zero).
	Probation, StartTimeout, Poll time.Duration
	Clock                         checkpoint.Clock // for the record; system clock when nil
	Logger                        *slog.Logger     // slog.Default when nil
	// Self is the running binary, kept as InstallerCopy while an install
	// is pending; empty: none.
	Self string
}

func (in *Installer) defaults() {
	if in.Probation <= 0 {
		in.Probation = DefaultProbation
	}
	if in.StartTimeout <= 0 {
		in.StartTimeout = DefaultStartTimeout
	}
	if in.Poll <= 0 {
		in.Poll = time.Second
	}
	if in.Clock == nil {
		in.Clock = checkpoint.SystemClock{}
	}
	if in.Logger == nil {
		in.Logger = slog.Default()
	}
}

// Install installs the verified package file of fw, offered to the gate
// named gate, when Decide allows it; otherwise it records why not. It
// returns what was done. Resume must have run first.
func (in *Installer) Install(ctx context.Context, fw format.Firmware, gate, file string) (Result, error) {
	in.defaults()
	res := Result{Version: fw.Version, Outcome: Refused, At: in.Clock.Now().UTC()}
	installed, err := in.Packages.Installed(ctx)
	if err != nil {
		return res, err
	}
	res.From = installed
	st, err := ReadState(in.Dir)
	if err != nil {
		return res, err
	}
	if err := Decide(fw, gate, installed, st, res.At); err != nil {
		if errors.Is(err, ErrSame) {
			return res, nil // nothing to record
		}
		return in.refuse(st, res, err)
	}
	name, version, arch, err := in.Packages.Inspect(ctx, file)
	if err != nil || name != fw.Package || version != fw.Version || arch != fw.Architecture {
		return in.refuse(st, res, fmt.Errorf("the package is %s %s %s, the feed says %s %s %s (%v)", name, version, arch, fw.Package, fw.Version, fw.Architecture, err))
	}
	p, err := in.prepare(ctx, fw, installed, file)
	if err != nil {
		return res, err
	}
	return in.run(ctx, p)
}

// Refuse records an offer refused before it reached Install (it did not
// verify): the daemon then does not offer the version again for an hour.
// version is what the offer claims (unverified: only for the record).
func (in *Installer) Refuse(version string, why error) error {
	in.defaults()
	st, err := ReadState(in.Dir)
	if err != nil {
		return err
	}
	from, _ := in.Packages.Installed(context.Background())
	_, err = in.refuse(st, Result{Version: version, From: from, Outcome: Refused, At: in.Clock.Now().UTC()}, why)
	return err
}

// refuse records a refused offer.
func (in *Installer) refuse(st State, res Result, why error) (Result, error) {
	res.Reason = why.Error()
	in.Logger.Warn("firmware refused", "version", res.Version, "installed", res.From, "reason", res.Reason)
	st.Last = &res
	return res, writeJSON(filepath.Join(in.Dir, stateFile), st)
}

// prepare keeps the installed package (for the rollback), the new one and
// the running installer, and writes the journal.
func (in *Installer) prepare(ctx context.Context, fw format.Firmware, installed, file string) (*Pending, error) {
	pdir := filepath.Join(in.Dir, packagesDir)
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return nil, err
	}
	p := &Pending{Version: fw.Version, From: installed, Phase: phaseInstall, Started: in.Clock.Now().UTC(),
		Package: filepath.Join(pdir, packageName(fw.Version))}
	if installed != "" {
		p.Previous = filepath.Join(pdir, packageName(installed))
		if _, err := os.Stat(p.Previous); err != nil {
			if err := in.Packages.Save(ctx, p.Previous); err != nil {
				return nil, fmt.Errorf("keep the installed package %s for a rollback: %w", installed, err)
			}
		}
	}
	if err := copyFile(file, p.Package, 0o600); err != nil {
		return nil, err
	}
	if in.Self != "" {
		if err := copyFile(in.Self, filepath.Join(in.Dir, InstallerCopy), 0o755); err != nil {
			return nil, fmt.Errorf("keep the installer: %w", err)
		}
	}
	return p, writeJSON(filepath.Join(in.Dir, pendingFile), p)
}

func packageName(version string) string { return "checkpoint_" + version + ".deb" }

// run installs p's package and holds its probation; on failure, rolls back.
func (in *Installer) run(ctx context.Context, p *Pending) (Result, error) {
	before := in.status(ctx)
	in.Logger.Info("firmware: installing", "version", p.Version, "from", p.From)
	if err := in.Packages.Install(ctx, p.Package); err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return in.rollback(ctx, p, fmt.Sprintf("dpkg failed: %v", err), true)
	}
	p.Phase = phaseProbation
	if err := writeJSON(filepath.Join(in.Dir, pendingFile), p); err != nil {
		return Result{}, err
	}
	return in.probate(ctx, p, before)
}

// probate restarts the daemon unless dpkg's postinst did, and keeps the
// package only if the daemon is ready and stays up for the probation.
func (in *Installer) probate(ctx context.Context, p *Pending, before ServiceStatus) (Result, error) {
	if in.Service != nil {
		if err := in.watch(ctx, before); err != nil {
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			return in.rollback(ctx, p, err.Error(), true)
		}
	}
	return in.finish(p, Result{Version: p.Version, From: p.From, Outcome: Installed, At: in.Clock.Now().UTC()}, false)
}

// status is the service's status, zero without a service.
func (in *Installer) status(ctx context.Context) ServiceStatus {
	if in.Service == nil {
		return ServiceStatus{}
	}
	st, _ := in.Service.Status(ctx)
	return st
}

// watch waits for the daemon started after the install to be ready, then
// for it to stay up for the probation. before is its status before.
func (in *Installer) watch(ctx context.Context, before ServiceStatus) error {
	st, err := in.Service.Status(ctx)
	if err != nil {
		return err
	}
	if st.PID == 0 || st.PID == before.PID {
		// dpkg's postinst did not restart it (a policy-rc.d, say).
		if err := in.Service.Restart(ctx); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	start := time.Now()
	for !st.Active {
		if st.Restarts > before.Restarts || strings.HasPrefix(st.State, "failed") {
			return fmt.Errorf("the new daemon exited at start-up (%s)", st.State)
		}
		if time.Since(start) > in.StartTimeout {
			return fmt.Errorf("the new daemon was not ready within %v (%s)", in.StartTimeout, st.State)
		}
		if err := sleep(ctx, in.Poll); err != nil {
			return err
		}
		if st, err = in.Service.Status(ctx); err != nil {
			return err
		}
	}
	ready := time.Now()
	in.Logger.Info("firmware: the new daemon is ready; probation", "after_s", int(ready.Sub(start).Seconds()), "probation", in.Probation.String())
	pid, restarts := st.PID, st.Restarts
	for time.Since(ready) < in.Probation {
		if err := sleep(ctx, min(in.Poll, in.Probation-time.Since(ready))); err != nil {
			return err
		}
		if st, err = in.Service.Status(ctx); err != nil {
			return err
		}
		if !st.Active || st.PID != pid || st.Restarts != restarts {
			return fmt.Errorf("the new daemon stopped %v into its probation of %v (%s)", time.Since(ready).Round(time.Second), in.Probation, st.State)
		}
	}
	return nil
}

// rollback reinstalls p's previous package. fail records p's version as
// failed (never taken again); an interrupted install is not its fault.
func (in *Installer) rollback(ctx context.Context, p *Pending, reason string, fail bool) (Result, error) {
	in.Logger.Error("firmware: rolling back", "version", p.Version, "to", p.From, "reason", reason)
	p.Phase, p.Reason = phaseRollback, reason
	if err := writeJSON(filepath.Join(in.Dir, pendingFile), p); err != nil {
		return Result{}, err
	}
	res := Result{Version: p.Version, From: p.From, Outcome: RolledBack, Reason: reason, At: in.Clock.Now().UTC()}
	if p.Previous == "" {
		res.Reason += "; nothing was installed before, nothing to go back to"
		return in.finish(p, res, fail)
	}
	before := in.status(ctx)
	if err := in.Packages.Install(ctx, p.Previous); err != nil {
		return res, fmt.Errorf("rollback to %s: %w", p.From, err)
	}
	if in.Service != nil {
		if st, _ := in.Service.Status(ctx); st.PID == 0 || st.PID == before.PID {
			if err := in.Service.Restart(ctx); err != nil {
				in.Logger.Error("firmware: restart after the rollback failed", "err", err)
			}
		}
	}
	return in.finish(p, res, fail)
}

// finish records res, removes the journal and the packages no longer
// needed: the new one after a rollback, the old one after a success.
func (in *Installer) finish(p *Pending, res Result, fail bool) (Result, error) {
	st, err := ReadState(in.Dir)
	if err != nil {
		return res, err
	}
	if fail && !st.HasFailed(p.Version) {
		st.Failed = append(st.Failed, Failure{Version: p.Version, At: res.At, Reason: res.Reason})
	}
	if res.Outcome == Installed {
		delete(st.Interrupted, p.Version)
	}
	st.Last = &res
	if err := writeJSON(filepath.Join(in.Dir, stateFile), st); err != nil {
		return res, err
	}
	drop := p.Package
	if res.Outcome == Installed {
		drop = p.Previous
	}
	if drop != "" {
		os.Remove(drop)
	}
	if err := os.Remove(filepath.Join(in.Dir, pendingFile)); err != nil {
		return res, err
	}
	os.Remove(filepath.Join(in.Dir, InstallerCopy))
	if res.Outcome == Installed {
		in.Logger.Info("firmware installed", "version", res.Version, "from", res.From)
	}
	return res, atomicfile.SyncDir(in.Dir)
}

// Resume finishes an install cut short (a power cut, a SIGKILL), as its
// journal says: an install that was under way is rolled back (and, the
// MaxInterrupted-th time, the version counts as failed); a probation is
// held again from its start; a rollback is done again. It returns nil
// when no install was pending.
func (in *Installer) Resume(ctx context.Context) (*Result, error) {
	in.defaults()
	p, err := ReadPending(in.Dir)
	if err != nil || p == nil {
		return nil, err
	}
	in.Logger.Warn("firmware: resuming an install cut short", "version", p.Version, "phase", p.Phase)
	var res Result
	switch p.Phase {
	case phaseProbation:
		res, err = in.probate(ctx, p, ServiceStatus{PID: -1, Restarts: in.status(ctx).Restarts})
	case phaseRollback:
		res, err = in.rollback(ctx, p, p.Reason, !strings.HasPrefix(p.Reason, reasonInterrupted))
	default:
		st, serr := ReadState(in.Dir)
		if serr != nil {
			return nil, serr
		}
		if st.Interrupted == nil {
			st.Interrupted = map[string]int{}
		}
		st.Interrupted[p.Version]++
		n := st.Interrupted[p.Version]
		if err := writeJSON(filepath.Join(in.Dir, stateFile), st); err != nil {
			return nil, err
		}
		if n >= MaxInterrupted {
			res, err = in.rollback(ctx, p, fmt.Sprintf("the install was cut short %d times", n), true)
		} else {
			res, err = in.rollback(ctx, p, fmt.Sprintf("%s (%d of %d); it will be tried again", reasonInterrupted, n, MaxInterrupted), false)
		}
	}
	return &res, err
}

const reasonInterrupted = "the install was cut short"

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// copyFile copies src to dst durably, replacing it.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
