package update

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
)

// fakePkg is a Packager over an in-memory "installed" version: a package
// file holds "name version arch".
type fakePkg struct {
	mu        sync.Mutex
	installed string
	installs  []string // versions installed, in order
	failOn    string   // Install of this version fails
	hook      func(version string)
}

var _ Packager = (*fakePkg)(nil)

func (f *fakePkg) Installed(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.installed, nil
}

func (f *fakePkg) Install(ctx context.Context, file string) error {
	_, v, _, err := f.Inspect(ctx, file)
	if err != nil {
		return err
	}
	if f.hook != nil {
		f.hook(v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		// Killed in the middle: dpkg leaves the package half installed.
		f.installed = "half-installed"
		return ctx.Err()
	}
	if v == f.failOn {
		return errors.New("dpkg: error processing package")
	}
	f.installed = v
	f.installs = append(f.installs, v)
	return nil
}

func (f *fakePkg) Save(_ context.Context, dst string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return os.WriteFile(dst, []byte("checkpoint "+f.installed+" arm64"), 0o600)
}

func (f *fakePkg) Inspect(_ context.Context, file string) (string, string, string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", "", err
	}
	p := strings.Fields(string(b))
	if len(p) != 3 {
		return "", "", "", errors.New("not a package")
	}
	return p[0], p[1], p[2], nil
}

// fakeService runs the installed version: one whose name contains "bad"
// exits at start (restarted again and again), "flaky" stops after a while
// (on its third look), any other stays up. Each install starts it anew,
// as dpkg's postinst does.
type fakeService struct {
	pkg      *fakePkg
	mu       sync.Mutex
	pid      int
	restarts int
	looks    int
	seen     int // installs seen
}

var _ Service = (*fakeService)(nil)

func (s *fakeService) Restart(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pid++
	s.looks = 0
	return nil
}

func (s *fakeService) Status(context.Context) (ServiceStatus, error) {
	s.pkg.mu.Lock()
	v, n := s.pkg.installed, len(s.pkg.installs)
	s.pkg.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n != s.seen {
		s.seen, s.pid, s.looks = n, s.pid+1, 0
	}
	s.looks++
	switch {
	case strings.Contains(v, "bad"):
		s.restarts++
		return ServiceStatus{State: "activating/auto-restart (exit-code, exit status 1)", Restarts: s.restarts}, nil
	case strings.Contains(v, "flaky") && s.looks > 3:
		s.restarts++
		s.pid++
		return ServiceStatus{Active: true, State: "active/running", PID: s.pid, Restarts: s.restarts}, nil
	}
	return ServiceStatus{Active: true, State: "active/running", PID: s.pid, Restarts: s.restarts}, nil
}
