package publish

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint/feed/format"
	"checkpoint/internal/debversion"
)

// Firmware is what a publish does to the feed's firmware (Options.Firmware).
type Firmware struct {
	// Package is a new package (a .deb made by make deb); nil: keep the
	// feed's current one and change only its Rollout.
	Package []byte
	// Rollout is the share of gates, in percent, that take it (0: 100 for a
	// new package, unchanged for the current one).
	Rollout float64
	// Rollback allows a version lower than the feed's current one and marks
	// it so that gates on a higher version take it.
	Rollback bool
}

// firmware lists the firmware targets: the previous ones carried over, or
// for the new package's architecture, the new package.
func (b *build) firmware(f *Firmware) error {
	prev := map[string]*metadata.TargetFiles{}
	if b.r.targets != nil {
		for p, tf := range b.r.targets.Signed.Targets {
			if format.IsFirmwareTarget(p) {
				prev[p] = tf
			}
		}
	}
	if f == nil {
		maps.Copy(b.files, prev)
		return nil
	}
	if f.Package == nil {
		return b.reroll(prev, f.Rollout)
	}
	fw, err := ReadPackage(f.Package)
	if err != nil {
		return err
	}
	fw.Rollout, fw.Rollback = cmpOr(f.Rollout, 100), f.Rollback
	for p, tf := range prev {
		old, err := format.ParseFirmware(p, custom(tf))
		if err != nil {
			return fmt.Errorf("the feed's firmware: %w", err)
		}
		if old.Architecture != fw.Architecture {
			b.files[p] = tf
			continue
		}
		if err := checkRelease(*old, fw, tf, f.Package); err != nil {
			return err
		}
	}
	c, err := format.FirmwareCustom(fw)
	if err != nil {
		return err
	}
	if err := b.put(fw.Target(), f.Package); err != nil {
		return err
	}
	raw := json.RawMessage(c)
	b.files[fw.Target()].Custom = &raw
	return nil
}

// checkRelease checks a new release fw (package data) against the feed's
// current one of its architecture, old (target tf).
func checkRelease(old, fw format.Firmware, tf *metadata.TargetFiles, data []byte) error {
	c := debversion.Compare(fw.Version, old.Version)
	switch {
	case c < 0 && !fw.Rollback:
		return fmt.Errorf("publish refused: firmware %s is lower than %s, the feed's; gates never install a lower version unless it is marked as a deliberate rollback: pass --rollback", fw.Version, old.Version)
	case c >= 0 && fw.Rollback:
		return fmt.Errorf("publish refused: --rollback, but firmware %s is not lower than %s, the feed's", fw.Version, old.Version)
	case c == 0 && tf.VerifyLengthHashes(data) != nil:
		return fmt.Errorf("publish refused: a different package with the same version %s as the feed's: give the new build a new version", fw.Version)
	}
	return nil
}

// reroll carries the previous firmware targets over with a new rollout.
func (b *build) reroll(prev map[string]*metadata.TargetFiles, rollout float64) error {
	if len(prev) == 0 {
		return errors.New("publish: --rollout without --firmware, and the feed has no firmware")
	}
	for _, p := range slices.Sorted(maps.Keys(prev)) {
		tf := *prev[p]
		fw, err := format.ParseFirmware(p, custom(&tf))
		if err != nil {
			return fmt.Errorf("the feed's firmware: %w", err)
		}
		if rollout > 0 {
			fw.Rollout = rollout
		}
		c, err := format.FirmwareCustom(*fw)
		if err != nil {
			return err
		}
		raw := json.RawMessage(c)
		tf.Custom = &raw
		b.files[p] = &tf
	}
	return nil
}

func custom(tf *metadata.TargetFiles) []byte {
	if tf.Custom == nil {
		return nil
	}
	return *tf.Custom
}

func cmpOr(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// ReadPackage reads the package name, version and architecture from the
// control file of a Debian package (an ar archive whose control.tar is
// gzip-compressed or plain, as make deb writes it).
func ReadPackage(deb []byte) (format.Firmware, error) {
	var fw format.Firmware
	ctl, err := controlTar(deb)
	if err != nil {
		return fw, fmt.Errorf("firmware package: %w", err)
	}
	fields, err := controlFields(ctl)
	if err != nil {
		return fw, fmt.Errorf("firmware package: %w", err)
	}
	fw = format.Firmware{Package: fields["Package"], Version: fields["Version"], Architecture: fields["Architecture"], Rollout: 100}
	if err := fw.Check(); err != nil {
		return fw, fmt.Errorf("firmware package: %w", err)
	}
	return fw, nil
}

// controlTar returns the control.tar member of an ar archive, uncompressed.
func controlTar(deb []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(deb, []byte("!<arch>\n"))
	if !ok {
		return nil, errors.New("not a Debian package (no ar archive)")
	}
	for len(rest) >= 60 {
		name := strings.TrimRight(strings.TrimSpace(string(rest[:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(rest[48:58])), 10, 64)
		if err != nil || size < 0 || size > int64(len(rest)-60) {
			return nil, errors.New("damaged ar archive")
		}
		body := rest[60 : 60+size]
		rest = rest[60+size+size%2:]
		switch name {
		case "control.tar":
			return body, nil
		case "control.tar.gz":
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("control.tar.gz: %w", err)
			}
			return io.ReadAll(io.LimitReader(zr, 16<<20))
		case "control.tar.xz", "control.tar.zst":
			return nil, fmt.Errorf("%s: build the package with make deb (gzip)", name)
		}
	}
	return nil, errors.New("no control.tar member")
}

// controlFields reads the fields of ./control in a control tar.
func controlFields(ctl []byte) (map[string]string, error) {
	tr := tar.NewReader(bytes.NewReader(ctl))
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, errors.New("no control file")
		}
		if filepath.Clean(h.Name) != "control" {
			continue
		}
		fields := map[string]string{}
		sc := bufio.NewScanner(io.LimitReader(tr, 1<<20))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && !strings.HasPrefix(k, " ") {
				fields[k] = strings.TrimSpace(v)
			}
		}
		return fields, sc.Err()
	}
}

// pruneFirmware removes the firmware packages that neither the targets
// just signed nor the previous ones (old, which a gate may be fetching
// right now) list. A failure costs only disk space.
func (r *repo) pruneFirmware(old *metadata.Metadata[metadata.TargetsType]) {
	keep := map[string]bool{}
	for _, t := range []*metadata.Metadata[metadata.TargetsType]{old, r.targets} {
		if t == nil {
			continue
		}
		for p, tf := range t.Signed.Targets {
			if format.IsFirmwareTarget(p) {
				keep[path.Base(hashedName(tf))] = true
			}
		}
	}
	dir := filepath.Join(r.dir, "repo", "targets", "firmware")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !keep[e.Name()] {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
