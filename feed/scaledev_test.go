package feed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// On kernels whose ext4 caches files in large folios (Linux 6.16 on; this
// machine runs 6.18), /proc/self/io's write_bytes counts a whole folio, up
// to megabytes, when one 8 KiB page of it is overwritten, though only the
// dirty blocks are written back: it overstates overwrites in place, a
// checkpoint's above all. So the gate's folder is also put on an ext4 file
// system of its own, on a loop device, and the sectors that device is sent
// are counted (the file system's journal included, as a card sees them),
// after a sync at the end of each step. The bench needs root for it; without,
// or with CHECKPOINT_BENCH_LOOP=0, only /proc/self/io is reported.

// loopFS is a file system on a loop device, mounted for the bench.
type loopFS struct {
	img, dev, mnt string
	stat          string // /sys/block/loopN/stat
}

// mountLoop makes an ext4 file system of size bytes in img and mounts it at
// mnt; it returns nil (and why in the log) when it cannot.
func mountLoop(t *testing.T, img, mnt string, size int64) *loopFS {
	if os.Getenv("CHECKPOINT_BENCH_LOOP") == "0" || os.Geteuid() != 0 {
		t.Log("device counts: not measured (needs root; CHECKPOINT_BENCH_LOOP=0 turns them off)")
		return nil
	}
	run := func(name string, args ...string) (string, error) {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	l := &loopFS{img: img, mnt: mnt}
	fh, err := os.Create(img) // sparse: blocks are taken as they are written
	if err == nil {
		err = fh.Truncate(size)
		fh.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err = run("mkfs.ext4", "-q", "-F", img); err == nil {
		l.dev, err = run("losetup", "--find", "--show", img)
	}
	if err == nil {
		os.MkdirAll(mnt, 0o755)
		// noatime, as the SD image's fstab mounts the gate's root.
		if _, err = run("mount", "-o", "noatime", l.dev, mnt); err != nil {
			run("losetup", "-d", l.dev)
		}
	}
	if err != nil {
		os.Remove(img)
		t.Logf("device counts: not measured (%v)", err)
		return nil
	}
	l.stat = filepath.Join("/sys/block", filepath.Base(l.dev), "stat")
	return l
}

// written syncs every file system and returns the bytes the device has
// been sent so far.
func (l *loopFS) written(t *testing.T) int64 {
	syscall.Sync()
	b, err := os.ReadFile(l.stat)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 7 {
		t.Fatalf("%s: %q", l.stat, b)
	}
	sectors, err := strconv.ParseInt(f[6], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return sectors * 512
}

func (l *loopFS) close() {
	exec.Command("umount", l.mnt).Run()
	exec.Command("losetup", "-d", l.dev).Run()
	os.Remove(l.img)
}
