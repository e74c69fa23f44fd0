package reader

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kenshaw/evdev"

	"checkpoint"
	"checkpoint/internal/serialtest"
)

// waitLimit guards every wait against a hung test; it is no speed assertion.
const waitLimit = 20 * time.Second

// collector is a Submit that keeps the symbols.
type collector struct {
	mu   sync.Mutex
	syms []checkpoint.Symbol
}

func (c *collector) submit(_ context.Context, s checkpoint.Symbol) (checkpoint.Event, bool) {
	c.mu.Lock()
	c.syms = append(c.syms, s)
	c.mu.Unlock()
	return checkpoint.Event{}, true
}

// wait returns the first n symbols once they have come.
func (c *collector) wait(t *testing.T, n int) []checkpoint.Symbol {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		c.mu.Lock()
		got := slices.Clone(c.syms)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d symbols within %v, want %d: %+v", len(got), waitLimit, n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLines(t *testing.T) {
	long := string(make([]byte, MaxLine+1))
	tests := []struct {
		name string
		in   []string // chunks as they arrive
		want []string
	}{
		{"LF", []string{"a|b\nc\n"}, []string{"a|b", "c"}},
		{"CR LF split across reads", []string{"abc\r", "\ndef\r\n"}, []string{"abc", "def"}},
		{"CR alone", []string{"x\ry\r"}, []string{"x", "y"}},
		{"blank line", []string{"\n\n"}, []string{"", ""}},
		{"unterminated", []string{"abc"}, nil},
		{"too long, dropped whole", []string{long, "tail\nok\n"}, []string{"ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lines{}
			var got []string
			for _, c := range tt.in {
				got = l.feed([]byte(c), got)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSerialScanner: codes sent on a serial line arrive as scanner
// symbols; a scanner unplugged and plugged back is read again.
func TestSerialScanner(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyACM0")
	sc := serialtest.Plug(t, link)
	r := New(Options{Device: link, Retry: 20 * time.Millisecond})
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, c.submit) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitOpens(t, r, 1)
	payload := "******123456|NGUYEN VAN A|1990-01-01|0|7f3a9c2e5b8d1046|"
	sc.Send(t, payload+"\r\n")
	got := c.wait(t, 1)
	if got[0].Text != payload || got[0].Input != checkpoint.InputScanner {
		t.Fatalf("got %+v", got[0])
	}

	sc.Unplug()
	sc = serialtest.Plug(t, link)
	waitOpens(t, r, 2)
	sc.Send(t, "second\n")
	if got := c.wait(t, 2); got[1].Text != "second" {
		t.Fatalf("after replug: %q", got[1].Text)
	}
}

func waitOpens(t *testing.T, r *Reader, n uint64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for r.Stats().Opens < n {
		if time.Now().After(deadline) {
			t.Fatalf("device opened %d times, want %d", r.Stats().Opens, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorded types text as a keyboard's evdev events (key down and up, shift
// around capitals and symbols, SYN after each), in the kernel's binary
// format for this machine.
func recorded(t *testing.T, text string, enter evdev.KeyType) []byte {
	t.Helper()
	var evs []evdev.Event
	key := func(k evdev.KeyType, v int32) {
		evs = append(evs, evdev.Event{Type: evdev.EventKey, Code: uint16(k), Value: v}, evdev.Event{Type: evdev.EventSync})
	}
	for i := 0; i < len(text); i++ {
		k, shift := keyFor(t, text[i])
		if shift {
			key(evdev.KeyLeftShift, keyDown)
		}
		key(k, keyDown)
		key(k, keyUp)
		if shift {
			key(evdev.KeyLeftShift, keyUp)
		}
	}
	key(enter, keyDown)
	key(enter, keyUp)
	b, err := binaryEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func binaryEvents(evs []evdev.Event) ([]byte, error) {
	var buf []byte
	for _, e := range evs {
		var err error
		buf, err = binary.Append(buf, binary.NativeEndian, e)
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// keyFor finds the key (and shift) that types c on the US layout.
func keyFor(t *testing.T, c byte) (evdev.KeyType, bool) {
	for k := evdev.Key1; k <= evdev.KeySlash; k++ {
		for _, shift := range []bool{false, true} {
			if usLayout(k, shift, false) == c {
				return k, shift
			}
		}
	}
	if c == ' ' {
		return evdev.KeySpace, false
	}
	t.Fatalf("no US key types %q", c)
	return 0, false
}

// TestKeyboardRecorded: a keyboard-wedge scanner's recorded events (a
// named pipe stands in for the device, which this machine's kernel cannot
// make: no uinput) type the payload on the US layout.
func TestKeyboardRecorded(t *testing.T) {
	payload := "******123456|TRAN THI B|1985-**-**|1|c41d07e9a2b35f68|"
	var c collector
	runRecorded(t, Options{Keyboard: true}, &c, recorded(t, payload, evdev.KeyEnter))
	if got := c.wait(t, 1); got[0].Text != payload || got[0].Input != checkpoint.InputScanner {
		t.Fatalf("typed %+v, want %q from the scanner", got[0], payload)
	}
}

// TestKeypadRecorded: a keypad's digits and Enter are a typed code; Enter
// on nothing typed is the trigger.
func TestKeypadRecorded(t *testing.T) {
	var c collector
	presses := make(chan struct{}, 4)
	stream := append(recorded(t, "", evdev.KeyKeypadEnter), recorded(t, "48213390", evdev.KeyKeypadEnter)...)
	runRecorded(t, Options{Keyboard: true, Input: checkpoint.InputTyped, Empty: func() { presses <- struct{}{} }}, &c, stream)
	if got := c.wait(t, 1); got[0].Text != "48213390" || got[0].Input != checkpoint.InputTyped {
		t.Fatalf("typed %+v", got[0])
	}
	select {
	case <-presses:
	case <-time.After(waitLimit):
		t.Fatal("Enter on nothing typed did not trigger")
	}
}

// runRecorded runs a keyboard reader on a named pipe (standing in for the
// device, which this machine's kernel cannot make: no uinput) fed with a
// recorded event stream, until the test ends.
func runRecorded(t *testing.T, opts Options, c *collector, stream []byte) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "event-kbd")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Device, opts.Retry = fifo, 20*time.Millisecond
	r := New(opts)
	r.open = func() (lineSource, error) { return openEvents(fifo, false, &r.stats.dropped) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, c.submit) }()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); cancel(); <-done })
	if _, err := w.Write(stream); err != nil {
		t.Fatal(err)
	}
}

func TestKeys(t *testing.T) {
	type ev struct {
		k evdev.KeyType
		v int32
	}
	down := func(ks ...evdev.KeyType) []ev {
		var out []ev
		for _, k := range ks {
			out = append(out, ev{k, keyDown}, ev{k, keyUp})
		}
		return out
	}
	tests := []struct {
		name string
		evs  []ev
		want []string
	}{
		{"keypad digits", down(evdev.KeyKeypad4, evdev.KeyKeypad8, evdev.KeyKeypad0, evdev.KeyKeypadEnter), []string{"480"}},
		{"backspace and escape", down(evdev.Key1, evdev.Key2, evdev.KeyBackSpace, evdev.Key3, evdev.KeyEnter, evdev.Key9, evdev.KeyEscape, evdev.Key7, evdev.KeyEnter), []string{"13", "7"}},
		{"caps lock", down(evdev.KeyCapsLock, evdev.KeyA, evdev.Key1, evdev.KeyEnter), []string{"A1"}},
		{"repeats are not typed", append([]ev{{evdev.Key5, keyDown}, {evdev.Key5, keyRepeat}, {evdev.Key5, keyUp}}, down(evdev.KeyEnter)...), []string{"5"}},
		{"empty Enter", down(evdev.KeyEnter), []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var k keys
			var got []string
			for _, e := range tt.evs {
				if l, ok := k.key(e.k, e.v); ok {
					got = append(got, l)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
