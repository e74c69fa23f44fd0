package update

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"checkpoint/feed/format"
)

type rig struct {
	in  *Installer
	pkg *fakePkg
	dir string
}

func newRig(t *testing.T, installed string) *rig {
	t.Helper()
	pkg := &fakePkg{installed: installed}
	dir := t.TempDir()
	self := filepath.Join(t.TempDir(), "checkpoint")
	os.WriteFile(self, []byte("#!/bin/sh\n"), 0o755)
	return &rig{pkg: pkg, dir: dir, in: &Installer{Dir: dir, Packages: pkg, Service: &fakeService{pkg: pkg},
		Probation: 30 * time.Millisecond, StartTimeout: 50 * time.Millisecond, Poll: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Self: self}}
}

// offer writes the package file of version v and returns its firmware.
func (r *rig) offer(t *testing.T, v string, rollback bool) (format.Firmware, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "p.deb")
	os.WriteFile(f, []byte("checkpoint "+v+" arm64"), 0o600)
	return format.Firmware{Package: "checkpoint", Version: v, Architecture: "arm64", Rollout: 100, Rollback: rollback}, f
}

func (r *rig) install(t *testing.T, v string, rollback bool) Result {
	t.Helper()
	fw, f := r.offer(t, v, rollback)
	if _, err := r.in.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := r.in.Install(context.Background(), fw, "gate-1", f)
	if err != nil {
		t.Fatalf("install %s: %v", v, err)
	}
	return res
}

// clean checks that nothing of an install is left pending.
func (r *rig) clean(t *testing.T) {
	t.Helper()
	for _, n := range []string{pendingFile, InstallerCopy} {
		if _, err := os.Stat(filepath.Join(r.dir, n)); err == nil {
			t.Errorf("%s left", n)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(r.dir, packagesDir)); len(ents) > 1 {
		t.Errorf("packages kept: %v", ents)
	}
}

func TestInstall(t *testing.T) {
	for _, c := range []struct {
		name, from, to string
		rollback       bool
		outcome        string
		reason         string
		installs       []string
		failed         bool
	}{
		{"upgrade", "1.0", "1.1", false, Installed, "", []string{"1.1"}, false},
		{"exits at start", "1.0", "1.1~bad", false, RolledBack, "exited at start-up", []string{"1.1~bad", "1.0"}, true},
		{"stops in probation", "1.0", "1.1~flaky", false, RolledBack, "into its probation", []string{"1.1~flaky", "1.0"}, true},
		{"dpkg fails", "1.0", "1.2", false, RolledBack, "dpkg failed", []string{"1.0"}, true},
		{"lower", "1.2", "1.1", false, Refused, "lower than 1.2", nil, false},
		{"deliberate rollback", "1.2", "1.1", true, Installed, "", []string{"1.1"}, false},
		{"same", "1.2", "1.2", false, Refused, "", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.from)
			r.pkg.failOn = "1.2"
			if c.name == "same" || c.name == "lower" || c.name == "deliberate rollback" {
				r.pkg.failOn = ""
			}
			res := r.install(t, c.to, c.rollback)
			if res.Outcome != c.outcome || !strings.Contains(res.Reason, c.reason) {
				t.Errorf("result %+v, want %s (%q)", res, c.outcome, c.reason)
			}
			if !slices.Equal(r.pkg.installs, c.installs) {
				t.Errorf("dpkg installed %v, want %v", r.pkg.installs, c.installs)
			}
			st, _ := ReadState(r.dir)
			if st.HasFailed(c.to) != c.failed {
				t.Errorf("failed %v, want %v", st.Failed, c.failed)
			}
			r.clean(t)
			// A failed version is never taken again.
			if c.failed {
				if res := r.install(t, c.to, false); res.Outcome != Refused || !strings.Contains(res.Reason, "failed its probation") {
					t.Errorf("retried: %+v", res)
				}
			}
		})
	}
}

// An install is refused when the package is not what the feed says.
func TestInstallRefusesAnotherPackage(t *testing.T) {
	r := newRig(t, "1.0")
	fw, f := r.offer(t, "1.1", false)
	os.WriteFile(f, []byte("checkpoint 6.6.6 arm64"), 0o600)
	res, err := r.in.Install(context.Background(), fw, "gate-1", f)
	if err != nil || res.Outcome != Refused || !strings.Contains(res.Reason, "the feed says") {
		t.Fatalf("%+v, %v", res, err)
	}
	st, _ := ReadState(r.dir)
	if err := Decide(fw, "gate-1", "1.0", st, res.At.Add(time.Minute)); err == nil {
		t.Error("offered again within the hour")
	}
	if err := Decide(fw, "gate-1", "1.0", st, res.At.Add(2*time.Hour)); err != nil {
		t.Errorf("an hour later: %v", err)
	}
}

// Power cuts: an install cut short in any phase ends on one of the two
// versions; an interrupted install is tried again, MaxInterrupted times.
func TestResume(t *testing.T) {
	ctx := context.Background()
	for _, phase := range []string{phaseInstall, phaseProbation, phaseRollback} {
		t.Run(phase, func(t *testing.T) {
			r := newRig(t, "1.0")
			fw, f := r.offer(t, "1.1", false)
			cut, cancel := context.WithCancel(ctx)
			// The "power cut": the installer stops in the phase.
			r.pkg.hook = func(v string) {
				if (phase == phaseInstall && v == "1.1") || (phase == phaseRollback && v == "1.0") {
					cancel()
				}
			}
			if phase == phaseProbation {
				// The cut comes once the journal says probation (a fixed
				// 20 ms came during the install on a loaded machine).
				r.in.Probation = time.Hour
				go func() {
					for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(time.Millisecond) {
						if p, _ := ReadPending(r.dir); p != nil && p.Phase == phaseProbation {
							break
						}
					}
					cancel()
				}()
			}
			if phase == phaseRollback {
				fw, f = r.offer(t, "1.1~bad", false)
			}
			if _, err := r.in.Install(cut, fw, "gate-1", f); err == nil && phase != phaseInstall {
				t.Fatalf("the cut install finished")
			}
			r.pkg.hook = nil
			p, _ := ReadPending(r.dir)
			if p == nil || (p.Phase != phase && !(phase == phaseInstall && p.Phase == phaseInstall)) {
				t.Fatalf("journal %+v, want phase %s", p, phase)
			}
			r.in.Probation = 30 * time.Millisecond
			res, err := r.in.Resume(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{phaseInstall: RolledBack, phaseProbation: Installed, phaseRollback: RolledBack}[phase]
			if res.Outcome != want || (r.pkg.installed != "1.0" && r.pkg.installed != "1.1") {
				t.Errorf("resumed: %+v, installed %s", res, r.pkg.installed)
			}
			r.clean(t)
		})
	}
	r := newRig(t, "1.0")
	for i := 1; i <= MaxInterrupted; i++ {
		fw, f := r.offer(t, "1.1", false)
		cut, cancel := context.WithCancel(ctx)
		r.pkg.hook = func(v string) {
			if v == "1.1" {
				cancel()
			}
		}
		r.in.Install(cut, fw, "gate-1", f)
		r.pkg.hook = nil
		res, _ := r.in.Resume(ctx)
		st, _ := ReadState(r.dir)
		if st.HasFailed("1.1") != (i == MaxInterrupted) || res.Outcome != RolledBack || r.pkg.installed != "1.0" {
			t.Errorf("interruption %d: %+v, failed %v", i, res, st.Failed)
		}
	}
}

func TestDecideRollout(t *testing.T) {
	fw := format.Firmware{Package: "checkpoint", Version: "1.1", Architecture: "arm64", Rollout: 10}
	in, out := 0, 0
	for i := range 1000 {
		if Decide(fw, "gate-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "1.0", State{}, time.Now()) == nil {
			in++
		} else {
			out++
		}
	}
	if in < 50 || in > 150 {
		t.Errorf("10%% rollout admitted %d of 1000", in)
	}
}
