package feed

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"checkpoint/cache"
	"checkpoint/feed/format"
	"checkpoint/feed/publish"
	"checkpoint/internal/debtest"
)

// firmwareDevice is a gate that takes any firmware for arm64, its spool
// and the installer's verification state beside it.
func firmwareDevice(t *testing.T, f *testFeed, want func(format.Firmware) error) (*device, string, VerifyOptions) {
	t.Helper()
	spool := t.TempDir()
	d := f.device(t, cache.Options{}, func(o *Options) {
		o.Firmware = &FirmwareOptions{Architecture: "arm64", Spool: spool, Want: want}
	})
	return d, spool, VerifyOptions{Root: f.root(), State: t.TempDir(), Architecture: "arm64", Clock: f.clk}
}

func debOf(version string) []byte {
	return debtest.Package{Name: "checkpoint", Version: version, Arch: "arm64",
		Files: map[string]string{"/usr/bin/checkpoint": "#!/bin/sh\necho checkpoint " + version + "\n"}}.Build()
}

func (f *testFeed) publishFirmware(t *testing.T, fw *publish.Firmware) {
	t.Helper()
	f.opts.Firmware = fw
	defer func() { f.opts.Firmware = nil }()
	if _, err := publish.Publish(context.Background(), f.dir, publish.Inputs{}, f.opts); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the offer as the installer does before verifying it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

// A gate syncing a feed with firmware leaves a verifiable offer; the
// installer's verification refuses a tampered or replayed one.
func TestFirmwareOffer(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"Q1,green,"})
	f.publishFirmware(t, &publish.Firmware{Package: debOf("1.1"), Rollout: 100})
	d, spool, vo := firmwareDevice(t, f, func(format.Firmware) error { return nil })
	res := d.sync(t)
	if res.Firmware != "1.1" || res.FirmwareError != nil {
		t.Fatalf("offered %q, %v\n%s", res.Firmware, res.FirmwareError, d.logs)
	}
	offer := filepath.Join(spool, OfferDir)
	fw, pkg, err := VerifyOffer(context.Background(), copyDir(t, offer), vo)
	if err != nil {
		t.Fatalf("VerifyOffer: %v", err)
	}
	if b, _ := os.ReadFile(pkg); fw.Version != "1.1" || string(b) != string(debOf("1.1")) {
		t.Fatalf("verified %+v, package of %d bytes", fw, len(b))
	}
	if res := d.sync(t); res.Firmware != "" {
		t.Errorf("the same firmware offered again: %q", res.Firmware)
	}
	old := copyDir(t, offer)

	// A package swapped in the spool (a compromised daemon) is refused.
	bad := copyDir(t, offer)
	debs, _ := filepath.Glob(filepath.Join(bad, "targets", "firmware", "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("offer holds %v", debs)
	}
	os.WriteFile(debs[0], debOf("6.6.6"), 0o644)
	if _, _, err := VerifyOffer(context.Background(), bad, vo); err == nil || Kind(err) != KindDigest {
		t.Errorf("tampered package: %v (kind %s)", err, Kind(err))
	}
	// So are metadata signed by anyone else.
	forged := copyDir(t, offer)
	ts, _ := os.ReadFile(filepath.Join(forged, "timestamp.json"))
	os.WriteFile(filepath.Join(forged, "timestamp.json"), []byte(strings.Replace(string(ts), `"version"`, `"version" `, 1)+" "), 0o644)
	tgts, _ := filepath.Glob(filepath.Join(forged, "*.targets.json"))
	tb, _ := os.ReadFile(tgts[0])
	os.WriteFile(tgts[0], []byte(strings.Replace(string(tb), `"rollout":100`, `"rollout":99`, 1)), 0o644)
	if _, _, err := VerifyOffer(context.Background(), forged, VerifyOptions{Root: vo.Root, State: t.TempDir(), Architecture: "arm64", Clock: f.clk}); err == nil {
		t.Error("forged targets metadata accepted")
	}

	// A newer release; then the old offer replayed is a rollback.
	f.publishFirmware(t, &publish.Firmware{Package: debOf("1.2")})
	if res := d.sync(t); res.Firmware != "1.2" {
		t.Fatalf("1.2 not offered: %+v", res)
	}
	if fw, _, err := VerifyOffer(context.Background(), copyDir(t, offer), vo); err != nil || fw.Version != "1.2" {
		t.Fatalf("1.2: %+v, %v", fw, err)
	}
	if _, _, err := VerifyOffer(context.Background(), old, vo); err == nil || Kind(err) != KindRollback {
		t.Errorf("replayed older offer: %v (kind %s)", err, Kind(err))
	}
}

// A gate that does not want the firmware (rollout, version, a failure)
// downloads nothing; a feed without firmware for its architecture neither.
func TestFirmwareNotWanted(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"Q1,green,"})
	d, spool, _ := firmwareDevice(t, f, func(format.Firmware) error { return errors.New("not in the rollout") })
	f.publishFirmware(t, &publish.Firmware{Package: debOf("1.1"), Rollout: 10})
	if res := d.sync(t); res.Firmware != "" || res.FirmwareError != nil {
		t.Fatalf("offered %+v", res)
	}
	if _, err := os.Stat(filepath.Join(spool, OfferDir)); err == nil {
		t.Error("offer written")
	}
	if res := d.sync(t); res.Bytes > 20000 {
		t.Errorf("a sync downloaded %d bytes", res.Bytes)
	}
}

// Publishing checks the release against the feed's: never lower without
// --rollback, --rollback only for a lower one, one package per version.
func TestPublishFirmwareVersions(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"Q1,green,"})
	pub := func(fw *publish.Firmware) error {
		f.opts.Firmware = fw
		defer func() { f.opts.Firmware = nil }()
		_, err := publish.Publish(context.Background(), f.dir, publish.Inputs{}, f.opts)
		return err
	}
	if err := pub(&publish.Firmware{Rollout: 50}); err == nil || !strings.Contains(err.Error(), "no firmware") {
		t.Errorf("rollout without firmware: %v", err)
	}
	for _, c := range []struct {
		fw   publish.Firmware
		want string
	}{
		{publish.Firmware{Package: debOf("2.0")}, ""},
		{publish.Firmware{Package: debOf("1.9")}, "pass --rollback"},
		{publish.Firmware{Package: debOf("2.1"), Rollback: true}, "not lower"},
		{publish.Firmware{Package: append(debOf("2.0"), 0)}, "same version"},
		{publish.Firmware{Package: []byte("not a package")}, "not a Debian package"},
		{publish.Firmware{Package: debtest.Package{Name: "other", Version: "3.0", Arch: "arm64"}.Build()}, `package "other"`},
		{publish.Firmware{Rollout: 25}, ""},
		{publish.Firmware{Package: debOf("1.9"), Rollback: true}, ""},
	} {
		err := pub(&c.fw)
		if (c.want == "" && err != nil) || (c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want))) {
			t.Errorf("publish firmware %q: %v, want %q", c.want, err, c.want)
		}
	}
	top := latestTargets(t, f)
	fw, err := pickFirmware(top, "arm64")
	if err != nil || fw.Version != "1.9" || !fw.Rollback || fw.Rollout != 100 {
		t.Errorf("the feed's firmware: %+v, %v", fw, err)
	}
	if n, _ := filepath.Glob(filepath.Join(f.dir, "repo", "targets", "firmware", "*")); len(n) > 2 {
		t.Errorf("old packages not pruned: %v", n)
	}
}

// The same from a USB stick: a gate syncing from an export offers the
// firmware, and the offer verifies.
func TestFirmwareOfferFromStick(t *testing.T) {
	f := newFeed(t)
	f.publish([]string{"Q1,green,"})
	f.publishFirmware(t, &publish.Firmware{Package: debOf("2.0")})
	stick := filepath.Join(t.TempDir(), "feed")
	if _, err := publish.Export(f.dir, stick); err != nil {
		t.Fatal(err)
	}
	d, spool, vo := firmwareDevice(t, f, func(format.Firmware) error { return nil })
	res, err := d.s.SyncOnceFrom(context.Background(), stick)
	if err != nil || res.Firmware != "2.0" {
		t.Fatalf("sync from the stick: %+v, %v\n%s", res, err, d.logs)
	}
	if fw, _, err := VerifyOffer(context.Background(), copyDir(t, filepath.Join(spool, OfferDir)), vo); err != nil || fw.Version != "2.0" {
		t.Fatalf("VerifyOffer: %+v, %v", fw, err)
	}
}
