package update

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"checkpoint/feed/format"
	"checkpoint/internal/debtest"
)

// dpkgRoot is an empty root file system for dpkg --root.
func dpkgRoot(t *testing.T) Dpkg {
	t.Helper()
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg here")
	}
	if os.Geteuid() != 0 {
		t.Skip("dpkg --root needs root")
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	return Dpkg{Package: "checkpoint", Root: root}
}

func writeDeb(t *testing.T, version string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "checkpoint_"+version+"_amd64.deb")
	b := debtest.Package{Name: "checkpoint", Version: version, Arch: "amd64",
		Files: map[string]string{
			"/usr/bin/checkpoint":             "#!/bin/sh\necho checkpoint " + version + "\n",
			"/usr/share/doc/checkpoint/":      "",
			"/etc/checkpoint/checkpoint.toml": "# template of " + version + "\ngate = \"default\"\n",
		},
		Conffiles: []string{"/etc/checkpoint/checkpoint.toml"},
		Scripts:   map[string]string{"postinst": "#!/bin/sh\nset -e\necho \"$2\" >\"$DPKG_ROOT/var/lib/postinst-from\"\n"},
	}.Build()
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// With real dpkg: the installed package is saved (repacked from dpkg's
// database), an upgrade keeps the edited conffile, and the rollback to the
// saved package restores the old files, the conffile still kept.
func TestDpkgSaveInstallRollback(t *testing.T) {
	ctx := context.Background()
	d := dpkgRoot(t)
	if v, err := d.Installed(ctx); err != nil || v != "" {
		t.Fatalf("nothing installed: %q, %v", v, err)
	}
	if err := d.Install(ctx, writeDeb(t, "1.0")); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(d.Root, "etc/checkpoint/checkpoint.toml")
	os.WriteFile(conf, []byte("gate = \"north-7\"\n"), 0o640)
	in := &Installer{Dir: t.TempDir(), Packages: d, Logger: slog.New(slog.DiscardHandler)}
	file := writeDeb(t, "1.1")
	name, v, arch, err := d.Inspect(ctx, file)
	if err != nil || name != "checkpoint" || v != "1.1" || arch != "amd64" {
		t.Fatalf("Inspect: %s %s %s %v", name, v, arch, err)
	}
	fw := format.Firmware{Package: "checkpoint", Version: "1.1", Architecture: "amd64", Rollout: 100}
	res, err := in.Install(ctx, fw, "gate", file)
	if err != nil || res.Outcome != Installed {
		t.Fatalf("install 1.1: %+v, %v", res, err)
	}
	bin := func() string { b, _ := os.ReadFile(filepath.Join(d.Root, "usr/bin/checkpoint")); return string(b) }
	if got, _ := d.Installed(ctx); got != "1.1" || bin() != "#!/bin/sh\necho checkpoint 1.1\n" {
		t.Fatalf("installed %s: %q", got, bin())
	}
	// The saved 1.0 (what a rollback installs) is a package dpkg takes back.
	saved := filepath.Join(t.TempDir(), "saved.deb")
	if err := os.WriteFile(filepath.Join(d.Root, "var/lib/postinst-from"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(ctx, saved); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if _, v, _, _ := d.Inspect(ctx, saved); v != "1.1" {
		t.Fatalf("saved version %s", v)
	}
	if err := d.Install(ctx, writeDeb(t, "1.0")); err != nil {
		t.Fatal(err)
	}
	if err := d.Install(ctx, saved); err != nil {
		t.Fatalf("install the saved package: %v", err)
	}
	b, _ := os.ReadFile(conf)
	if got, _ := d.Installed(ctx); got != "1.1" || bin() != "#!/bin/sh\necho checkpoint 1.1\n" || string(b) != "gate = \"north-7\"\n" {
		t.Errorf("after reinstalling the saved package: %s, %q, config %q", got, bin(), b)
	}
	if from, _ := os.ReadFile(filepath.Join(d.Root, "var/lib/postinst-from")); string(from) != "1.0\n" {
		t.Errorf("the saved package's postinst ran with %q", from)
	}
	// The next release, with a new template: the gate's config is still
	// the gate's (a saved package that shipped it would have made dpkg take
	// it for the package's own, unchanged, and replace it).
	if err := d.Install(ctx, writeDeb(t, "1.2")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(conf); string(b) != "gate = \"north-7\"\n" {
		t.Errorf("after the next release the config is %q", b)
	}
}
