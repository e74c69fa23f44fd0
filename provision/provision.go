// Package provision puts a gate's configuration on its SD card and, on the
// gate's first boot, into /etc/checkpoint.
//
// One base image serves many gates: `checkpoint provision` writes a validated
// checkpoint.toml (and optionally the feed's root.json) onto the image's FAT
// boot partition through mtools; `checkpoint firstboot` validates the file on
// the gate, imports it, and removes its secrets from the boot partition.
package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"checkpoint/config"
)

// Names of the files on the boot partition.
const (
	ConfigName   = "checkpoint.toml"          // the config to import on the next boot
	ImportedName = "checkpoint-imported.toml" // the imported config, secrets removed
	ErrorName    = "checkpoint-error.txt"     // why the config was refused
	RootName     = "checkpoint-root.json"     // the feed's TUF root metadata
)

// Request is one gate's provisioning.
type Request struct {
	Image      string // image file or card device
	ConfigPath string // the gate's checkpoint.toml
	RootPath   string // the feed's root.json; empty: leave as it is
}

// Provision validates the request's files and writes them onto the image's
// boot partition, then reads them back to check. A refused config leaves the
// image untouched.
func Provision(ctx context.Context, r Request) error {
	cfg, err := readCapped(r.ConfigPath)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if _, err := config.Parse(r.ConfigPath, cfg); err != nil {
		return fmt.Errorf("config refused: %w", err)
	}
	var root []byte
	if r.RootPath != "" {
		if root, err = readCapped(r.RootPath); err != nil {
			return fmt.Errorf("read feed root: %w", err)
		}
		if err := ValidateRoot(root); err != nil {
			return fmt.Errorf("feed root %s refused: %w", r.RootPath, err)
		}
	}
	fat, err := OpenBoot(r.Image)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{{ConfigName, cfg}}
	if root != nil {
		files = append(files, struct {
			name string
			data []byte
		}{RootName, root})
	}
	for _, f := range files {
		if err := fat.WriteFile(ctx, f.name, f.data); err != nil {
			return err
		}
		back, err := fat.ReadFile(ctx, f.name)
		if err != nil {
			return err
		}
		if !bytes.Equal(back, f.data) {
			return fmt.Errorf("%s on %s reads back different from what was written", f.name, r.Image)
		}
	}
	// A card used before may hold an earlier gate's traces.
	for _, name := range []string{ImportedName, ErrorName} {
		if err := fat.Remove(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// OpenBoot finds the FAT boot partition of the image or card at path. A card
// with a mounted partition is refused: writing under a mounted file system
// corrupts it.
func OpenBoot(path string) (FAT, error) {
	f, err := os.Open(path)
	if err != nil {
		return FAT{}, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeDevice != 0 {
		if mounts, err := os.ReadFile("/proc/self/mounts"); err == nil {
			if dev, dir, ok := MountedFrom(path, string(mounts)); ok {
				return FAT{}, fmt.Errorf("card %s: %s is mounted at %s; unmount it first", path, dev, dir)
			}
		}
	}
	parts, err := ReadPartitions(f)
	if err != nil {
		return FAT{}, fmt.Errorf("image %s: %w", path, err)
	}
	boot, err := BootPartition(parts)
	if err != nil {
		return FAT{}, fmt.Errorf("image %s: %w", path, err)
	}
	return FAT{Image: path, Offset: boot.Start}, nil
}

// MountedFrom reports a mount (in /proc/self/mounts format) of the device
// at path or of one of its partitions (/dev/sdb1 of /dev/sdb, /dev/mmcblk0p1
// of /dev/mmcblk0).
func MountedFrom(path, mounts string) (dev, dir string, ok bool) {
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		rest, found := strings.CutPrefix(f[0], path)
		if !found {
			continue
		}
		rest = strings.TrimPrefix(rest, "p")
		if strings.Trim(rest, "0123456789") == "" {
			return f[0], strings.ReplaceAll(f[1], "\\040", " "), true
		}
	}
	return "", "", false
}

// ValidateRoot checks that b looks like TUF root metadata: a JSON object
// whose signed part has _type "root". The signatures are checked by the
// feed client when it first syncs.
func ValidateRoot(b []byte) error {
	var md struct {
		Signed *struct {
			Type string `json:"_type"`
		} `json:"signed"`
		Signatures []json.RawMessage `json:"signatures"`
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if md.Signed == nil {
		return errors.New(`no "signed" object: not TUF metadata`)
	}
	if md.Signed.Type != "root" {
		return fmt.Errorf(`signed._type is %q, want "root"`, md.Signed.Type)
	}
	if len(md.Signatures) == 0 {
		return errors.New("root metadata carries no signatures")
	}
	return nil
}

// readCapped reads a file of at most config.MaxSize bytes.
func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, config.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > config.MaxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, config.MaxSize)
	}
	return b, nil
}
