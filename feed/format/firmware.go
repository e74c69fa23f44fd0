package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"checkpoint/internal/debversion"
)

// Firmware. The authority publishes the gate's Debian package (make deb) as
// the target "firmware/PACKAGE_VERSION_ARCH.deb", one per architecture. Its
// target entry's custom metadata, {"firmware": Firmware}, says what it is:
// the version sits in the same signed entry as the package's length and
// hash (the targets role's signature covers both), and a gate reads it
// before deciding to download (the manifest, about the statuses, stays as
// it is; a gate that does not take firmware never fetches the package).

// FirmwarePackage is the package name gates take.
const FirmwarePackage = "checkpoint"

// MaxFirmware caps a firmware package's size.
const MaxFirmware = 256 << 20

// Firmware is a firmware target's custom metadata.
type Firmware struct {
	Package      string `json:"package"`      // FirmwarePackage
	Version      string `json:"version"`      // the package's Debian version
	Architecture string `json:"architecture"` // dpkg's name: arm64, amd64
	// Rollout is the share of gates, in percent (above 0, at most 100), that
	// take it: those whose name hashes below it (see Admitted).
	Rollout float64 `json:"rollout"`
	// Rollback marks a deliberate rollback: gates on a higher version take
	// it too. Without it a gate never installs a lower version.
	Rollback bool `json:"rollback,omitempty"`
}

var archName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,15}$`)

// Check checks every field.
func (f *Firmware) Check() error {
	if f.Package != FirmwarePackage {
		return fmt.Errorf("firmware: package %q, gates take only %q", f.Package, FirmwarePackage)
	}
	if err := debversion.Check(f.Version); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	if !archName.MatchString(f.Architecture) {
		return fmt.Errorf("firmware: architecture %q is not a dpkg architecture name", f.Architecture)
	}
	if !(f.Rollout > 0 && f.Rollout <= 100) {
		return fmt.Errorf("firmware: rollout %g%% is not above 0%% and at most 100%%", f.Rollout)
	}
	return nil
}

// Target is the firmware's target path (the version without its epoch, as
// Debian names package files).
func (f *Firmware) Target() string {
	v := f.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return fmt.Sprintf("firmware/%s_%s_%s.deb", f.Package, v, f.Architecture)
}

// Admitted reports whether the gate named gate is within a rollout of
// share percent: the gate's bucket, the first 8 bytes of the SHA-256 of its
// name modulo 10,000, is below share × 100. A gate keeps its bucket, so a
// rollout widened from 10% to 50% keeps its first gates, and the same
// gates come first in every release.
func Admitted(gate string, share float64) bool {
	h := sha256.Sum256([]byte("checkpoint rollout\n" + gate))
	return float64(binary.BigEndian.Uint64(h[:8])%10000) < share*100
}

// IsFirmwareTarget reports whether a target path is a firmware package's.
func IsFirmwareTarget(path string) bool {
	return strings.HasPrefix(path, "firmware/") && strings.HasSuffix(path, ".deb")
}

// FirmwareCustom is the custom metadata of f's target entry.
func FirmwareCustom(f Firmware) (json.RawMessage, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Firmware Firmware `json:"firmware"`
	}{f})
}

// ParseFirmware reads a firmware target's custom metadata (path is the
// target's) and checks it: the fields, and that the path is the one they
// name.
func ParseFirmware(path string, custom []byte) (*Firmware, error) {
	if len(custom) == 0 {
		return nil, fmt.Errorf("firmware target %s: no custom metadata", path)
	}
	var c struct {
		Firmware *Firmware `json:"firmware"`
	}
	dec := json.NewDecoder(bytes.NewReader(custom))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("firmware target %s: %w", path, err)
	}
	if c.Firmware == nil {
		return nil, fmt.Errorf("firmware target %s: custom metadata has no firmware field", path)
	}
	if err := c.Firmware.Check(); err != nil {
		return nil, fmt.Errorf("firmware target %s: %w", path, err)
	}
	if c.Firmware.Target() != path {
		return nil, fmt.Errorf("firmware target %s: its metadata names %s", path, c.Firmware.Target())
	}
	return c.Firmware, nil
}

// ErrNoFirmware: the feed names no firmware for the architecture.
var ErrNoFirmware = errors.New("no firmware for this architecture in the feed")

// PickFirmware chooses, among the firmware targets (path to custom
// metadata) of a verified targets role, the one for arch: there is at most
// one per architecture; should there be more, the highest version.
func PickFirmware(targets map[string][]byte, arch string) (*Firmware, error) {
	var best *Firmware
	for p, custom := range targets {
		if !IsFirmwareTarget(p) {
			continue
		}
		f, err := ParseFirmware(p, custom)
		if err != nil {
			return nil, err
		}
		if f.Architecture == arch && (best == nil || debversion.Compare(f.Version, best.Version) > 0) {
			best = f
		}
	}
	if best == nil {
		return nil, ErrNoFirmware
	}
	return best, nil
}
