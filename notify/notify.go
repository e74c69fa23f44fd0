// Package notify tells systemd how the daemon is doing (sd_notify): ready,
// watchdog pings, stopping and a one-line status. It wraps
// github.com/coreos/go-systemd/v22/daemon.
//
// Outside systemd (no NOTIFY_SOCKET) every method is a cheap no-op, so the
// daemon runs the same from a terminal.
package notify

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"checkpoint"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends state changes to systemd's notification socket. Its methods
// are safe for concurrent use; Heartbeat is cheap enough to call every frame.
type Notifier struct {
	enabled  bool          // NOTIFY_SOCKET was set when New ran
	interval time.Duration // systemd's WatchdogSec; 0 when the watchdog is off
	clock    checkpoint.Clock
	log      *slog.Logger
	send     func(state string) error

	nextPing atomic.Int64 // unix nanos before which Heartbeat sends nothing
	ready    atomic.Bool
	pings    atomic.Uint64
	failed   atomic.Bool // a send failed and was logged; later failures are not
	mu       sync.Mutex  // serialises sends of state changes
}

// New returns a Notifier for this process, reading NOTIFY_SOCKET,
// WATCHDOG_USEC and WATCHDOG_PID. A malformed watchdog setting is logged and
// the watchdog treated as off. logger may be nil.
func New(logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{
		clock: checkpoint.SystemClock{},
		log:   logger,
		send:  sdNotify,
	}
	// The daemon package reads the environment itself; look only to decide
	// whether anything is listening.
	n.enabled = socketSet()
	if n.enabled {
		d, err := daemon.SdWatchdogEnabled(false)
		if err != nil {
			logger.Warn("systemd watchdog setting ignored", "err", err)
		}
		n.interval = d
	}
	return n
}

// socketSet reports whether systemd gave this process a notification socket.
func socketSet() bool { return os.Getenv("NOTIFY_SOCKET") != "" }

// sdNotify sends one state datagram through the daemon package.
func sdNotify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// Enabled reports whether systemd listens for notifications.
func (n *Notifier) Enabled() bool { return n.enabled }

// WatchdogInterval is systemd's WatchdogSec for this process, 0 when the
// watchdog is off. Heartbeat pings at most every half of it.
func (n *Notifier) WatchdogInterval() time.Duration { return n.interval }

// Ready tells systemd the daemon is up (READY=1). Only the first call sends;
// call it once the camera delivered its first frame and the cache is open.
func (n *Notifier) Ready() error {
	if !n.enabled || n.ready.Swap(true) {
		return nil
	}
	return n.notify(daemon.SdNotifyReady)
}

// Heartbeat pings the watchdog (WATCHDOG=1), at most once per half watchdog
// interval. Call it from the frame loop, so a hung loop stops the pings and
// systemd restarts the daemon.
func (n *Notifier) Heartbeat() {
	if n.interval <= 0 {
		return
	}
	now := n.clock.Now().UnixNano()
	next := n.nextPing.Load()
	if now < next || !n.nextPing.CompareAndSwap(next, now+int64(n.interval/2)) {
		return
	}
	if err := n.send(daemon.SdNotifyWatchdog); err != nil {
		n.sendFailed(daemon.SdNotifyWatchdog, err)
		return
	}
	n.pings.Add(1)
}

// Pings is the number of watchdog pings sent.
func (n *Notifier) Pings() uint64 { return n.pings.Load() }

// Stopping tells systemd the daemon is shutting down (STOPPING=1).
func (n *Notifier) Stopping() error {
	if !n.enabled {
		return nil
	}
	return n.notify(daemon.SdNotifyStopping)
}

// Status sets the one-line status `systemctl status` shows (STATUS=...).
// Newlines are replaced by spaces. It must carry no personal data.
func (n *Notifier) Status(s string) error {
	if !n.enabled {
		return nil
	}
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	return n.notify("STATUS=" + s)
}

func (n *Notifier) notify(state string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.send(state); err != nil {
		n.sendFailed(state, err)
		return err
	}
	return nil
}

// sendFailed logs the first failure only: a broken socket must not flood
// the journal from the frame loop.
func (n *Notifier) sendFailed(state string, err error) {
	if n.failed.Swap(true) {
		return
	}
	n.log.Warn("systemd notification failed", "state", state, "err", err)
}
