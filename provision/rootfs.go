package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// InstalledMarker is the file a root file system with checkpoint installed
// holds, whether from `make image` or the Debian package.
const InstalledMarker = "/usr/lib/systemd/system/checkpoint.service"

// RootPartition returns the first Linux partition (type 0x83): Raspberry Pi
// OS's root file system.
func RootPartition(parts []Partition) (Partition, error) {
	for _, p := range parts {
		if p.Type == 0x83 {
			return p, nil
		}
	}
	return Partition{}, errors.New("no Linux root partition in the partition table")
}

// checkInstalled refuses an image whose root file system does not have
// checkpoint installed: a card provisioned from a bare Raspberry Pi OS image
// would boot without a scanner. It reads the ext4 file system with
// e2fsprogs' debugfs; without debugfs it can only warn.
func checkInstalled(ctx context.Context, image string) (warnings []string, err error) {
	f, err := os.Open(image)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	parts, err := ReadPartitions(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", image, err)
	}
	root, err := RootPartition(parts)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", image, err)
	}
	debugfs, err := exec.LookPath("debugfs")
	if err != nil {
		return []string{"debugfs (package e2fsprogs) is not installed: could not check that the image has checkpoint installed"}, nil
	}
	dev := fmt.Sprintf("%s?offset=%d", image, root.Start)
	out, err := exec.CommandContext(ctx, debugfs, "-R", "stat "+InstalledMarker, dev).CombinedOutput()
	text := string(out)
	switch {
	case strings.Contains(text, "Bad magic number") || strings.Contains(text, "Can't find ext2"):
		return nil, fmt.Errorf("image %s: its root partition holds no ext4 file system: not a Raspberry Pi OS image with checkpoint", image)
	case strings.Contains(text, "File not found"):
		return nil, fmt.Errorf("image %s has no checkpoint installed (no %s in its root file system): build the gate image first (make image BASE=raspios-lite.img) and provision that", image, InstalledMarker)
	case err != nil:
		return nil, fmt.Errorf("image %s: read its root file system: %v: %s", image, err, strings.TrimSpace(text))
	}
	return nil, nil
}
