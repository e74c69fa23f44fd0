package reader

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/kenshaw/evdev"
)

// keyboardLines reads an evdev keyboard and types its keys on the US
// layout into lines ended by Enter. kenshaw/evdev grabs the device; the
// events are read here with encoding/binary (its Poll converts pointers in
// a way the race detector's pointer checks refuse).
type keyboardLines struct {
	f       *os.File
	dev     *evdev.Evdev
	buf     []byte
	keys    keys
	pending []string
	once    sync.Once
}

// eventSize is the size of one kernel input event on this machine.
var eventSize = binary.Size(evdev.Event{})

// openKeyboard opens an evdev device and grabs it, so its keys reach no
// console or other program while the daemon reads them.
func openKeyboard(path string, dropped *atomic.Uint64) (lineSource, error) {
	return openEvents(path, true, dropped)
}

// openEvents opens an evdev event stream, grabbing the device when grab is
// set (a recorded stream in a pipe cannot be grabbed).
func openEvents(path string, grab bool, dropped *atomic.Uint64) (lineSource, error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open input device %s: %w", path, err)
	}
	dev := evdev.Open(f)
	if grab {
		if err := dev.Lock(); err != nil {
			f.Close()
			return nil, fmt.Errorf("input device %s: grab it exclusively (is it an evdev keyboard under /dev/input, not in use by another program?): %w", path, err)
		}
	}
	return &keyboardLines{f: f, dev: dev, buf: make([]byte, 64*eventSize), keys: keys{dropped: dropped}}, nil
}

// Next returns the next line typed. Closing the device ends a Next that
// waits.
func (k *keyboardLines) Next(ctx context.Context) (string, error) {
	for len(k.pending) == 0 {
		n, err := io.ReadAtLeast(k.f, k.buf, eventSize)
		if err != nil {
			return "", fmt.Errorf("read input device: %w", err)
		}
		n -= n % eventSize // the kernel writes whole events
		evs := make([]evdev.Event, n/eventSize)
		if err := binary.Read(bytes.NewReader(k.buf[:n]), binary.NativeEndian, evs); err != nil {
			return "", fmt.Errorf("read input device: %w", err)
		}
		for _, ev := range evs {
			if ev.Type != evdev.EventKey {
				continue
			}
			if l, done := k.keys.key(evdev.KeyType(ev.Code), ev.Value); done {
				k.pending = append(k.pending, l)
			}
		}
	}
	l := k.pending[0]
	k.pending = k.pending[1:]
	return l, nil
}

// Close releases the grab and closes the device; it may be called from
// another goroutine to end a waiting Next, and more than once.
func (k *keyboardLines) Close() error {
	var err error
	k.once.Do(func() {
		k.dev.Unlock()
		err = k.f.Close()
	})
	return err
}

// Key values of an evdev key event.
const (
	keyUp     = 0
	keyDown   = 1
	keyRepeat = 2
)

// keys types key events on the US layout.
type keys struct {
	buf      []byte
	lshift   bool
	rshift   bool
	caps     bool
	overflow bool
	dropped  *atomic.Uint64
}

// key handles one key event; it returns a line when Enter ends one.
func (k *keys) key(code evdev.KeyType, value int32) (string, bool) {
	switch code {
	case evdev.KeyLeftShift:
		k.lshift = value != keyUp
		return "", false
	case evdev.KeyRightShift:
		k.rshift = value != keyUp
		return "", false
	}
	if value != keyDown {
		return "", false // releases; held keys repeating are not typing
	}
	switch code {
	case evdev.KeyCapsLock:
		k.caps = !k.caps
	case evdev.KeyEnter, evdev.KeyKeypadEnter:
		l, over := string(k.buf), k.overflow
		k.buf, k.overflow = k.buf[:0], false
		return l, !over
	case evdev.KeyBackSpace:
		if n := len(k.buf); n > 0 {
			k.buf = k.buf[:n-1]
		}
	case evdev.KeyEscape:
		k.buf = k.buf[:0]
	default:
		c := usLayout(code, k.lshift || k.rshift, k.caps)
		switch {
		case c == 0:
			k.drop()
		case len(k.buf) >= MaxLine:
			if !k.overflow {
				k.drop()
			}
			k.overflow = true
		default:
			k.buf = append(k.buf, c)
		}
	}
	return "", false
}

func (k *keys) drop() {
	if k.dropped != nil {
		k.dropped.Add(1)
	}
}

// usRows are the US layout's keys, unshifted and shifted, from evdev key
// codes 2 (1) to 53 (/).
var usRows = [2]string{
	"1234567890-=\x00\x00qwertyuiop[]\x00\x00asdfghjkl;'`\x00\\zxcvbnm,./",
	"!@#$%^&*()_+\x00\x00QWERTYUIOP{}\x00\x00ASDFGHJKL:\"~\x00|ZXCVBNM<>?",
}

// keypad maps the numeric keypad's keys, which type the same with or
// without shift.
var keypad = map[evdev.KeyType]byte{
	evdev.KeyKeypad0: '0', evdev.KeyKeypad1: '1', evdev.KeyKeypad2: '2', evdev.KeyKeypad3: '3', evdev.KeyKeypad4: '4',
	evdev.KeyKeypad5: '5', evdev.KeyKeypad6: '6', evdev.KeyKeypad7: '7', evdev.KeyKeypad8: '8', evdev.KeyKeypad9: '9',
	evdev.KeyKeypadDot: '.', evdev.KeyKeypadMinus: '-', evdev.KeyKeypadPlus: '+', evdev.KeyKeypadAsterisk: '*',
	evdev.KeyKeypadSlash: '/',
}

// usLayout returns the character a key types on the US layout, 0 for none.
func usLayout(code evdev.KeyType, shift, caps bool) byte {
	if c, ok := keypad[code]; ok {
		return c
	}
	if code == evdev.KeySpace {
		return ' '
	}
	if code < evdev.Key1 || code > evdev.KeySlash {
		return 0
	}
	i := int(code - evdev.Key1)
	c := usRows[0][i]
	if c >= 'a' && c <= 'z' && caps {
		shift = !shift
	}
	if shift {
		c = usRows[1][i]
	}
	return c
}
