package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// need skips the test when a tool is missing, except under CI, where
// `make deps` installs it and its absence is a failure.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed (make deps installs it)", tool)
			}
			t.Skipf("%s not installed (make deps installs it)", tool)
		}
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// testImage builds a small SD-card image as Raspberry Pi OS lays it out: an
// MBR table with a FAT32 boot partition at sector 8192 and an ext4 root
// after it with checkpoint's unit installed.
func testImage(t *testing.T) (string, int64) {
	t.Helper()
	return testImageWith(t, true)
}

// testImageWith is testImage; installed says whether the root file system
// has checkpoint installed.
func testImageWith(t *testing.T, installed bool) (string, int64) {
	t.Helper()
	need(t, "sfdisk", "mkfs.vfat", "mcopy", "mkfs.ext4", "debugfs")
	dir := t.TempDir()
	img := filepath.Join(dir, "card.img")
	const bootStart = 8192
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 96<<20); err != nil {
		t.Fatal(err)
	}
	table := "label: dos\nstart=8192, size=131072, type=c\nstart=139264, type=83\n"
	cmd := exec.Command("sfdisk", "-q", img)
	cmd.Stdin = strings.NewReader(table)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	part := filepath.Join(dir, "boot.fat")
	run(t, "mkfs.vfat", "-F", "32", "-n", "BOOTFS", "-C", part, "65536") // 64 MiB: FAT32 needs 65525 clusters
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, bootStart*SectorSize); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "rootfs")
	for _, d := range []string{"usr/lib/systemd/system", "etc"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if installed {
		writeFile(t, filepath.Join(tree, "usr/lib/systemd/system"), "checkpoint.service", "[Service]\n")
	} else {
		writeFile(t, filepath.Join(tree, "etc"), "os-release", "ID=debian\n")
	}
	ext := filepath.Join(dir, "root.ext4")
	run(t, "mkfs.ext4", "-q", "-d", tree, ext, "16M")
	if b, err = os.ReadFile(ext); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 139264*SectorSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return img, bootStart * SectorSize
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

const siteConfig = `# Gate 7, north entrance
gate = "north-7"

[camera]
source = "rpicam"
width = 1920
height = 1080

[gpio]
active_low = ["relay"]

[web]
listen = "0.0.0.0:8080"
token = "s3cret-operator-token"
`

const rootJSON = `{"signed":{"_type":"root","spec_version":"1.0.31","version":1},"signatures":[{"keyid":"ab","sig":"cd"}]}`

// mcopyOut reads a file from the image with the mtools command line, apart
// from the code under test.
func mcopyOut(t *testing.T, img string, off int64, name string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("mcopy", "-n", "-i", img+"@@"+strconv.FormatInt(off, 10), "::"+name, "-")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(stderr.String())
	}
	return out, nil
}

func TestProvisionRoundTrip(t *testing.T) {
	img, off := testImage(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "site.toml", siteConfig)
	root := writeFile(t, dir, "root.json", rootJSON)
	ctx := context.Background()

	// A card used before: an imported copy and an error report are left over.
	fat := FAT{Image: img, Offset: off}
	for _, name := range []string{ImportedName, ErrorName} {
		if err := fat.WriteFile(ctx, name, []byte("old")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Provision(ctx, Request{Image: img, ConfigPath: cfg, RootPath: root}); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	for name, want := range map[string]string{ConfigName: siteConfig, RootName: rootJSON} {
		got, err := mcopyOut(t, img, off, name)
		if err != nil {
			t.Fatalf("read %s back: %v", name, err)
		}
		if string(got) != want {
			t.Errorf("%s read back differs:\n%s\nwant:\n%s", name, got, want)
		}
	}
	for _, name := range []string{ImportedName, ErrorName} {
		if _, err := mcopyOut(t, img, off, name); err == nil {
			t.Errorf("%s from an earlier gate still on the card", name)
		}
	}

	// Provisioning the same card for another gate replaces the config.
	other := strings.Replace(siteConfig, "north-7", "south-2", 1)
	if _, err := Provision(ctx, Request{Image: img, ConfigPath: writeFile(t, dir, "other.toml", other)}); err != nil {
		t.Fatalf("Provision again: %v", err)
	}
	if got, err := fat.ReadFile(ctx, ConfigName); err != nil || string(got) != other {
		t.Errorf("after re-provisioning: %q, %v; want the new config", got, err)
	}
	if got, _ := fat.ReadFile(ctx, RootName); string(got) != rootJSON {
		t.Errorf("re-provisioning without --root changed the root: %q", got)
	}
}

func TestProvisionRefuses(t *testing.T) {
	img, _ := testImage(t)
	dir := t.TempDir()
	good := writeFile(t, dir, "good.toml", siteConfig)
	for _, tc := range []struct {
		name      string
		cfg, root string
		want      string // in the error
	}{
		{"syntax", "gate = \"a\"\n[camera\nsource = 1\n", "", "bad.toml:2"},
		{"unknown key", "gate = \"a\"\n\n[camera]\nsorce = \"rpicam\"\n", "", "bad.toml:4: camera.sorce: unknown key"},
		{"bad value", "[gpio]\nred = \"GPIO17\"\n", "", "gpio.red: pin GPIO17 is already used by gpio.green"},
		{"token missing", "[web]\nlisten = \"0.0.0.0:80\"\n", "", "web.token: required"},
		{"root not JSON", "", "{not json", "not JSON"},
		{"root of wrong type", "", `{"signed":{"_type":"targets"},"signatures":[{}]}`, `_type is "targets"`},
		{"root unsigned", "", `{"signed":{"_type":"root"},"signatures":[]}`, "no signatures"},
		{"feed.root elsewhere", "[feed]\nurl = \"https://feed.example/\"\nroot = \"/srv/root.json\"\n", rootJSON, "--root installs the root at /etc/checkpoint/root.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sum(t, img)
			r := Request{Image: img, ConfigPath: good}
			if tc.cfg != "" {
				r.ConfigPath = writeFile(t, dir, "bad.toml", tc.cfg)
			}
			if tc.root != "" {
				r.RootPath = writeFile(t, dir, "root.json", tc.root)
			}
			_, err := Provision(context.Background(), r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Provision: %v, want an error containing %q", err, tc.want)
			}
			if sum(t, img) != before {
				t.Error("a refused provisioning changed the image")
			}
		})
	}
}

func TestProvisionBadImage(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "site.toml", siteConfig)
	noTable := writeFile(t, dir, "blank.img", strings.Repeat("\x00", 4096))
	bare, _ := testImageWith(t, false)
	for _, tc := range []struct{ image, want string }{
		{writeFile(t, dir, "raspios.img.xz", "\xfd7zXZ\x00\x00\x04"), "xz-compressed: decompress it first (xz -dk"},
		{bare, "has no checkpoint installed"},
		{filepath.Join(dir, "missing.img"), "no such file"},
		{noTable, "no MBR partition table"},
		{writeFile(t, dir, "tiny.img", "x"), "not a disk image"},
	} {
		_, err := Provision(context.Background(), Request{Image: tc.image, ConfigPath: cfg})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Provision(%s): %v, want an error containing %q", filepath.Base(tc.image), err, tc.want)
		}
	}
}

// mbr builds a partition table with the given entries (type, start sector, sectors).
func mbr(sig bool, entries ...[3]uint32) []byte {
	b := make([]byte, 1024)
	for i, e := range entries {
		p := b[446+16*i:]
		p[4] = byte(e[0])
		binary.LittleEndian.PutUint32(p[8:], e[1])
		binary.LittleEndian.PutUint32(p[12:], e[2])
	}
	if sig {
		b[510], b[511] = 0x55, 0xaa
	}
	return b
}

// Settings a field card rarely wants are warned about, not refused.
func TestProvisionWarnings(t *testing.T) {
	img, _ := testImage(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "bench.toml", "[camera]\nsource = \"replay\"\npath = \"/srv/frames\"\n[gpio]\ndriver = \"terminal\"\n[feed]\nurl = \"https://feed.example/\"\n")
	w, err := Provision(context.Background(), Request{Image: img, ConfigPath: cfg})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(w, "\n")
	for _, want := range []string{`camera.source is "replay"`, `gpio.driver is "terminal"`, "no --root given"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	if w, _ := Provision(context.Background(), Request{Image: img, ConfigPath: writeFile(t, dir, "field.toml", siteConfig+"[feed]\nurl = \"https://feed.example/\"\n"), RootPath: writeFile(t, dir, "root.json", rootJSON)}); len(w) != 0 {
		t.Errorf("a field config got warnings: %q", w)
	}
}

func TestReadPartitions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		disk     []byte
		wantBoot int64 // byte offset; 0 when an error is expected
		wantErr  string
	}{
		{"raspios", mbr(true, [3]uint32{0x0c, 8192, 1048576}, [3]uint32{0x83, 1056768, 4194304}), 8192 * 512, ""},
		{"fat16 second", mbr(true, [3]uint32{0x83, 2048, 100}, [3]uint32{0x0e, 4096, 100}), 4096 * 512, ""},
		{"no signature", mbr(false, [3]uint32{0x0c, 8192, 100}), 0, "no MBR partition table"},
		{"gpt", mbr(true, [3]uint32{0xee, 1, 0xffffffff}), 0, "GPT partition table"},
		{"empty", mbr(true), 0, "no partitions"},
		{"no fat", mbr(true, [3]uint32{0x83, 2048, 100}), 0, "no FAT boot partition"},
		{"short", []byte{1, 2, 3}, 0, "not a disk image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := ReadPartitions(bytes.NewReader(tc.disk))
			var boot Partition
			if err == nil {
				boot, err = BootPartition(parts)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if boot.Start != tc.wantBoot {
				t.Errorf("boot partition at %d, want %d", boot.Start, tc.wantBoot)
			}
		})
	}
}

func TestFATMissingFile(t *testing.T) {
	img, off := testImage(t)
	fat := FAT{Image: img, Offset: off}
	if _, err := fat.ReadFile(context.Background(), "nothere.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := fat.Remove(context.Background(), "nothere.txt"); err != nil {
		t.Errorf("Remove of a missing file: %v", err)
	}
}

func TestMountedFrom(t *testing.T) {
	mounts := "/dev/mmcblk0p2 / ext4 rw 0 0\n" +
		"/dev/sdb1 /media/tech/bootfs vfat rw 0 0\n" +
		"/dev/sdb2 /media/tech/root\\040fs ext4 rw 0 0\n" +
		"tmpfs /run tmpfs rw 0 0\n"
	for _, tc := range []struct {
		path, dev, dir string
		ok             bool
	}{
		{"/dev/sdb", "/dev/sdb1", "/media/tech/bootfs", true},
		{"/dev/sdb2", "/dev/sdb2", "/media/tech/root fs", true},
		{"/dev/mmcblk0", "/dev/mmcblk0p2", "/", true},
		{"/dev/sdc", "", "", false},
		{"/dev/sd", "", "", false}, // not a prefix match of sdb1
		{"/dev/mmcblk", "", "", false},
	} {
		dev, dir, ok := MountedFrom(tc.path, mounts)
		if dev != tc.dev || dir != tc.dir || ok != tc.ok {
			t.Errorf("MountedFrom(%s) = %q, %q, %v; want %q, %q, %v", tc.path, dev, dir, ok, tc.dev, tc.dir, tc.ok)
		}
	}
}
