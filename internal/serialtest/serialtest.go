// Package serialtest is a serial barcode scanner for tests: a
// pseudo-terminal pair whose terminal side a reader opens by a fixed name
// (a symlink, as udev's /dev/serial/by-id names are), and whose other side
// the test writes what the scanner sends.
package serialtest

import (
	"os"
	"testing"

	"github.com/creack/pty"
)

// Scanner is one plugged-in scanner.
type Scanner struct {
	master *os.File
	link   string
}

// Plug makes a scanner appear at link (replacing what was there); it is
// unplugged at the end of the test. It skips the test where the machine
// has no pseudo-terminals.
func Plug(t testing.TB, link string) *Scanner {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	name := s.Name()
	s.Close() // the reader opens it by name, as a device
	os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		m.Close()
		t.Fatal(err)
	}
	sc := &Scanner{master: m, link: link}
	t.Cleanup(sc.Unplug)
	return sc
}

// Send writes what the scanner sends, such as a code and "\r\n".
func (s *Scanner) Send(t testing.TB, text string) {
	t.Helper()
	if _, err := s.master.Write([]byte(text)); err != nil {
		t.Fatalf("scanner: send: %v", err)
	}
}

// Unplug closes the scanner's side and removes its name, as a USB scanner
// pulled out. It may be called more than once.
func (s *Scanner) Unplug() {
	s.master.Close()
	os.Remove(s.link)
}
