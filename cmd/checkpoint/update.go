package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"checkpoint"
	"checkpoint/cache"
	"checkpoint/config"
	"checkpoint/feed"
	"checkpoint/feed/format"
	"checkpoint/internal/backoff"
	"checkpoint/update"
)

// updateVerbs are the synopsis lines of `checkpoint update`.
var updateVerbs = []string{
	"update install [--config FILE]: (run by checkpoint-update.service, as root) verify and install the firmware the daemon offered, with probation and rollback",
	"update status [--config FILE]: the firmware installed, the last install and the versions rolled back",
}

func cmdUpdate(ctx context.Context, e *env, args []string) error {
	if done, err := noVerb(e, "update", updateVerbs, args); done {
		return err
	}
	switch args[0] {
	case "install":
		return updateInstall(ctx, e, args[1:])
	case "status":
		return updateStatus(ctx, e, args[1:])
	}
	return unknownVerb(e, "update", updateVerbs, args[0])
}

// dpkgArch is dpkg's name of the architecture this binary runs on.
func dpkgArch() string {
	switch runtime.GOARCH {
	case "arm":
		return "armhf"
	case "386":
		return "i386"
	}
	return runtime.GOARCH
}

func updateFlags(e *env, verb string, args []string) (config.Config, error) {
	fs := newFlags(e, "update "+verb, strings.SplitN(updateVerbs[map[string]int{"install": 0, "status": 1}[verb]], ": ", 2)[0][len("update "):])
	cfgPath := fs.String("config", defaultConfigPath, "config file ([update], [feed] and gate)")
	if err := noArgs(e, fs, args); err != nil {
		return config.Config{}, err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return cfg, configError{fmt.Errorf("config error: %w", err)}
	}
	return cfg, nil
}

// updateInstall finishes an install cut short, then takes the daemon's
// offer, if any: copied, verified again, installed.
func updateInstall(ctx context.Context, e *env, args []string) error {
	cfg, err := updateFlags(e, "install", args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	in := installer(cfg, log)
	if err := os.MkdirAll(cfg.Update.State, 0o755); err != nil {
		return err
	}
	if res, err := in.Resume(ctx); err != nil {
		return fmt.Errorf("resume the install cut short: %w", err)
	} else if res != nil {
		log.Info("firmware: install cut short, resumed", "version", res.Version, "outcome", res.Outcome, "reason", res.Reason)
	}
	offer := filepath.Join(cfg.Update.Spool, feed.OfferDir)
	if _, err := os.Lstat(offer); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	incoming := filepath.Join(cfg.Update.State, "incoming")
	os.RemoveAll(incoming)
	defer os.RemoveAll(incoming)
	cerr := copyOffer(offer, incoming)
	// Taken (or unreadable): the offer goes, so the path unit does not
	// start the installer again for it.
	if err := os.RemoveAll(offer); err != nil {
		return fmt.Errorf("remove the offer: %w", err)
	}
	if !cfg.Update.Enabled {
		log.Warn("firmware offer ignored: update.enabled is false")
		return nil
	}
	if cerr != nil {
		log.Error("firmware offer unreadable", "err", cerr)
		return nil
	}
	root, err := os.ReadFile(cfg.Feed.Root)
	if err != nil {
		return configError{fmt.Errorf("feed.root: %w", err)}
	}
	fw, pkg, err := feed.VerifyOffer(ctx, incoming, feed.VerifyOptions{Root: root, State: filepath.Join(cfg.Update.State, "tuf"), Architecture: dpkgArch()})
	if err != nil {
		log.Error("firmware offer refused: it does not verify", "kind", feed.Kind(err), "err", err)
		var o feed.Offer
		if b, rerr := os.ReadFile(filepath.Join(incoming, "offer.json")); rerr == nil && json.Unmarshal(b, &o) == nil {
			return in.Refuse(o.Firmware.Version, fmt.Errorf("the offer does not verify: %w", err))
		}
		return nil
	}
	defer os.Remove(pkg)
	res, err := in.Install(ctx, *fw, cfg.Gate, pkg)
	if err != nil {
		return fmt.Errorf("install firmware %s: %w", fw.Version, err)
	}
	log.Info("firmware: done", "version", res.Version, "from", res.From, "outcome", res.Outcome, "reason", res.Reason)
	return nil
}

// installer is the Installer the config describes: dpkg, and systemd's
// checkpoint.service where systemd runs (else no probation: a chroot).
func installer(cfg config.Config, log *slog.Logger) *update.Installer {
	in := &update.Installer{Dir: cfg.Update.State, Packages: update.Dpkg{Package: format.FirmwarePackage},
		Probation: cfg.Update.Probation.D(), Logger: log}
	if fileExists("/run/systemd/system") {
		in.Service = update.Systemd{Unit: "checkpoint.service"}
	}
	if self, err := os.Executable(); err == nil {
		in.Self = self
	}
	return in
}

// copyOffer copies the offer the daemon (another user) wrote into dst,
// the installer's own: regular files only, inside the offer (os.Root: no
// link leads out), each capped; nothing is read from the offer again.
func copyOffer(src, dst string) error {
	r, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer r.Close()
	files := 0
	return fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if files++; files > 64 {
			return errors.New("the offer holds too many files")
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, p), 0o700)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		in, err := r.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(filepath.Join(dst, p), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		n, err := io.Copy(out, io.LimitReader(in, format.MaxFirmware+1))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err == nil && n > format.MaxFirmware {
			err = fmt.Errorf("%s is larger than %d bytes", p, format.MaxFirmware)
		}
		return err
	})
}

func updateStatus(ctx context.Context, e *env, args []string) error {
	cfg, err := updateFlags(e, "status", args)
	if err != nil {
		return err
	}
	v, err := update.Dpkg{Package: format.FirmwarePackage}.Installed(ctx)
	if err != nil {
		v = "? (" + err.Error() + ")"
	}
	fmt.Fprintf(e.stdout, "installed: %s\n", orNone(v))
	st, err := update.ReadState(cfg.Update.State)
	if err != nil {
		return err
	}
	if p, err := update.ReadPending(cfg.Update.State); err == nil && p != nil {
		fmt.Fprintf(e.stdout, "under way: %s (from %s), %s since %s\n", p.Version, p.From, p.Phase, p.Started.Local().Format(time.DateTime))
	}
	if l := st.Last; l != nil {
		fmt.Fprintf(e.stdout, "last: %s %s (from %s) at %s %s\n", l.Outcome, l.Version, orNone(l.From), l.At.Local().Format(time.DateTime), l.Reason)
	}
	for _, f := range st.Failed {
		fmt.Fprintf(e.stdout, "failed: %s at %s: %s (never taken again)\n", f.Version, f.At.Local().Format(time.DateTime), f.Reason)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// firmwareOptions make the daemon's syncer offer the feed's firmware to
// the installer, as [update] says (nil when disabled).
func firmwareOptions(ctx context.Context, cfg config.Config, log *slog.Logger) *feed.FirmwareOptions {
	u := cfg.Update
	if !u.Enabled {
		return nil
	}
	if err := os.MkdirAll(u.Spool, 0o755); err != nil {
		log.Warn("firmware updates off: no spool", "err", err)
		return nil
	}
	pkgs := update.Dpkg{Package: format.FirmwarePackage}
	return &feed.FirmwareOptions{Architecture: dpkgArch(), Spool: u.Spool, Want: func(fw format.Firmware) error {
		if p, err := update.ReadPending(u.State); err != nil || p != nil {
			return fmt.Errorf("an install is under way (%v)", err)
		}
		installed, err := pkgs.Installed(ctx)
		if err != nil {
			return err
		}
		st, err := update.ReadState(u.State)
		if err != nil {
			return err
		}
		return update.Decide(fw, cfg.Gate, installed, st, time.Now())
	}}
}

// firmwareReport is what the daemon tells of the installer's record: each
// version rolled back once to the log and the event log, and the last one
// on the operator screen and in /metrics.
type firmwareReport struct {
	mu       sync.Mutex
	note     string
	failures int
}

func (r *firmwareReport) get() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.note, r.failures
}

// metaFirmwareReported holds, in the cache, the time of the newest
// rollback already reported.
const metaFirmwareReported = "firmware_reported"

// watch reads the installer's record now and every 15 s.
func (r *firmwareReport) watch(ctx context.Context, cfg config.Config, db *cache.DB, clock checkpoint.Clock, log *slog.Logger) {
	for {
		r.check(ctx, cfg, db, clock, log)
		if !backoff.Wait(ctx, 15*time.Second) {
			return
		}
	}
}

func (r *firmwareReport) check(ctx context.Context, cfg config.Config, db *cache.DB, clock checkpoint.Clock, log *slog.Logger) {
	st, err := update.ReadState(cfg.Update.State)
	if err != nil {
		log.Warn("firmware installer's record unreadable", "err", err)
		return
	}
	done, _ := db.Meta(ctx, metaFirmwareReported)
	var last time.Time
	last.UnmarshalText(done)
	newest := last
	for _, f := range st.Failed {
		if !f.At.After(last) {
			continue
		}
		log.Error("firmware rolled back: the previous version runs again; this version is never taken again", "version", f.Version, "reason", f.Reason)
		ev := cache.Event{Time: clock.Now(), Gate: cfg.Gate, Format: "firmware", Verdict: checkpoint.Red,
			Reasons: []string{fmt.Sprintf("firmware %s rolled back: %s", f.Version, f.Reason)}}
		if err := db.LogEvent(ctx, ev); err != nil {
			log.Warn("firmware rollback not written to the event log", "err", err)
			return
		}
		newest = f.At
	}
	if newest.After(last) {
		b, _ := newest.MarshalText()
		db.PutMeta(ctx, metaFirmwareReported, b)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = len(st.Failed)
	if n := len(st.Failed); n > 0 {
		f := st.Failed[n-1]
		r.note = fmt.Sprintf("firmware %s: trả về bản cũ · rolled back %s (%s)", f.Version, f.At.Local().Format("02/01 15:04"), f.Reason)
	}
}
