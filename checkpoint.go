// Package checkpoint holds the domain types of the checkpoint scanner and the
// Scanner that wires its data path through the interfaces declared here:
//
//	Source → Decoder → Parser → Judge → Indicator
//	(camera)  (decode)  (credential) (policy) (gpio)
//
// The packages in parentheses implement them; this package imports none of
// them. Clock and TimerClock are the time every part reads (clocktest fakes
// them).
package checkpoint

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Color is the verdict shown at the gate.
type Color uint8

// The three verdict colours. The zero value is red, so a forgotten verdict
// never lets anyone through.
const (
	Red    Color = iota // must not pass
	Yellow              // restricted, check manually
	Green               // may pass
)

// String returns "green", "yellow" or "red".
func (c Color) String() string {
	switch c {
	case Green:
		return "green"
	case Yellow:
		return "yellow"
	case Red:
		return "red"
	}
	return fmt.Sprintf("color(%d)", uint8(c))
}

// ParseColor parses "green", "yellow" or "red".
func ParseColor(s string) (Color, error) {
	switch s {
	case "green":
		return Green, nil
	case "yellow":
		return Yellow, nil
	case "red":
		return Red, nil
	}
	return Red, fmt.Errorf("unknown colour %q (want green, yellow or red)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (c Color) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Color) UnmarshalText(b []byte) error {
	v, err := ParseColor(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Format names a payload format. The values are part of the scan --json contract.
type Format string

// Known payload formats.
const (
	FormatVN1405  Format = "vn1405"  // Decision 1405 personal QR
	FormatCCCD    Format = "cccd"    // chip citizen ID card QR
	FormatHC1     Format = "hc1"     // EU DCC vaccine certificate
	FormatCode    Format = "code"    // a code typed by hand (SMS or printed card), keyed like a QID
	FormatUnknown Format = "unknown" // anything else
)

// CodeKey is the cache key of a code typed by hand (as ParseCode returns
// it): the code in its own key space, so that a typed code never finds a
// QID's or an ID number's status. Feeds list such codes in their own column
// (see cache.CSVReader).
func CodeKey(code string) string { return "code\x00" + code }

// Limits of a code typed by hand (an SMS code or a printed card's number).
const (
	MinCode = 4
	MaxCode = 16
)

// ErrCode says what a typed code must look like.
var ErrCode = fmt.Errorf("a typed code is %d to %d digits", MinCode, MaxCode)

// ParseCode returns the digits of a code as typed or listed: spaces, dots
// and dashes between them are dropped. Anything else is ErrCode.
func ParseCode(text string) (string, error) {
	if len(text) > 4*MaxCode {
		return "", ErrCode
	}
	code := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.':
			return -1
		}
		return r
	}, strings.TrimSpace(text))
	if len(code) < MinCode || len(code) > MaxCode {
		return "", ErrCode
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", ErrCode
		}
	}
	return code, nil
}

// Input says where a code came from.
type Input uint8

// Inputs.
const (
	InputCamera  Input = iota // decoded from a camera frame
	InputScanner              // sent by a hardware barcode scanner (serial or keyboard)
	InputTyped                // typed by hand (operator screen or keypad)
)

// String names the input: camera, scanner or typed.
func (i Input) String() string {
	switch i {
	case InputCamera:
		return "camera"
	case InputScanner:
		return "scanner"
	case InputTyped:
		return "typed"
	}
	return fmt.Sprintf("input(%d)", uint8(i))
}

// Point is a position in frame pixels.
type Point struct {
	X, Y float64
}

// Frame is one 8-bit luminance image from a camera. Y holds Height rows of
// Stride bytes, of which the first Width are pixels.
type Frame struct {
	Seq    uint64    // sequence number from the source, increasing
	Time   time.Time // capture time
	Width  int
	Height int
	Stride int
	Y      []byte
}

// Pix returns the luminance at (x, y).
func (f *Frame) Pix(x, y int) byte { return f.Y[y*f.Stride+x] }

// Symbol is one decoded code.
type Symbol struct {
	Text    string
	Corners []Point // clockwise from the top-left finder pattern, where known
	Input   Input   // where it came from (camera unless set)
}

// Holder is what the operator may see of a person: never logged, never stored.
type Holder struct {
	Initials   string // e.g. "NVA"
	BirthDay   int    // 1..31, 0 when unknown or masked
	BirthMonth int    // 1..12, 0 when unknown or masked
	FullName   string // only filled when the site allows it
}

// SignatureState says what is known of a credential's signature.
type SignatureState uint8

// Signature states.
const (
	Unsigned         SignatureState = iota // format carries no signature
	SignatureValid                         // verified against a trusted signer
	SignatureInvalid                       // signature does not verify
	SignerUnknown                          // no trusted signer with that key ID
	SignerNotAllowed                       // signer certificate expired or not allowed for this certificate type
)

// String returns a stable lower-case name used in JSON and reasons.
func (s SignatureState) String() string {
	switch s {
	case Unsigned:
		return "unsigned"
	case SignatureValid:
		return "valid"
	case SignatureInvalid:
		return "invalid"
	case SignerUnknown:
		return "unknown-signer"
	case SignerNotAllowed:
		return "signer-not-allowed"
	}
	return fmt.Sprintf("signature(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s SignatureState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Vaccination is one DCC vaccination entry.
type Vaccination struct {
	Disease string    // tg
	Product string    // mp
	Dose    int       // dn
	Of      int       // sd
	Date    time.Time // dt
	Country string    // co
}

// Test is one DCC test entry.
type Test struct {
	Disease string    // tg
	Type    string    // tt, e.g. LP6464-4 (NAAT) or LP217198-3 (rapid antigen)
	Result  string    // tr: 260415000 not detected, 260373001 detected
	Sampled time.Time // sc
	Country string    // co
}

// Recovery is one DCC recovery entry.
type Recovery struct {
	Disease       string    // tg
	FirstPositive time.Time // fr
	ValidFrom     time.Time // df
	ValidUntil    time.Time // du
	Country       string    // co
}

// Certificate is the content of an HC1 (EU DCC) health certificate.
type Certificate struct {
	Issuer       string    // CWT iss
	IssuedAt     time.Time // CWT iat
	Expires      time.Time // CWT exp
	UCI          string    // unique certificate identifier (ci of the entry)
	Vaccinations []Vaccination
	Tests        []Test
	Recoveries   []Recovery
	// RevocationHashes are the EU DCC revocation hashes of this
	// certificate: SIGNATURE, and UCI and COUNTRYCODEUCI for every entry's
	// identifier (the schema allows one entry; a certificate with more is
	// refused, and each entry is checked all the same).
	RevocationHashes []RevocationHash
}

// Entries is the number of vaccination, test and recovery entries; the
// EU DCC schema allows exactly one.
func (c *Certificate) Entries() int { return len(c.Vaccinations) + len(c.Tests) + len(c.Recoveries) }

// RevocationHash is one EU DCC revocation hash: its type ("UCI",
// "COUNTRYCODEUCI" or "SIGNATURE") and the full SHA-256 (revocation lists
// compare the first 16 bytes).
type RevocationHash struct {
	Type string
	Hash []byte
}

// Credential is a parsed payload.
type Credential struct {
	Format Format
	// Key is the value the status cache is keyed by: the QID of a 1405 code,
	// the ID number of a CCCD, the UCI of an HC1. Hashed before any lookup;
	// never logged or stored in clear.
	Key       string
	Holder    Holder
	Signature SignatureState
	// Cert is set for HC1 credentials.
	Cert *Certificate
	// Document is what an identity payload (1405, CCCD) says of the
	// holder's document, for the identity check only: never logged, stored
	// or shown.
	Document Document
	// Err says why the payload could not be understood (Format is then
	// FormatUnknown, or the format whose parsing failed).
	Err error
}

// Document is an ID document as an identity payload gives it.
type Document struct {
	Number string // as in the payload; '*' marks a masked character (1405)
	Old    string // CCCD: the old ID number (9 or 12 digits), when present
	// Birth date parts; 0 where unknown or masked.
	Year, Month, Day int
}

// Identity is the outcome of comparing a CCCD with a 1405 code scanned
// within the pair window of each other (policy.identity_check).
type Identity uint8

// Identity outcomes.
const (
	IdentityNone      Identity = iota // no pair compared
	IdentitySame                      // the visible ID digits and the birth date agree
	IdentityDifferent                 // they disagree: another person's code
)

// String returns "", "same person" or "different person".
func (i Identity) String() string {
	switch i {
	case IdentitySame:
		return "same person"
	case IdentityDifferent:
		return "different person"
	}
	return ""
}

// Verdict is the decision for one credential.
type Verdict struct {
	Color   Color
	Reasons []string // short English phrases, safe to log (no personal data)
	Format  Format
	Holder  Holder // for the operator screen only
	// Signature and Expired describe HC1 certificates; Expired is true
	// outside the certificate's iat..exp (not yet valid included).
	Signature SignatureState
	Expired   bool
	// Identity is the identity check's outcome when this verdict completed
	// a CCCD + 1405 pair.
	Identity Identity
	At       time.Time // decision time (from the clock floor)
	// KeyHash is the keyed hash of the credential key (hex), for the event log.
	KeyHash string
}

// Source yields camera frames, keeping only the newest.
type Source interface {
	// Next blocks until a frame newer than the last one returned is
	// available, ctx is done, or the source ends (io.EOF) or fails. The
	// returned frame stays valid until the next call to Next.
	Next(ctx context.Context) (*Frame, error)
	// Stats reports the source's counters.
	Stats() SourceStats
	// Close stops the source and releases its resources.
	Close() error
}

// SourceStats are a camera source's counters.
type SourceStats struct {
	Frames    uint64    // frames captured
	Dropped   uint64    // frames overwritten before the consumer took them
	Restarts  uint64    // times the device or child process was reopened
	LastFrame time.Time // capture time of the newest frame
	Width     int
	Height    int
	FPS       float64 // frames per second over the last second or so
}

// Decoder finds and decodes QR codes in a frame.
type Decoder interface {
	Decode(ctx context.Context, f *Frame) ([]Symbol, error)
}

// Parser turns decoded text into a credential.
type Parser interface {
	Parse(text string) Credential
}

// TypedParser is optionally implemented by a Parser: codes typed by hand
// (InputTyped) are parsed by ParseTyped, not as payloads.
type TypedParser interface {
	ParseTyped(text string) Credential
}

// Judge decides a verdict for a credential at the given time.
type Judge interface {
	Judge(ctx context.Context, c Credential, now time.Time) Verdict
}

// IdleMode is what the outputs show when no verdict is playing.
type IdleMode uint8

// Idle modes.
const (
	IdleReady IdleMode = iota // all off
	IdleStale                 // cache stale: slow yellow blink
	IdleFault                 // camera or config fault: slow red blink
)

// String names the mode.
func (m IdleMode) String() string {
	switch m {
	case IdleReady:
		return "ready"
	case IdleStale:
		return "stale"
	case IdleFault:
		return "fault"
	}
	return fmt.Sprintf("idle(%d)", uint8(m))
}

// Indicator drives the gate's outputs (LEDs, buzzer, relay). Both methods
// return at once: patterns play in the indicator's own goroutine, and a new
// call replaces the running pattern.
type Indicator interface {
	// Show plays the verdict's pattern once, then returns to the idle mode.
	Show(c Color)
	// Idle sets the pattern shown between verdicts.
	Idle(m IdleMode)
}

// VerdictIndicator is optionally implemented by an Indicator: it is given
// the whole verdict, so an identity check's outcome can play its own
// pattern. The Scanner then calls ShowVerdict instead of Show.
type VerdictIndicator interface {
	ShowVerdict(v Verdict)
}

// Clock tells the time. Tests inject a fake (package clocktest).
type Clock interface {
	Now() time.Time
}

// TimerClock is a Clock that also makes timers: what plays patterns of
// timed steps (the LEDs, buzzer and relay) needs both.
type TimerClock interface {
	Clock
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a TimerClock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the machine's clock.
type SystemClock struct{}

var _ TimerClock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// StatusEntry is a person's status as the cache holds it.
type StatusEntry struct {
	Color      Color
	ValidUntil time.Time // zero: no end
}

// FloorClock never reports a time earlier than Floor(): a Pi has no
// real-time clock, and the newest verified feed time is a lower bound on now.
// While the wall clock lags behind the floor it stands still at the floor, so
// it suits a single reading; a long-running process uses RunningFloorClock.
type FloorClock struct {
	Clock Clock
	Floor func() time.Time // nil or zero: no floor
}

// Now returns the later of the clock's time and the floor.
func (c FloorClock) Now() time.Time {
	now := c.Clock.Now()
	if c.Floor != nil {
		if f := c.Floor(); now.Before(f) {
			return f
		}
	}
	return now
}

// RunningFloorClock is a FloorClock whose floor keeps running: the floor was
// a lower bound on the true time when it was first seen, so the floor plus
// the time elapsed since then (by Go's monotonic clock) is one now. While the
// wall clock lags behind it (a Pi booted without a real-time clock or time
// server), Now keeps advancing at the true rate instead of standing still at
// the floor, so durations measured with it (the repeat cooldown, the camera
// stall timeout, a frame's age) keep running. Use a pointer; it is safe for
// concurrent use.
type RunningFloorClock struct {
	Clock Clock
	Floor func() time.Time // nil or zero: no floor

	mu    sync.Mutex
	floor time.Time // the floor last seen
	seen  time.Time // when it was first seen, with its monotonic reading
}

// Now returns the later of the clock's time and the running floor.
func (c *RunningFloorClock) Now() time.Time {
	now := c.Clock.Now()
	if c.Floor == nil {
		return now
	}
	f := c.Floor()
	if f.IsZero() {
		return now
	}
	c.mu.Lock()
	if !f.Equal(c.floor) {
		c.floor, c.seen = f, time.Now()
	}
	bound := c.floor.Add(time.Since(c.seen))
	c.mu.Unlock()
	if now.Before(bound) {
		return bound
	}
	return now
}
