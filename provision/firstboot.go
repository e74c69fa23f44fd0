package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"checkpoint/config"
)

// Installed names in the config directory.
const (
	EtcConfigName = "checkpoint.toml"
	EtcRootName   = "root.json"
)

// RefusedError is a config or root file on the boot partition that fails
// validation: the technician has to fix the card.
type RefusedError struct {
	File string // the refused file
	Err  error  // why, naming the line and key for a config
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Importer imports the config from the boot partition on first boot.
type Importer struct {
	Boot string // where the boot partition is mounted (/boot/firmware)
	Etc  string // the config directory (/etc/checkpoint)
	// GID owns the imported config so the daemon's group can read it; -1
	// leaves the group as created.
	GID    int
	Logger *slog.Logger
}

// Result says what an import did.
type Result struct {
	Imported bool     // a config was found and installed
	Root     bool     // a feed root was installed too
	Redacted []string // keys removed from the boot partition's copy
	Stub     bool     // the copy was replaced by a stub (secrets not cut out line by line)
}

// Import validates Boot/checkpoint.toml and installs it as
// Etc/checkpoint.toml (mode 0640, group GID), with Boot/checkpoint-root.json
// as Etc/root.json when present. The boot partition's copy is then written,
// secrets removed, as checkpoint-imported.toml, and checkpoint.toml removed so
// the next boot imports nothing. Without Boot/checkpoint.toml it does
// nothing. A refused file is a *RefusedError; the reason is also written to
// Boot/checkpoint-error.txt for a technician reading the card on a laptop,
// and nothing in Etc changes.
func (im Importer) Import() (Result, error) {
	log := im.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := filepath.Join(im.Boot, ConfigName)
	text, err := readCapped(src)
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, im.refuse(src, err)
	}
	cfg, err := config.Parse(src, text)
	if err != nil {
		return Result{}, im.refuse(src, err)
	}
	var root []byte
	rootSrc := filepath.Join(im.Boot, RootName)
	if root, err = readCapped(rootSrc); errors.Is(err, fs.ErrNotExist) {
		root = nil
	} else if err != nil {
		return Result{}, im.refuse(rootSrc, err)
	} else if err := ValidateRoot(root); err != nil {
		return Result{}, im.refuse(rootSrc, fmt.Errorf("%s: %w", rootSrc, err))
	}

	if err := os.MkdirAll(im.Etc, 0o750); err != nil {
		return Result{}, fmt.Errorf("create %s: %w", im.Etc, err)
	}
	if err := writeAtomic(filepath.Join(im.Etc, EtcConfigName), text, 0o640, im.GID); err != nil {
		return Result{}, err
	}
	res := Result{Imported: true}
	if root != nil {
		if err := writeAtomic(filepath.Join(im.Etc, EtcRootName), root, 0o644, im.GID); err != nil {
			return res, err
		}
		res.Root = true
	}
	log.Info("gate config imported", "from", src, "to", filepath.Join(im.Etc, EtcConfigName), "gate", cfg.Gate, "feed_root", res.Root)

	secrets := Secrets(cfg)
	for _, s := range secrets {
		res.Redacted = append(res.Redacted, s.Key)
	}
	copyText, stub := Redact(text, secrets)
	res.Stub = stub
	header := "# Imported into " + filepath.Join(im.Etc, EtcConfigName) + " on this gate's first boot"
	if len(secrets) > 0 {
		header += "; secrets (" + strings.Join(res.Redacted, ", ") + ") removed from this copy"
	}
	header += ".\n# To change the config: edit this file (put the secrets back), save it as " +
		ConfigName + " and restart the gate.\n\n"
	if err := writeAtomic(filepath.Join(im.Boot, ImportedName), append([]byte(header), copyText...), 0o644, -1); err != nil {
		return res, err
	}
	for _, name := range []string{ConfigName, ErrorName} {
		if err := os.Remove(filepath.Join(im.Boot, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("remove %s from the boot partition: %w", name, err)
		}
	}
	syncDir(im.Boot)
	return res, nil
}

// refuse records why file was refused on the boot partition and returns the
// error. The boot partition's copy stays, for the technician to fix.
func (im Importer) refuse(file string, err error) error {
	msg := "checkpoint: " + file + " was NOT imported; the gate shows the fault pattern until it is fixed.\n\n" +
		err.Error() + "\n\nFix the file, save it as " + ConfigName + " on this partition and restart the gate.\n"
	if werr := writeAtomic(filepath.Join(im.Boot, ErrorName), []byte(msg), 0o644, -1); werr != nil {
		err = errors.Join(err, fmt.Errorf("also failed to record the reason on the boot partition: %w", werr))
	}
	return &RefusedError{File: file, Err: err}
}

// FaultReason says why the gate cannot run: a refused config on the boot
// partition, else an installed config that does not load. It returns "" when
// neither is the case (the daemon failed for another reason).
func FaultReason(boot, etc string) string {
	src := filepath.Join(boot, ConfigName)
	if text, err := readCapped(src); err == nil {
		if _, err := config.Parse(src, text); err != nil {
			return "config on the boot partition refused: " + err.Error()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "config on the boot partition unreadable: " + err.Error()
	}
	if _, err := config.Load(filepath.Join(etc, EtcConfigName)); err != nil {
		return "installed config does not load: " + err.Error()
	}
	return ""
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, synced, then renamed over it, so a power cut leaves the old or
// the new file, never a torn one.
func writeAtomic(path string, data []byte, mode os.FileMode, gid int) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// FAT has no modes or owners: ignore what it cannot store.
	if err = f.Chmod(mode); err != nil && !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if gid >= 0 {
		if err = f.Chown(-1, gid); err != nil {
			return fmt.Errorf("give %s to group %d: %w", path, gid, err)
		}
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("install %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable, where the file system supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
