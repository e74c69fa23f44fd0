package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/config"
	"checkpoint/feed/format"
	"checkpoint/web"
)

// binRun runs the real binary with a deadline and returns its output; a
// status other than want fails the test.
func binRun(t *testing.T, bin string, want int, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if code != want {
		t.Fatalf("checkpoint %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errs.String())
	}
	return out.String(), errs.String()
}

// scanVerdicts scans payload text files with a gate's config and returns
// each QID's verdict and reasons.
func scanVerdicts(t *testing.T, bin, cfg string, payloads []string) map[string]scanCode {
	t.Helper()
	out, _ := binRun(t, bin, 0, append([]string{"scan", "--json", "--text", "--config", cfg}, payloads...)...)
	got := map[string]scanCode{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r scanResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("scan output %q: %v", sc.Text(), err)
		}
		for _, c := range r.Codes {
			got[strings.Split(c.Text, "|")[4]] = c
		}
	}
	return got
}

func writeFile0600(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSiteGatesBlackBox (issue 19): through the real binary, the authority
// makes its feed and a site, the site signs its list of workers, the
// authority publishes; a gate of that site syncing over HTTP and another
// syncing from an exported folder (a stick) let the listed worker through
// and stop an unlisted person the nation rates green, "not on this site's
// list"; before its first sync a gate requiring the list is stale.
func TestSiteGatesBlackBox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := checkpointBinary(t)
	dir := t.TempDir()
	fd := filepath.Join(dir, "authority")
	binRun(t, bin, 0, "feed", "init", fd)
	out, _ := binRun(t, bin, 0, "feed", "site", "init", fd, "factory-7")
	if !strings.Contains(out, "site.pem") {
		t.Errorf("site init does not say where the key is: %q", out)
	}
	people := writeFile0600(t, filepath.Join(dir, "workers.csv"), "\ufeffqid,until\r\nQLISTED0001,\r\nQENDED00002,2021-01-01\r\n")
	out, _ = binRun(t, bin, 0, "feed", "site", "publish", fd, "factory-7", "--people", people)
	if !strings.Contains(out, "version 2, 2 people") {
		t.Errorf("site publish: %q", out)
	}
	national := writeFile0600(t, filepath.Join(dir, "national.csv"), "qid,status,valid_until\nQLISTED0001,green,\nQUNLISTED02,green,\nQENDED00002,green,\nQREDLIST003,red,\n")
	binRun(t, bin, 0, "feed", "publish", fd, "--statuses", national)
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(fd, "repo"))))
	defer srv.Close()
	root := filepath.Join(fd, "repo", "root.json")
	gate := func(name, url string) string {
		feedURL := ""
		if url != "" {
			feedURL = fmt.Sprintf("url = %q\n", url)
		}
		return writeFile0600(t, filepath.Join(dir, name, "gate.toml"), fmt.Sprintf(
			"gate = %q\nsite = \"factory-7\"\n[cache]\npath = %q\n[feed]\n%sroot = %q\n[policy]\nsite_list = \"require\"\n",
			name, filepath.Join(dir, name, "cache.db"), feedURL, root))
	}
	var codes []string
	for _, q := range []string{"QLISTED0001", "QUNLISTED02", "QENDED00002", "QREDLIST003"} {
		codes = append(codes, writeFile0600(t, filepath.Join(dir, "codes", q+".txt"), "******012345|NGUYEN VAN AN|1990-05-17|0|"+q+"|"))
	}

	httpGate := gate("http-gate", srv.URL)
	before := scanVerdicts(t, bin, httpGate, codes)
	if c := before["QLISTED0001"]; c.Verdict != "yellow" || !slices.Contains(c.Reasons, "site list missing or expired") {
		t.Errorf("before the first sync: %+v, want yellow, site list missing", c)
	}
	_, errs := binRun(t, bin, 0, "sync", "--once", "--config", httpGate)
	if !strings.Contains(errs, "site_list=2") {
		t.Errorf("sync over HTTP did not apply the site list: %s", errs)
	}
	stick := filepath.Join(dir, "stick", "feed")
	binRun(t, bin, 0, "feed", "export", fd, stick)
	dirGate := gate("stick-gate", "")
	_, errs = binRun(t, bin, 0, "sync", "--once", "--from", stick, "--config", dirGate)
	if !strings.Contains(errs, "source=directory") || !strings.Contains(errs, "site_list=2") {
		t.Errorf("sync from the folder: %s", errs)
	}
	for _, cfg := range []string{httpGate, dirGate} {
		got := scanVerdicts(t, bin, cfg, codes)
		for qid, want := range map[string]struct{ verdict, reason string }{
			"QLISTED0001": {"green", "status from cache"},
			"QUNLISTED02": {"red", "not on this site's list"},
			"QENDED00002": {"red", "not on this site's list"},
			"QREDLIST003": {"red", "status from cache"},
		} {
			if c := got[qid]; c.Verdict != want.verdict || !slices.Contains(c.Reasons, want.reason) {
				t.Errorf("%s: %s: %s %q, want %s with %q", filepath.Base(filepath.Dir(cfg)), qid, c.Verdict, c.Reasons, want.verdict, want.reason)
			}
		}
	}
	// Older than the gate's feed: the stick is refused.
	old := filepath.Join(dir, "old-stick")
	binRun(t, bin, 0, "feed", "export", fd, old)
	binRun(t, bin, 0, "feed", "publish", fd, "--statuses", national)
	binRun(t, bin, 0, "sync", "--once", "--config", httpGate)
	_, errs = binRun(t, bin, exitFail, "sync", "--once", "--from", old, "--config", httpGate)
	if !strings.Contains(errs, "kind=rollback") {
		t.Errorf("an older stick: %s", errs)
	}
}

// TestSiteKitOnAnotherMachine: the exchange between a site that publishes
// on its own machine and the authority, through the binary.
func TestSiteKitOnAnotherMachine(t *testing.T) {
	dir := t.TempDir()
	fd := filepath.Join(dir, "authority")
	for _, args := range [][]string{{"feed", "init", fd}, {"feed", "site", "init", fd, "shop"}} {
		if code, _, errs := runCmd(t, args...); code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
	if code, _, errs := runCmd(t, "feed", "site", "init", fd, "shop"); code != exitFail || !strings.Contains(errs, "already") {
		t.Errorf("site init twice: %d %q", code, errs)
	}
	// The kit goes to the site; the authority keeps no key.
	site := filepath.Join(dir, "shop-laptop")
	copyDir(t, filepath.Join(fd, "sites", "shop"), filepath.Join(site, "sites", "shop"))
	key := filepath.Join(dir, "usb", "shop.pem")
	os.MkdirAll(filepath.Dir(key), 0o700)
	if err := os.Rename(filepath.Join(site, "sites", "shop", "site.pem"), key); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(fd, "sites", "shop", "site.pem"))
	people := writeFile0600(t, filepath.Join(site, "people.csv"), "cccd\n079201001234\nQW1\n")
	code, out, errs := runCmd(t, "feed", "site", "publish", site, "shop", "--people", people, "--key", key)
	if code != exitOK {
		t.Fatalf("site publish on the site's machine: %d %s", code, errs)
	}
	var files []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.TrimSpace(l); strings.HasPrefix(f, site) {
			files = append(files, f)
		}
	}
	if len(files) != 2 {
		t.Fatalf("files to send: %q", out)
	}
	if code, out, errs := runCmd(t, append([]string{"feed", "site", "import", fd}, files...)...); code != exitOK || !strings.Contains(out, "site shop: list version 2 (2 people") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCmd(t, append([]string{"feed", "site", "import", fd}, files...)...); code != exitFail || !strings.Contains(errs, "rollback") {
		t.Errorf("import again: %d %q", code, errs)
	}
	bad := writeFile0600(t, filepath.Join(site, "bad.csv"), "QW1,green\n")
	if code, _, errs := runCmd(t, "feed", "site", "publish", site, "shop", "--people", bad, "--key", key); code != exitFail || !strings.Contains(errs, "a site list carries no status") {
		t.Errorf("a list with statuses: %d %q", code, errs)
	}
	national := writeFile0600(t, filepath.Join(dir, "n.csv"), "QW1,green,\n")
	if code, _, errs := runCmd(t, "feed", "publish", fd, "--statuses", national); code != exitOK {
		t.Fatalf("publish: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(fd, "repo", "2.site-shop.json")); err != nil {
		t.Errorf("the imported role is not served: %v", err)
	}
	for _, args := range [][]string{{"feed", "site", "--help"}, {"feed", "site", "publish", "--help"}, {"feed", "export", "--help"}} {
		if code, out, _ := runCmd(t, args...); code != exitOK || !strings.Contains(out, "usage: checkpoint feed") {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}
	if code, _, _ := runCmd(t, "feed", "site", "publish", fd, "shop"); code != exitUsage {
		t.Errorf("site publish without --people: exit %d", code)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, rel), b, 0o600)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSiteNamesAgree: config's check of `site` is the feed's.
func TestSiteNamesAgree(t *testing.T) {
	for _, name := range []string{"a", "factory-7", "-a", "A", "a_b", "a.b", "a*", strings.Repeat("x", 32), strings.Repeat("x", 33), "0"} {
		_, cerr := config.Parse("t.toml", []byte(fmt.Sprintf("site = %q\n", name)))
		ferr := format.CheckSiteName(name)
		if (cerr == nil) != (ferr == nil) {
			t.Errorf("site %q: config %v, feed %v", name, cerr, ferr)
		}
	}
}

// TestDaemonTakesStick: SIGUSR1 (sent by checkpoint-stick@.service once
// the stick is mounted) makes the daemon sync from feed.stick: the
// stick-taken pattern, the operator screen's note; a stick older than the
// gate's feed gets the stick-refused pattern and the cache stays. The gate
// requires its site's list: fresh statuses without the list still blink
// stale; with it, the gate is ready.
func TestDaemonTakesStick(t *testing.T) {
	dir := t.TempDir()
	f := newLoopFeed(t, runCmd)
	f.publish(t, []string{"QA,green,"})
	for _, args := range [][]string{{"feed", "site", "init", f.dir, "gate-site"}, {"feed", "refresh", f.dir}} {
		if code, _, errs := runCmd(t, args...); code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
	stick := filepath.Join(dir, "stick", "feed")
	if code, _, errs := runCmd(t, "feed", "export", f.dir, stick); code != exitOK {
		t.Fatalf("export: %d %s", code, errs)
	}
	old := filepath.Join(dir, "old")
	copyDir(t, stick, old)
	frames := writeFrames(t, filepath.Join(dir, "frames"), false, "")
	listen := freeAddr(t)
	cfg := writeFile0600(t, filepath.Join(dir, "gate.toml"), fmt.Sprintf(
		"gate = \"stick\"\nsite = \"gate-site\"\n[camera]\nsource = \"replay\"\npath = %q\nloop = true\nfps = 5\n[decode]\nworkers = 1\n[cache]\npath = %q\n"+
			"[feed]\nroot = %q\nstick = %q\n[policy]\nsite_list = \"require\"\n[gpio]\ndriver = \"terminal\"\n[web]\nlisten = %q\n",
		frames, filepath.Join(dir, "cache.db"), f.Root(), stick, listen))
	d := startDaemon(t, cfg, daemonOptions{})
	d.waitFor("the operator screen", func() bool { return d.state(t) != nil })
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	d.waitFor("the stick's sync", func() bool { return strings.Contains(d.logs(), "source=directory") })
	d.waitFor("the stick-taken pattern", func() bool { return strings.Contains(d.out.String(), "STICK TAKEN") })
	d.waitFor("the stick on the screen", func() bool {
		st := d.state(t)
		return st != nil && strings.Contains(st.Device.Stick, "taken, v1")
	})
	// The idle mode is decided every second: two of them after the sync,
	// the statuses fresh, the list missing.
	settled := time.Now().Add(2 * time.Second)
	d.waitFor("two idle checks", func() bool { return time.Now().After(settled) })
	if st := d.state(t); d.idle() != "stale" || st.Device.Stale {
		t.Errorf("idle %q, cache stale %v; want the stale blink from the missing list, the cache fresh", d.idle(), st.Device.Stale)
	}
	// The site's list and a newer version over the stick, then the old stick again.
	people := writeFile0600(t, filepath.Join(dir, "people.csv"), "QA\n")
	if code, _, errs := runCmd(t, "feed", "site", "publish", f.dir, "gate-site", "--people", people); code != exitOK {
		t.Fatalf("site publish: %d %s", code, errs)
	}
	f.publish(t, []string{"QA,red,"})
	os.RemoveAll(stick)
	runCmd(t, "feed", "export", f.dir, stick)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	d.waitFor("version 2 from the stick", func() bool { st := d.state(t); return st != nil && strings.Contains(st.Device.Stick, "v2") })
	d.waitFor("the gate ready with its site's list", func() bool { return d.idle() == "ready" })
	os.RemoveAll(stick)
	copyDir(t, old, stick)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	d.waitFor("the stick-refused pattern", func() bool { return strings.Contains(d.out.String(), "STICK REFUSED") })
	d.waitFor("the refusal on the screen", func() bool {
		st := d.state(t)
		return st != nil && strings.Contains(st.Device.Stick, "older than the gate's feed")
	})
	if st := d.state(t); st.Device.Version != 2 {
		t.Errorf("version %d after the old stick, want 2", st.Device.Version)
	}
}

// state reads the operator screen's /state (nil while it does not answer).
func (d *daemonRun) state(t *testing.T) *web.State {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(d.web + "/state")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st web.State
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	return &st
}
