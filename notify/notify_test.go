package notify

import (
	"bytes"
	"checkpoint/clocktest"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"checkpoint/notify/notifytest"
)

// systemdEnv sets what systemd gives a Type=notify service with WatchdogSec.
func systemdEnv(t *testing.T, sock string, watchdog time.Duration) {
	t.Helper()
	t.Setenv("NOTIFY_SOCKET", sock)
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
		t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	} else {
		t.Setenv("WATCHDOG_USEC", "")
		t.Setenv("WATCHDOG_PID", "")
	}
}

func pending(t *testing.T, s *notifytest.Socket) []string {
	t.Helper()
	got, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestNoSocketIsNoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := New(nil)
	if n.Enabled() {
		t.Error("Enabled() = true without NOTIFY_SOCKET")
	}
	if d := n.WatchdogInterval(); d != 0 {
		t.Errorf("WatchdogInterval() = %v without NOTIFY_SOCKET, want 0", d)
	}
	for name, f := range map[string]func() error{
		"Ready": n.Ready, "Stopping": n.Stopping, "Status": func() error { return n.Status("x") },
	} {
		if err := f(); err != nil {
			t.Errorf("%s without NOTIFY_SOCKET: %v", name, err)
		}
	}
	n.Heartbeat()
	if p := n.Pings(); p != 0 {
		t.Errorf("Pings() = %d without NOTIFY_SOCKET", p)
	}
}

func TestStateMessages(t *testing.T) {
	sock := notifytest.Listen(t)
	systemdEnv(t, sock.Path, 0)
	n := New(nil)
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	steps := []struct {
		call func() error
		want []string
	}{
		{func() error { return n.Status("starting camera") }, []string{"STATUS=starting camera"}},
		{n.Ready, []string{"READY=1"}},
		{n.Ready, nil}, // only the first Ready sends
		{func() error { return n.Status("line one\nline two") }, []string{"STATUS=line one line two"}},
		{n.Stopping, []string{"STOPPING=1"}},
	}
	for i, st := range steps {
		if err := st.call(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := pending(t, sock); !slices.Equal(got, st.want) {
			t.Errorf("step %d: sent %q, want %q", i, got, st.want)
		}
	}
}

func TestHeartbeatRateLimit(t *testing.T) {
	sock := notifytest.Listen(t)
	systemdEnv(t, sock.Path, 10*time.Second)
	n := New(nil)
	if d := n.WatchdogInterval(); d != 10*time.Second {
		t.Fatalf("WatchdogInterval() = %v, want 10s", d)
	}
	clk := clocktest.New(time.Date(2021, 9, 1, 8, 0, 0, 0, time.UTC))
	n.clock = clk
	t0 := clk.Now()
	// Heartbeat is called every frame; a ping goes out at most every 5 s.
	for _, st := range []struct {
		at   time.Duration
		ping bool
	}{
		{0, true},
		{100 * time.Millisecond, false},
		{4999 * time.Millisecond, false},
		{5 * time.Second, true},
		{5100 * time.Millisecond, false},
		{12 * time.Second, true},
		{16 * time.Second, false},
		{17 * time.Second, true},
	} {
		clk.Set(t0.Add(st.at))
		n.Heartbeat()
		got := pending(t, sock)
		var want []string
		if st.ping {
			want = []string{"WATCHDOG=1"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Heartbeat at +%v sent %q, want %q", st.at, got, want)
		}
	}
	if p := n.Pings(); p != 4 {
		t.Errorf("Pings() = %d, want 4", p)
	}
}

func TestWatchdogSettings(t *testing.T) {
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		warn            bool
	}{
		{"off", "", "", 0, false},
		{"on", "30000000", "self", 30 * time.Second, false},
		{"on without pid", "2000000", "", 2 * time.Second, false},
		{"another process's", "30000000", "1", 0, false},
		{"malformed", "thirty", "self", 0, true},
		{"negative", "-5", "self", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := notifytest.Listen(t)
			t.Setenv("NOTIFY_SOCKET", sock.Path)
			t.Setenv("WATCHDOG_USEC", tc.usec)
			if tc.pid == "self" {
				tc.pid = strconv.Itoa(os.Getpid())
			}
			t.Setenv("WATCHDOG_PID", tc.pid)
			var logs bytes.Buffer
			n := New(slog.New(slog.NewTextHandler(&logs, nil)))
			if d := n.WatchdogInterval(); d != tc.want {
				t.Errorf("WatchdogInterval() = %v, want %v", d, tc.want)
			}
			if warned := strings.Contains(logs.String(), "watchdog setting ignored"); warned != tc.warn {
				t.Errorf("warning logged = %v, want %v; log: %s", warned, tc.warn, logs.String())
			}
			n.Heartbeat()
			got := pending(t, sock)
			if wantPing := tc.want > 0; (len(got) == 1) != wantPing {
				t.Errorf("Heartbeat sent %q, want a ping: %v", got, wantPing)
			}
		})
	}
}

func TestSocketGone(t *testing.T) {
	sock := notifytest.Listen(t)
	systemdEnv(t, sock.Path, time.Second)
	var logs bytes.Buffer
	n := New(slog.New(slog.NewTextHandler(&logs, nil)))
	clk := clocktest.New(time.Unix(1e9, 0))
	n.clock = clk
	if err := sock.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Ready(); err == nil {
		t.Error("Ready() with the socket gone returned no error")
	}
	for i := 0; i < 5; i++ {
		clk.Add(time.Second)
		n.Heartbeat()
	}
	if p := n.Pings(); p != 0 {
		t.Errorf("Pings() = %d with the socket gone", p)
	}
	if c := strings.Count(logs.String(), "systemd notification failed"); c != 1 {
		t.Errorf("failure logged %d times, want once; log:\n%s", c, logs.String())
	}
}
