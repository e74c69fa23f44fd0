package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// feed publish's firmware flags: bad values are usage errors naming the
// flag; --firmware alone republishes the statuses with the package.
func TestFeedPublishFirmwareFlags(t *testing.T) {
	dir := t.TempDir()
	if code, errs := exitOf(t, "feed", "init", dir); code != 0 {
		t.Fatalf("feed init: %d %s", code, errs)
	}
	deb := filepath.Join(t.TempDir(), "checkpoint_1.0_arm64.deb")
	os.WriteFile(deb, []byte("not a package"), 0o644)
	statuses := filepath.Join(t.TempDir(), "s.csv")
	os.WriteFile(statuses, []byte("qid,status,valid_until\nQ1,green,\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--rollout", "0%"}, 2, "--rollout"},
		{[]string{"--rollout", "ten"}, 2, "--rollout"},
		{[]string{"--rollback"}, 2, "--rollback needs --firmware"},
		{[]string{"--firmware", deb}, 1, "only a firmware publish may leave it out"},
		{[]string{"--statuses", statuses, "--firmware", deb}, 1, "not a Debian package"},
		{[]string{"--statuses", statuses}, 0, ""},
		{[]string{"--rollout", "10%"}, 1, "the feed has no firmware"},
	} {
		code, errs := exitOf(t, append([]string{"feed", "publish", dir}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("feed publish %v: exit %d, %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
}

// update status and update install on a config: nothing installed by
// dpkg under that name here, nothing offered: install does nothing.
func TestUpdateCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gate.toml")
	os.WriteFile(cfg, []byte("gate = \"g\"\n[update]\nspool = \""+filepath.Join(dir, "spool")+"\"\nstate = \""+filepath.Join(dir, "state")+"\"\n"), 0o600)
	if code, errs := exitOf(t, "update", "install", "--config", cfg); code != 0 {
		t.Errorf("update install with no offer: exit %d: %s", code, errs)
	}
	if code, errs := exitOf(t, "update", "status", "--config", cfg); code != 0 {
		t.Errorf("update status: exit %d: %s", code, errs)
	}
	if code, errs := exitOf(t, "update", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown verb") {
		t.Errorf("unknown verb: %d %s", code, errs)
	}
}
