package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
)

// FAT is a FAT file system inside an image file or card device, reached
// through mtools (mcopy, mdel) without mounting it.
type FAT struct {
	Image  string // image file or block device
	Offset int64  // byte offset of the partition
}

// drive is the mtools image spec: file@@offset.
func (f FAT) drive() string { return fmt.Sprintf("%s@@%d", f.Image, f.Offset) }

// mtools runs one mtools command on the file system.
func (f FAT) mtools(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, append([]string{"-i", f.drive()}, args...)...)
	// No user or system mtools.conf, and no geometry check: images are not
	// floppies.
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("%s not found: install mtools", name)
		}
		if strings.Contains(msg, "not found") && strings.Contains(msg, "File ") {
			return nil, fmt.Errorf("%s: %w", msg, fs.ErrNotExist)
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	return stdout.Bytes(), nil
}

// ReadFile returns the content of the file name in the root directory. A
// missing file is an error wrapping fs.ErrNotExist.
func (f FAT) ReadFile(ctx context.Context, name string) ([]byte, error) {
	b, err := f.mtools(ctx, nil, "mcopy", "-n", "::"+name, "-")
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", name, f.Image, err)
	}
	return b, nil
}

// WriteFile writes data as the file name in the root directory, replacing
// it when it exists.
func (f FAT) WriteFile(ctx context.Context, name string, data []byte) error {
	if _, err := f.mtools(ctx, data, "mcopy", "-o", "-", "::"+name); err != nil {
		return fmt.Errorf("write %s to %s: %w", name, f.Image, err)
	}
	return nil
}

// Remove deletes the file name from the root directory; a missing file is
// not an error.
func (f FAT) Remove(ctx context.Context, name string) error {
	if _, err := f.mtools(ctx, nil, "mdel", "::"+name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s from %s: %w", name, f.Image, err)
	}
	return nil
}
