package reader

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// DefaultBaud is the serial rate when none is configured: the usual
// default of handheld scanners in serial mode.
const DefaultBaud = 9600

// readTimeout bounds one read, so a reader notices its context ending.
const readTimeout = 200 * time.Millisecond

// serialLines reads a serial port (through go.bug.st/serial) line by line.
type serialLines struct {
	port    serial.Port
	split   lines
	pending []string
	buf     [512]byte
}

// openSerial opens a serial port at baud, 8N1.
func openSerial(path string, baud int, dropped *atomic.Uint64) (lineSource, error) {
	if baud <= 0 {
		baud = DefaultBaud
	}
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", path, err)
	}
	if err := p.SetReadTimeout(readTimeout); err != nil {
		p.Close()
		return nil, fmt.Errorf("serial port %s: set read timeout: %w", path, err)
	}
	return &serialLines{port: p, split: lines{dropped: dropped}}, nil
}

// Next returns the next line.
func (s *serialLines) Next(ctx context.Context) (string, error) {
	for len(s.pending) == 0 {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := s.port.Read(s.buf[:])
		if err != nil {
			return "", fmt.Errorf("read serial port: %w", err)
		}
		s.pending = s.split.feed(s.buf[:n], s.pending)
	}
	l := s.pending[0]
	s.pending = s.pending[1:]
	return l, nil
}

// Close closes the port.
func (s *serialLines) Close() error { return s.port.Close() }
