// Package notifytest is a fake systemd notification socket for tests: a
// unixgram socket that records the datagrams a daemon sends to NOTIFY_SOCKET.
package notifytest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Socket is a listening unixgram socket standing in for systemd's.
type Socket struct {
	Path string
	conn *net.UnixConn
}

// Listen opens a socket in a fresh short directory (socket paths are limited
// to 108 bytes) and closes it when the test ends.
func Listen(t testing.TB) *Socket {
	t.Helper()
	dir, err := os.MkdirTemp("", "notify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Socket{Path: path, conn: conn}
}

// Next waits for the next datagram. The timeout only keeps a broken test from
// hanging; it is not an assertion about speed.
func (s *Socket) Next(timeout time.Duration) (string, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	n, err := s.conn.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// Pending returns the datagrams already queued, without waiting. A datagram
// sent before the call returned is always among them: sendto on a unixgram
// socket queues it at the receiver before returning.
func (s *Socket) Pending() ([]string, error) {
	if err := s.conn.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		buf := make([]byte, 4096)
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true // never wait for readiness
		})
		if err != nil {
			return out, err
		}
		if errors.Is(rerr, syscall.EAGAIN) {
			return out, nil
		}
		if rerr != nil {
			return out, rerr
		}
		out = append(out, string(buf[:n]))
	}
}

// Close stops listening; later sends to Path fail.
func (s *Socket) Close() error { return s.conn.Close() }
