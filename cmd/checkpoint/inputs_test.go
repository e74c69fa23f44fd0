package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkpoint/demo"
	"checkpoint/internal/serialtest"
	"checkpoint/web"
)

// binGate is the checkpoint binary running `run --config` as a gate.
type binGate struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer // the terminal outputs
	errs *syncBuffer // the log
	web  string
	done chan struct{}
}

func startBinGate(t *testing.T, bin, cfgText, listen string) *binGate {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "gate.toml")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &binGate{t: t, cmd: exec.Command(bin, "run", "--config", cfg), out: &syncBuffer{}, errs: &syncBuffer{}, web: "http://" + listen, done: make(chan struct{})}
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.errs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		g.cmd.Process.Kill()
		<-g.done
		if t.Failed() {
			t.Logf("--- stdout:\n%s\n--- log:\n%s", tail(g.out.String(), 3000), tail(g.errs.String(), 6000))
		}
	})
	return g
}

// waitFor polls cond; it fails after waitLimit or when the gate exits.
func (g *binGate) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		select {
		case <-g.done:
			g.t.Fatalf("gate exited (%v) while waiting for %s", g.cmd.ProcessState, what)
		default:
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("no %s within %v", what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// state reads the operator screen's /state (zero when it does not answer).
func (g *binGate) state() web.State {
	var st web.State
	resp, err := http.Get(g.web + "/state")
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&st)
	return st
}

// waitTerminal waits for a terminal line after offset from that holds want.
func (g *binGate) waitTerminal(from int, want string) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("terminal line %q", want), func() bool { return strings.Contains(g.out.Since(from), want) })
}

// typeCode sends a code through the operator screen's form, as its page
// does, and returns the verdict.
func (g *binGate) typeCode(code string) web.VerdictState {
	g.t.Helper()
	req, err := http.NewRequest("POST", g.web+"/code", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Checkpoint-CSRF", g.state().CSRF)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v web.VerdictState
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		g.t.Fatalf("POST /code: %s", resp.Status)
	}
	return v
}

// TestInputsBlackBox runs the gate binary without a camera, with a serial
// scanner on a pseudo-terminal, the identity check on and direction "in",
// on a feed that lists the demo people and an SMS code: a 1405 code from
// the scanner gives its cached verdict on the terminal driver; the code
// typed in the operator screen's form gives its verdict, entered by hand;
// a CCCD and the same person's 1405 code give "same person", a CCCD and
// another person's "different person"; the screen and `events export
// --hourly` count the entries.
func TestInputsBlackBox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := checkpointBinary(t)
	f := newLoopFeed(t, binRunner(bin))
	var csv strings.Builder
	csv.WriteString("qid,code,status,valid_until\n")
	for _, r := range demoRows(t) {
		qid, rest, _ := strings.Cut(r, ",")
		fmt.Fprintf(&csv, "%s,,%s\n", qid, rest)
	}
	fmt.Fprintf(&csv, ",%s,green,2099-12-31\n", demo.TypedCode)
	f.publishCSV(t, csv.String())

	dir := t.TempDir()
	link := filepath.Join(dir, "ttyACM0")
	sc := serialtest.Plug(t, link)
	listen := freeAddr(t)
	db := filepath.Join(dir, "cache.db")
	g := startBinGate(t, bin, fmt.Sprintf(`gate = "entry-1"
direction = "in"
[camera]
source = "none"
[cache]
path = %q
[feed]
url = %q
root = %q
interval = "1s"
[policy]
cooldown = "1ms"
identity_check = true
[gpio]
driver = "terminal"
[web]
listen = %q
[scanner]
device = %q
`, db, f.URL(), f.Root(), listen, link), listen)
	g.waitFor("the first sync", func() bool { return g.state().Device.Version > 0 })
	g.waitFor("the scanner opened", func() bool { return strings.Contains(g.errs.String(), "input device open") })

	from := g.out.Len()
	sc.Send(t, demo.GreenQR+"\r\n")
	g.waitTerminal(from, "✓ GREEN")
	if vs := verdicts(g.errs.String()); len(vs) != 1 || vs[0].Format != "vn1405" || vs[0].Reasons != "status from cache" {
		t.Fatalf("scanner verdicts %+v", vs)
	}

	v := g.typeCode(demo.TypedCode)
	if v.Color != "green" || v.Format != "code" || strings.Join(v.Reasons, "; ") != "entered by hand; status from cache" || v.ReasonsVI[0] != "mã nhập tay" {
		t.Fatalf("typed code: %+v", v)
	}
	if v := g.typeCode("55554444"); v.Color != "yellow" || v.Reasons[1] != "not in cache: check manually" {
		t.Fatalf("unknown typed code: %+v", v)
	}

	// The demo CCCD is the green 1405 code's holder: scanned after it,
	// within the pair window, the same person.
	from = g.out.Len()
	sc.Send(t, demo.CCCD+"\n")
	g.waitTerminal(from, "SAME PERSON")
	if st := g.state(); st.Verdict == nil || st.Verdict.Identity != "same person" {
		t.Fatalf("screen after the pair: %+v", st.Verdict)
	}
	// The CCCD again, then another person's 1405 code: a different person.
	from = g.out.Len()
	sc.Send(t, demo.CCCD+"\n")
	g.waitTerminal(from, "✓ GREEN")
	from = g.out.Len()
	sc.Send(t, demo.RedQR+"\n")
	g.waitTerminal(from, "DIFFERENT PERSON")
	if st := g.state(); st.Verdict == nil || st.Verdict.Identity != "different person" || st.Verdict.Color != "red" {
		t.Fatalf("screen after a different person: %+v", st.Verdict)
	}

	// Entries: green 1405, two typed codes (green, yellow), two CCCDs; the
	// red different person was not let in.
	g.waitFor("today's counts", func() bool {
		c := g.state().Counts
		return c != nil && c.In == 5 && c.Out == 0 && c.Present == 5
	})
	for _, s := range []string{demo.GreenQR, demo.CCCD, demo.RedQR} {
		if strings.Contains(g.errs.String(), s) || strings.Contains(g.out.String(), strings.Split(s, "|")[0]) {
			t.Fatal("a payload or ID number reached the log")
		}
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	<-g.done

	code, out, errs := binRunner(bin)(t, "events", "export", "--since", "24h", "--hourly", "--db", db)
	if code != exitOK {
		t.Fatalf("events export: exit %d: %s", code, errs)
	}
	counts := map[string]int64{}
	sc2 := bufio.NewScanner(strings.NewReader(out))
	for sc2.Scan() {
		var h struct {
			Direction, Format, Verdict string
			Count                      int64
		}
		if err := json.Unmarshal(sc2.Bytes(), &h); err != nil {
			t.Fatal(err)
		}
		counts[h.Direction+" "+h.Format+" "+h.Verdict] += h.Count
	}
	want := map[string]int64{"in vn1405 green": 1, "in code green": 1, "in code yellow": 1, "in cccd green": 2, "in vn1405 red": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("hourly %q = %d, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
}

// TestTriggerModeIdle: in trigger mode the gate runs with its camera
// stopped until a press: no frame is read, the screen says it waits for
// the trigger, and the gate is healthy and not in fault, long past the
// stall timeout.
func TestTriggerModeIdle(t *testing.T) {
	frames := writeFrames(t, filepath.Join(t.TempDir(), "frames"), false, "")
	listen := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "gate.toml")
	text := fmt.Sprintf(`gate = "handheld"
[camera]
source = "replay"
path = %q
loop = true
fps = 30
stall_timeout = "300ms"
trigger = "keypad"
[cache]
path = %q
[gpio]
driver = "terminal"
[web]
listen = %q
[keypad]
device = "/dev/input/by-id/absent-keypad-event-kbd"
`, frames, filepath.Join(t.TempDir(), "cache.db"), listen)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg, daemonOptions{})
	d.waitFor("the operator screen", func() bool { return d.metric("checkpoint_frames_total") >= 0 })
	time.Sleep(1500 * time.Millisecond) // five stall timeouts
	if n := d.metric("checkpoint_frames_total"); n != 0 {
		t.Errorf("%v frames read before any press", n)
	}
	if m := d.idle(); m == "fault" || m == "" {
		t.Errorf("idle mode %q, want no fault (a never-synced cache is stale)", m)
	}
	g := &binGate{t: t, web: d.web}
	if c := g.state().Device.Camera; c != "paused" {
		t.Errorf("screen says camera %q, want paused", c)
	}
	resp, err := http.Get(d.web + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz %s while waiting for a press", resp.Status)
	}
	if !strings.Contains(d.errs.String(), "input device not available") {
		t.Errorf("the absent keypad is not reported:\n%s", d.logs())
	}
}
