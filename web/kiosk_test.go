package web

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The kiosk files live in ../systemd; these tests keep them working.

func TestKioskWait(t *testing.T) {
	script, err := filepath.Abs("../systemd/checkpoint-kiosk-wait")
	if err != nil {
		t.Fatal(err)
	}
	run := func(url string) (string, error) {
		cmd := exec.Command(script, url)
		cmd.Env = append(os.Environ(), "CHECKPOINT_KIOSK_WAIT=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}
	listen := func(network, addr string) net.Listener {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}

	ln := listen("tcp4", "127.0.0.1:0")
	if ln == nil {
		t.Fatal("cannot listen on 127.0.0.1")
	}
	up := "http://" + ln.Addr().String() + "/?token=x"
	if msg, err := run(up); err != nil || msg != "" {
		t.Errorf("wait for %s (listening) = %v %q, want at once and quiet", up, err, msg)
	}
	if ln6 := listen("tcp6", "[::1]:0"); ln6 != nil {
		up6 := "http://" + ln6.Addr().String() + "/"
		if msg, err := run(up6); err != nil || msg != "" {
			t.Errorf("wait for %s (listening) = %v %q", up6, err, msg)
		}
	}
	closed := listen("tcp4", "127.0.0.1:0")
	down := "http://" + closed.Addr().String() + "/"
	closed.Close()
	msg, err := run(down)
	if err != nil || !strings.Contains(msg, "not answering after 1s; starting anyway") {
		t.Errorf("wait for %s (closed) = %v %q, want exit 0 with a note", down, err, msg)
	}
}

// TestKioskUnitVerifies runs systemd-analyze verify on the kiosk unit in a
// test root with stand-ins for cage, chromium and the wait helper.
func TestKioskUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze missing and CI is set (make deps installs systemd)")
		}
		t.Skip("systemd-analyze not found: install systemd (make deps)")
	}
	unit, err := os.ReadFile("../systemd/checkpoint-kiosk.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=/usr/bin/cage -- /usr/bin/chromium --kiosk",
		"Environment=CHECKPOINT_KIOSK_URL=http://127.0.0.1:8080/",
		"User=checkpoint-kiosk",
	} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("kiosk unit lacks %q", want)
		}
	}
	sysusers, err := os.ReadFile("../systemd/checkpoint-kiosk.sysusers")
	if err != nil || !bytes.Contains(sysusers, []byte("u checkpoint-kiosk ")) {
		t.Errorf("checkpoint-kiosk.sysusers does not create the kiosk user: %v", err)
	}

	root := t.TempDir()
	unitDir := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The host's units, so verify resolves the targets the unit names.
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system/.", unitDir).CombinedOutput(); err != nil {
		t.Fatalf("copy host units: %v %s", err, out)
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if err := os.WriteFile(filepath.Join(unitDir, "checkpoint-kiosk.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func() (string, error) {
		out, err := exec.Command(analyze, "verify", "--root="+root, filepath.Join(unitDir, "checkpoint-kiosk.service")).CombinedOutput()
		return string(out), err
	}
	// Without the programs it names, verify must fail: the check can fail.
	if out, err := verify(); err == nil && out == "" {
		t.Fatal("verify passed without cage and chromium installed")
	}
	for _, p := range []string{"usr/bin/cage", "usr/bin/chromium", "usr/lib/checkpoint/checkpoint-kiosk-wait"} {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := verify(); err != nil || out != "" {
		t.Errorf("systemd-analyze verify checkpoint-kiosk.service: %v\n%s", err, out)
	}
}
