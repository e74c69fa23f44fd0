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

// GateRootPath is where the first boot installs the feed's root metadata
// (Etc/EtcRootName on a gate); a config provisioned with a root must name it
// as feed.root.
const GateRootPath = "/etc/checkpoint/" + EtcRootName

// Provision validates the request's files and the image, writes the files
// onto the image's boot partition, then reads them back to check. A refused
// request leaves the image untouched. The warnings are things a field card
// rarely wants (a replayed camera, outputs on the terminal) that are not
// errors.
func Provision(ctx context.Context, r Request) (warnings []string, err error) {
	text, err := readCapped(r.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := config.Parse(r.ConfigPath, text)
	if err != nil {
		return nil, fmt.Errorf("config refused: %w", err)
	}
	var root []byte
	if r.RootPath != "" {
		if root, err = readCapped(r.RootPath); err != nil {
			return nil, fmt.Errorf("read feed root: %w", err)
		}
		if err := ValidateRoot(root); err != nil {
			return nil, fmt.Errorf("feed root %s refused: %w", r.RootPath, err)
		}
		if cfg.Feed.Root != GateRootPath {
			return nil, fmt.Errorf("config refused: feed.root is %s, but --root installs the root at %s on the gate: set feed.root = %q or leave it out",
				cfg.Feed.Root, GateRootPath, GateRootPath)
		}
	}
	warnings = fieldWarnings(cfg, r.RootPath != "")
	fat, err := OpenBoot(r.Image)
	if err != nil {
		return nil, err
	}
	w, err := checkInstalled(ctx, r.Image)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)
	return warnings, writeBoot(ctx, fat, r.Image, text, root)
}

// fieldWarnings names the settings a card for a real gate rarely wants.
func fieldWarnings(c config.Config, withRoot bool) []string {
	var w []string
	if c.Camera.Source == "replay" {
		w = append(w, "camera.source is \"replay\": the gate will play image files, not its camera")
	}
	if c.GPIO.Driver != "periph" {
		w = append(w, fmt.Sprintf("gpio.driver is %q: the gate will not drive its LEDs, buzzer and relay", c.GPIO.Driver))
	}
	if c.Feed.URL == "" {
		w = append(w, "feed.url is not set: the gate will never sync statuses")
	} else if !withRoot {
		w = append(w, fmt.Sprintf("feed.url is set but no --root given: the gate needs the feed's root.json at %s (an earlier provisioning may have put it there)", c.Feed.Root))
	}
	return w
}

// writeBoot writes the config (and root) onto the boot partition, reads
// them back, and removes an earlier gate's traces.
func writeBoot(ctx context.Context, fat FAT, image string, cfg, root []byte) error {
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
			return fmt.Errorf("%s on %s reads back different from what was written", f.name, image)
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

// xzMagic starts an xz-compressed file.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// OpenBoot finds the FAT boot partition of the image or card at path. A card
// with a mounted partition is refused: writing under a mounted file system
// corrupts it; so is a compressed image, with how to decompress it.
func OpenBoot(path string) (FAT, error) {
	f, err := os.Open(path)
	if err != nil {
		return FAT{}, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(xzMagic))
	if n, _ := f.ReadAt(head, 0); n == len(head) && bytes.Equal(head, xzMagic) {
		return FAT{}, fmt.Errorf("image %s is xz-compressed: decompress it first (xz -dk %s), provision the .img, then flash that", path, path)
	}
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
