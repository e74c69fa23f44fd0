package feed

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"checkpoint"
	"checkpoint/feed/format"
)

// Firmware through the feed. The gate's daemon, unprivileged, syncs as
// always; when the verified targets name a firmware package for its
// architecture that the gate wants (FirmwareOptions.Want: the rollout, the
// version, the installer's record), it downloads it with the same checks as
// the status data and leaves an offer in FirmwareOptions.Spool: a folder
// "offer" laid out as a repository (the trusted timestamp, snapshot and
// targets metadata, the root versions above the first, the package under
// targets/), written whole and renamed into place. The installer, as root,
// copies it and verifies it again from the provisioned root with its own
// trusted metadata (VerifyOffer): the daemon is a courier, and nothing it
// writes is believed.

// OfferDir is the offer's folder name in the spool.
const OfferDir = "offer"

// maxRoot caps a root metadata file, as go-tuf does.
const maxRoot = 512000

// FirmwareOptions make a Syncer offer firmware (Options.Firmware).
type FirmwareOptions struct {
	Architecture string // the gate's, as dpkg names it
	// Want returns why the gate does not take fw, or nil to take it.
	Want func(fw format.Firmware) error
	// Spool is the folder the offer is left in (it must exist).
	Spool string
}

// Offer says what an offer holds (offer.json, for people: the installer
// reads only the verified metadata).
type Offer struct {
	Firmware format.Firmware `json:"firmware"`
	Target   string          `json:"target"`
	SHA256   string          `json:"sha256"`
	Offered  time.Time       `json:"offered"`
}

// firmware offers the firmware the verified metadata of up names, when
// the gate wants it. It returns the version offered ("" for none) or why
// it could not be offered; a firmware error never fails the status sync.
func (s *Syncer) firmware(up *repo, src source) (string, error) {
	fo := s.cfg.Firmware
	if fo == nil {
		return "", nil
	}
	top := up.GetTrustedMetadataSet().Targets[metadata.TARGETS]
	fw, err := pickFirmware(top, fo.Architecture)
	if errors.Is(err, format.ErrNoFirmware) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", errFeed, err)
	}
	if err := fo.Want(*fw); err != nil {
		s.log.Debug("firmware not taken", "version", fw.Version, "why", err)
		return "", nil
	}
	tf := top.Signed.Targets[fw.Target()]
	if s.offered(tf) {
		return "", nil
	}
	b, err := up.target(fw.Target(), format.MaxFirmware)
	if err != nil {
		return "", fmt.Errorf("firmware %s: %w", fw.Version, err)
	}
	if err := s.writeOffer(up, src, *fw, tf, b); err != nil {
		return "", fmt.Errorf("firmware %s: offer: %w", fw.Version, err)
	}
	s.log.Info("firmware offered to the installer", "version", fw.Version, "bytes", len(b))
	return fw.Version, nil
}

// pickFirmware returns the firmware a targets role names for arch.
func pickFirmware(top *metadata.Metadata[metadata.TargetsType], arch string) (*format.Firmware, error) {
	customs := map[string][]byte{}
	for p, tf := range top.Signed.Targets {
		if format.IsFirmwareTarget(p) {
			var c []byte
			if tf.Custom != nil {
				c = *tf.Custom
			}
			customs[p] = c
		}
	}
	return format.PickFirmware(customs, arch)
}

// offered reports whether the spool holds an offer of target tf already.
func (s *Syncer) offered(tf *metadata.TargetFiles) bool {
	b, err := os.ReadFile(filepath.Join(s.cfg.Firmware.Spool, OfferDir, "offer.json"))
	var o Offer
	return err == nil && json.Unmarshal(b, &o) == nil && o.SHA256 == hex.EncodeToString(tf.Hashes["sha256"])
}

// writeOffer writes the offer of fw (target tf, bytes b) into the spool.
func (s *Syncer) writeOffer(up *repo, src source, fw format.Firmware, tf *metadata.TargetFiles, b []byte) error {
	spool := s.cfg.Firmware.Spool
	tmp, err := os.MkdirTemp(spool, ".offer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	trusted := up.GetTrustedMetadataSet()
	mdir := filepath.Join(s.cfg.Dir, "metadata")
	files := map[string]string{ // offer name: trusted metadata file
		"timestamp.json": "timestamp.json",
		fmt.Sprintf("%d.snapshot.json", trusted.Snapshot.Signed.Version):                 "snapshot.json",
		fmt.Sprintf("%d.targets.json", trusted.Targets[metadata.TARGETS].Signed.Version): "targets.json",
	}
	for name, local := range files {
		data, err := os.ReadFile(filepath.Join(mdir, local))
		if err != nil {
			return err
		}
		if err := writeNew(filepath.Join(tmp, name), data); err != nil {
			return err
		}
	}
	// Every root above the first, for an installer that trusts an older one.
	for v := int64(2); v <= trusted.Root.Signed.Version; v++ {
		data, err := src.DownloadFile(strings.TrimSuffix(src.url(), "/")+fmt.Sprintf("/%d.root.json", v), maxRoot, 0)
		if err != nil {
			return fmt.Errorf("root version %d: %w", v, err)
		}
		if err := writeNew(filepath.Join(tmp, fmt.Sprintf("%d.root.json", v)), data); err != nil {
			return err
		}
	}
	dir, base := path.Split(fw.Target())
	sum := hex.EncodeToString(tf.Hashes["sha256"])
	if err := writeNew(filepath.Join(tmp, "targets", filepath.FromSlash(dir), sum+"."+base), b); err != nil {
		return err
	}
	ob, err := json.MarshalIndent(Offer{Firmware: fw, Target: fw.Target(), SHA256: sum, Offered: s.cfg.Clock.Now().UTC()}, "", " ")
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(tmp, "offer.json"), ob); err != nil {
		return err
	}
	dst := filepath.Join(spool, OfferDir)
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// writeNew writes a file readable by the installer, making its folders.
func writeNew(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// VerifyOptions configure VerifyOffer.
type VerifyOptions struct {
	Root []byte // the provisioned root.json
	// State holds the verifier's own trusted metadata between offers
	// (State/metadata) and the verified packages (State/targets).
	State        string
	Architecture string
	Clock        checkpoint.Clock // system clock when nil
	// Deadline bounds the read of one file of the offer (DefaultMetadataDeadline when zero).
	Deadline time.Duration
}

// VerifyOffer verifies the offer in dir (a copy the caller owns, written by
// a Syncer) from the provisioned root, with the verifier's own trusted
// metadata: signatures, expiry, rollback (nothing older than the verifier
// trusted before), and the package's length and hash. It returns the
// firmware the verified targets name for the architecture and the path of
// the verified package, written into State/targets.
func VerifyOffer(ctx context.Context, dir string, o VerifyOptions) (*format.Firmware, string, error) {
	if o.Clock == nil {
		o.Clock = checkpoint.SystemClock{}
	}
	if o.Deadline <= 0 {
		o.Deadline = DefaultMetadataDeadline
	}
	f, err := openDir(ctx, dir, o.Deadline, nil)
	if err != nil {
		return nil, "", err
	}
	defer f.close()
	up, err := newRepo(o.Root, o.State, f, o.Clock.Now())
	if err != nil {
		return nil, "", err
	}
	if err := up.Refresh(); err != nil {
		return nil, "", fmt.Errorf("verify the offer's metadata: %w", err)
	}
	fw, err := pickFirmware(up.GetTrustedMetadataSet().Targets[metadata.TARGETS], o.Architecture)
	if err != nil {
		return nil, "", fmt.Errorf("verify the offer: %w", err)
	}
	tf, err := up.GetTargetInfo(fw.Target())
	if err != nil {
		return nil, "", fmt.Errorf("verify the offer: %w", err)
	}
	if tf.Length > format.MaxFirmware {
		return nil, "", fmt.Errorf("verify the offer: firmware of %d bytes, at most %d allowed", tf.Length, format.MaxFirmware)
	}
	dst := filepath.Join(o.State, "targets", path.Base(fw.Target()))
	os.Remove(dst)
	if _, _, err := up.DownloadTarget(tf, dst, ""); err != nil {
		return nil, "", fmt.Errorf("verify the offer's package: %w", err)
	}
	return fw, dst, nil
}
