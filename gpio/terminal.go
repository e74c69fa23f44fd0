package gpio

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Terminal is the demo's outputs: each verdict and idle change becomes one
// line carrying a symbol and a word ("✓ GREEN", "! YELLOW", "✗ RED"), so it
// reads the same without colour; with colour the line is also coloured.
type Terminal struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
}

var (
	_ Outputs   = (*Terminal)(nil)
	_ Announcer = (*Terminal)(nil)
)

// NewTerminal writes to w, coloured when color is set (see ColorEnabled).
func NewTerminal(w io.Writer, color bool) *Terminal { return &Terminal{w: w, color: color} }

// ColorEnabled reports whether w is a terminal and NO_COLOR is unset or
// empty in getenv (nil: os.Getenv).
func ColorEnabled(w io.Writer, getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Set does nothing: the terminal shows patterns, not pin levels.
func (t *Terminal) Set(State) error { return nil }

// Close does nothing; the terminal is not the process's to close.
func (t *Terminal) Close() error { return nil }

// label is how a pattern is shown.
type label struct {
	symbol, word, ansi string
}

var labels = map[string]label{
	"green":     {"✓", "GREEN", "\x1b[1;32m"},
	"yellow":    {"!", "YELLOW", "\x1b[1;33m"},
	"red":       {"✗", "RED", "\x1b[1;31m"},
	"different": {"✗", "DIFFERENT PERSON · KHÁC NGƯỜI", "\x1b[1;35m"},
	"open":      {"→", "OPEN", "\x1b[1;36m"},
	"ready":     {"·", "READY", "\x1b[2m"},
	"stale":     {"!", "STALE", "\x1b[33m"},
	"fault":     {"✗", "FAULT", "\x1b[31m"},

	"stick-taken":   {"⇩", "STICK TAKEN", "\x1b[1;32m"},
	"stick-refused": {"⇩", "STICK REFUSED", "\x1b[1;31m"},
}

// Line formats the line shown for pattern p, without colour.
func Line(p Pattern) string {
	l, ok := labels[p.Name]
	if !ok {
		l = label{"*", strings.ToUpper(p.Name), ""}
	}
	word := l.word
	if p.Note != "" {
		word += " · " + strings.ToUpper(p.Note)
	}
	d := Describe(p)
	if d == "" {
		return l.symbol + " " + word
	}
	return l.symbol + " " + word + "  " + d
}

// Announce writes the pattern's line.
func (t *Terminal) Announce(p Pattern) {
	line := Line(p)
	if t.color {
		if l, ok := labels[p.Name]; ok && l.ansi != "" {
			line = l.ansi + line + "\x1b[0m"
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(t.w, line)
}

// Describe says in words what a pattern does, e.g.
// "green 1.5s, beep 100ms, relay 1s" or "yellow blink 1s/2s".
func Describe(p Pattern) string {
	var parts []string
	for _, u := range p.Pulses {
		name := u.Output.String()
		if u.Output == Buzzer {
			name = "beep"
		}
		if p.Period > 0 {
			parts = append(parts, fmt.Sprintf("%s blink %s/%s", name, fmtDur(u.For), fmtDur(p.Period)))
			continue
		}
		parts = append(parts, name+" "+fmtDur(u.For))
	}
	return strings.Join(parts, ", ")
}

func fmtDur(d time.Duration) string { return d.String() }
