// Package config reads checkpoint's TOML configuration.
//
// Every error names the file, the line and the key, so a technician can fix a
// gate's config from the journal alone.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"checkpoint"
	"checkpoint/internal/netutil"
)

// ExitConfig is the process exit status for a configuration error (EX_CONFIG);
// systemd does not restart the daemon on it.
const ExitConfig = 78

// MaxSize caps a config file's size.
const MaxSize = 1 << 20

// Config is the whole configuration.
type Config struct {
	Gate      string `toml:"gate"`      // gate name, written to the event log
	Site      string `toml:"site"`      // the site (a factory, a business) whose signed list the gate keeps; empty: none
	Direction string `toml:"direction"` // "in" (entry), "out" (exit) or "" (neither counted)
	LogLevel  Level  `toml:"log_level"`
	Camera    Camera `toml:"camera"`
	Decode    Decode `toml:"decode"`
	Cache     Cache  `toml:"cache"`
	Feed      Feed   `toml:"feed"`
	Policy    Policy `toml:"policy"`
	GPIO      GPIO   `toml:"gpio"`
	Web       Web    `toml:"web"`
	Events    Events `toml:"events"`
	Scanner   Input  `toml:"scanner"` // a hardware barcode scanner
	Keypad    Input  `toml:"keypad"`  // a numeric keypad for typed codes
	Update    Update `toml:"update"`
}

// Input is a device that sends text: a serial line (/dev/ttyACM0,
// /dev/serial/by-id/…) or an evdev keyboard (a path under /dev/input/).
type Input struct {
	Device string `toml:"device"` // empty: none
	Baud   int    `toml:"baud"`   // serial only
}

// Keyboard reports whether the device is an evdev keyboard (a path under
// /dev/input/) rather than a serial line.
func (i Input) Keyboard() bool { return strings.HasPrefix(i.Device, "/dev/input/") }

// Camera selects and tunes the frame source.
type Camera struct {
	Source string `toml:"source"` // replay, rpicam, gocv or none
	// Trigger, when set, runs the camera only for TriggerWindow after a
	// press: a pin name (a button, such as GPIO6) or "keypad" (its Enter).
	Trigger          string   `toml:"trigger"`
	TriggerWindow    Duration `toml:"trigger_window"`
	TriggerActiveLow bool     `toml:"trigger_active_low"` // the button pulls the pin low (to ground)
	// replay
	Path string  `toml:"path"` // image file or directory
	Loop bool    `toml:"loop"`
	FPS  float64 `toml:"fps"`
	// rpicam and gocv
	Width        int      `toml:"width"`
	Height       int      `toml:"height"`
	Command      string   `toml:"command"`  // rpicam: the rpicam-vid binary
	Args         []string `toml:"args"`     // rpicam: extra arguments
	Exposure     string   `toml:"exposure"` // rpicam: normal, sport, long
	Shutter      Duration `toml:"shutter"`
	Gain         float64  `toml:"gain"`
	Focus        string   `toml:"focus"` // rpicam: auto, continuous, manual
	LensPosition float64  `toml:"lens_position"`
	Device       string   `toml:"device"`   // gocv: index ("0") or path ("/dev/video0")
	Pipeline     string   `toml:"pipeline"` // gocv: GStreamer pipeline instead of Device
	FourCC       string   `toml:"fourcc"`   // gocv: e.g. MJPG
	// health
	StallTimeout Duration `toml:"stall_timeout"`
}

// Decode tunes the QR decoder.
type Decode struct {
	Workers int      `toml:"workers"`
	Budget  Duration `toml:"budget"` // time budget per frame
}

// Cache locates the status cache.
type Cache struct {
	Path   string   `toml:"path"`
	MaxAge Duration `toml:"max_age"` // stale when no verified update within this
}

// Feed says where signed updates come from.
type Feed struct {
	URL      string   `toml:"url"`      // base URL of the TUF repository; empty: no sync
	Root     string   `toml:"root"`     // provisioned root.json
	Interval Duration `toml:"interval"` // between syncs
	Timeout  Duration `toml:"timeout"`  // per HTTP request
	// Stick is where a USB stick's feed/ folder appears when the stick is
	// mounted (systemd/checkpoint-stick@.service); empty: sticks ignored.
	Stick string `toml:"stick"`
}

// Policy holds the site's verdict rules.
type Policy struct {
	Cooldown     Duration `toml:"cooldown"`
	Stale        Color    `toml:"stale"`   // verdict when the cache is stale
	Unknown      Color    `toml:"unknown"` // 1405 QID not in the cache
	CCCD         Color    `toml:"cccd"`    // CCCD without a cached status
	Rules        string   `toml:"rules"`   // HC1 rule profile file; empty: feed or defaults
	ShowFullName bool     `toml:"show_full_name"`
	SiteList     string   `toml:"site_list"`  // ignore, or require: admit only people on the site's list
	NotListed    Color    `toml:"not_listed"` // verdict for a code not on the site's list
	// IdentityCheck compares a CCCD and a 1405 code scanned within
	// PairWindow of each other.
	IdentityCheck bool     `toml:"identity_check"`
	PairWindow    Duration `toml:"pair_window"`
}

// GPIO maps outputs to pins (BCM names such as GPIO17). An empty pin is not driven.
type GPIO struct {
	Driver          string   `toml:"driver"` // periph, terminal or none
	Green           string   `toml:"green"`
	Yellow          string   `toml:"yellow"`
	Red             string   `toml:"red"`
	Buzzer          string   `toml:"buzzer"`
	Relay           string   `toml:"relay"`
	ActiveLow       []string `toml:"active_low"` // outputs driven low when on: names among green, yellow, red, buzzer, relay
	Button          string   `toml:"button"`     // optional input that pulses the relay
	ButtonActiveLow bool     `toml:"button_active_low"`
	Debounce        Duration `toml:"debounce"`
}

// Web configures the operator screen and metrics.
type Web struct {
	Listen  string `toml:"listen"` // empty: off
	Token   string `toml:"token"`  // required when Listen is beyond loopback
	Preview bool   `toml:"preview"`
}

// Update configures firmware updates through the feed.
type Update struct {
	Enabled bool `toml:"enabled"` // take the firmware the feed names
	// Probation: how long a new version must stay up before it is kept.
	Probation Duration `toml:"probation"`
	Spool     string   `toml:"spool"` // where the daemon leaves a verified package for the installer
	State     string   `toml:"state"` // the installer's state directory
}

// Events configures the event log.
type Events struct {
	Retention Duration `toml:"retention"`
}

// Default returns the configuration used where the file is silent.
func Default() Config {
	return Config{
		Gate:     "gate",
		LogLevel: Level(slog.LevelInfo),
		Camera: Camera{
			Source:           "rpicam",
			FPS:              15,
			Width:            1280,
			Height:           720,
			Command:          "rpicam-vid",
			Device:           "0",
			StallTimeout:     Duration(5 * time.Second),
			TriggerWindow:    Duration(5 * time.Second),
			TriggerActiveLow: true,
		},
		Decode: Decode{Workers: 2, Budget: Duration(50 * time.Millisecond)},
		Cache:  Cache{Path: "/var/lib/checkpoint/cache.db", MaxAge: Duration(24 * time.Hour)},
		Feed: Feed{
			Root:     "/etc/checkpoint/root.json",
			Interval: Duration(5 * time.Minute),
			Timeout:  Duration(30 * time.Second),
			Stick:    "/run/checkpoint-stick/feed",
		},
		Policy: Policy{
			Cooldown:   Duration(3 * time.Second),
			Stale:      Color(checkpoint.Yellow),
			Unknown:    Color(checkpoint.Yellow),
			CCCD:       Color(checkpoint.Yellow),
			SiteList:   "ignore",
			PairWindow: Duration(20 * time.Second),
		},
		GPIO: GPIO{
			Driver:   "periph",
			Green:    "GPIO17",
			Yellow:   "GPIO27",
			Red:      "GPIO22",
			Buzzer:   "GPIO23",
			Relay:    "GPIO24",
			Debounce: Duration(50 * time.Millisecond),
		},
		Web:     Web{Listen: "127.0.0.1:8080"},
		Events:  Events{Retention: Duration(30 * 24 * time.Hour)},
		Scanner: Input{Baud: 9600},
		Keypad:  Input{Baud: 9600},
		Update: Update{Enabled: true, Probation: Duration(10 * time.Minute),
			Spool: "/var/lib/checkpoint/update", State: "/var/lib/checkpoint-update"},
	}
}

// Error is a configuration error at a place in a file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // dotted key, empty when unknown
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads and validates the config file at path over the defaults. A file
// writable by its group or by everyone is refused: it is not trusted.
func Load(path string) (Config, error) {
	b, err := readCapped(path)
	if err != nil {
		return Config{}, &Error{File: path, Msg: err.Error()}
	}
	return Parse(path, b)
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Whoever can write the config controls the gate (feed, root, token):
	// refuse one that others can change rather than run on it.
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if m := fi.Mode().Perm(); m&0o022 != 0 {
		return nil, fmt.Errorf("writable by its group or by everyone (mode %04o): whoever can write it controls the gate; "+
			"make it writable by its owner only (chmod go-w)", m)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("file larger than %d bytes", MaxSize)
	}
	return b, nil
}

// Parse parses config text; name is used in errors.
func Parse(name string, text []byte) (Config, error) {
	if err := CheckShape(name, text); err != nil {
		return Config{}, err
	}
	c := Default()
	md, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &Error{File: name, Line: lineAt(text, pe.Position), Key: pe.LastKey, Msg: pe.Message}
		}
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return Config{}, &Error{File: name, Line: line, Key: m[2], Msg: m[3]}
		}
		return Config{}, &Error{File: name, Msg: err.Error()}
	}
	lines := keyLines(text)
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return Config{}, &Error{File: name, Line: lines[k], Key: k, Msg: "unknown key"}
	}
	if k, want, ok := miscased(md.Keys()); ok {
		// The TOML decoder matches struct fields regardless of case; TOML
		// keys are case-sensitive.
		return Config{}, &Error{File: name, Line: lines[k], Key: k, Msg: fmt.Sprintf("unknown key (keys are case-sensitive: %s)", want)}
	}
	if err := c.validate(); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			if lines[ke.key] == 0 && ke.alt != nil && lines[ke.alt.key] != 0 {
				ke = ke.alt // blame the key the file sets, not a default
			}
			return Config{}, &Error{File: name, Line: lines[ke.key], Key: ke.key, Msg: ke.msg}
		}
		return Config{}, &Error{File: name, Msg: err.Error()}
	}
	return c, nil
}

// lineAt is the line of a parse error: the line holding the byte it points
// at. (The decoder's own line number counts a newline it stopped at as the
// start of the next line, one too far.)
func lineAt(text []byte, p toml.Position) int {
	if p.Start < 0 || p.Start > len(text) {
		return p.Line
	}
	return 1 + bytes.Count(text[:p.Start], []byte("\n"))
}

// knownKeys are the dotted keys of Config, exactly as TOML must spell them.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			m[prefix+tag] = true
			if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
				walk(f.Type, prefix+tag+".")
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return m
}()

var textUnmarshaler = reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()

// miscased returns the first key the file writes in another case than
// Config's, with the spelling it should have.
func miscased(keys []toml.Key) (key, want string, ok bool) {
	for _, k := range keys {
		s := k.String()
		if knownKeys[s] {
			continue
		}
		for known := range knownKeys {
			if strings.EqualFold(known, s) {
				return s, known, true
			}
		}
	}
	return "", "", false
}

type keyError struct {
	key, msg string
	alt      *keyError // the same problem told from another key
}

func (e *keyError) Error() string { return e.key + ": " + e.msg }

func bad(key, format string, args ...any) error {
	return &keyError{key: key, msg: fmt.Sprintf(format, args...)}
}

// typeErr matches the TOML decoder's type errors, which carry no structure.
var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]+)"\): (.*)$`)

// validate checks values the TOML types cannot, section by section.
func (c *Config) validate() error {
	if c.Gate == "" || len(c.Gate) > 64 {
		return bad("gate", "must be 1 to 64 characters")
	}
	if c.Direction != "" && c.Direction != "in" && c.Direction != "out" {
		return bad("direction", "%q is not in or out (or empty: no entries and exits counted)", c.Direction)
	}
	for _, check := range []func() error{c.Camera.validate, c.validateDecodeCache, c.Feed.validate, c.validatePolicy, c.validateSite, c.GPIO.validate, c.Web.validate, c.validateInputs} {
		if err := check(); err != nil {
			return err
		}
	}
	if c.Events.Retention.D() < time.Hour {
		return bad("events.retention", "must be at least 1h")
	}
	if p := c.Update.Probation.D(); p < 10*time.Second || p > 24*time.Hour {
		return bad("update.probation", "must be 10s to 24h")
	}
	if c.Update.Spool == "" || c.Update.State == "" {
		return bad("update.spool", "update.spool and update.state must be set")
	}
	return nil
}

func (c *Camera) validate() error {
	switch c.Source {
	case "replay":
		if c.Path == "" {
			return bad("camera.path", "replay needs a path to an image file or directory")
		}
	case "rpicam", "gocv", "none":
	default:
		return bad("camera.source", "%q is not replay, rpicam, gocv or none", c.Source)
	}
	if c.Trigger != "" && c.Trigger != "keypad" {
		pin, ok := CanonicalPin(c.Trigger)
		if !ok {
			return bad("camera.trigger", "%q is not a pin name of the Pi's header (%s), or keypad", c.Trigger, PinNames)
		}
		c.Trigger = pin
	}
	if w := c.TriggerWindow.D(); w < 500*time.Millisecond || w > 10*time.Minute {
		return bad("camera.trigger_window", "must be 500ms to 10m")
	}
	if c.FPS <= 0 || c.FPS > 240 {
		return bad("camera.fps", "must be above 0 and at most 240")
	}
	if c.Width < 16 || c.Width > 8192 {
		return bad("camera.width", "must be 16 to 8192")
	}
	if c.Height < 16 || c.Height > 8192 {
		return bad("camera.height", "must be 16 to 8192")
	}
	if c.StallTimeout.D() < 100*time.Millisecond {
		return bad("camera.stall_timeout", "must be at least 100ms")
	}
	return nil
}

func (c *Config) validateDecodeCache() error {
	if c.Decode.Workers < 1 || c.Decode.Workers > 64 {
		return bad("decode.workers", "must be 1 to 64")
	}
	if c.Decode.Budget.D() < 0 {
		return bad("decode.budget", "must not be negative (0: no budget)")
	}
	if c.Cache.Path == "" {
		return bad("cache.path", "must be set")
	}
	if c.Cache.MaxAge.D() <= 0 {
		return bad("cache.max_age", "must be positive")
	}
	return nil
}

func (f *Feed) validate() error {
	if f.URL != "" {
		if !strings.HasPrefix(f.URL, "http://") && !strings.HasPrefix(f.URL, "https://") {
			return bad("feed.url", "must start with http:// or https://")
		}
		if f.Root == "" {
			return bad("feed.root", "must name the provisioned root.json when feed.url is set")
		}
	}
	if f.Interval.D() < time.Second {
		return bad("feed.interval", "must be at least 1s")
	}
	if f.Timeout.D() <= 0 {
		return bad("feed.timeout", "must be positive")
	}
	return nil
}

func (c *Config) validatePolicy() error {
	if c.Policy.Cooldown.D() < 0 {
		return bad("policy.cooldown", "must not be negative")
	}
	if w := c.Policy.PairWindow.D(); w < time.Second || w > 10*time.Minute {
		return bad("policy.pair_window", "must be 1s to 10m")
	}
	return nil
}

// validateInputs checks the scanner and keypad devices, and that a keypad
// trigger has a keypad and a pin trigger a pin of its own.
func (c *Config) validateInputs() error {
	for _, in := range []struct {
		key string
		i   Input
	}{{"scanner", c.Scanner}, {"keypad", c.Keypad}} {
		if in.i.Device != "" && !strings.HasPrefix(in.i.Device, "/") {
			return bad(in.key+".device", "%q is not an absolute device path such as /dev/ttyACM0 or /dev/input/by-id/…-event-kbd", in.i.Device)
		}
		if in.i.Baud < 300 || in.i.Baud > 4000000 {
			return bad(in.key+".baud", "must be 300 to 4000000")
		}
	}
	if c.Keypad.Device != "" && !c.Keypad.Keyboard() {
		return bad("keypad.device", "%q is not an evdev device under /dev/input/", c.Keypad.Device)
	}
	if c.Scanner.Device != "" && c.Scanner.Device == c.Keypad.Device {
		return bad("keypad.device", "is the scanner's device too")
	}
	switch t := c.Camera.Trigger; {
	case t == "keypad" && c.Keypad.Device == "":
		return bad("camera.trigger", "keypad needs keypad.device")
	case t != "" && t != "keypad" && c.GPIO.Driver != "periph":
		return bad("camera.trigger", "a pin trigger needs gpio.driver = \"periph\"")
	case t != "" && t != "keypad":
		g := c.GPIO
		for k, v := range map[string]string{"gpio.green": g.Green, "gpio.yellow": g.Yellow, "gpio.red": g.Red, "gpio.buzzer": g.Buzzer, "gpio.relay": g.Relay, "gpio.button": g.Button} {
			if v == t {
				return bad("camera.trigger", "pin %s is already used by %s", t, k)
			}
		}
	}
	if c.Camera.Trigger != "" && c.Camera.Source == "none" {
		return bad("camera.trigger", "there is no camera to trigger (camera.source = \"none\")")
	}
	return nil
}

// siteName is the rule of feed/format.CheckSiteName (cmd/checkpoint's
// tests check the two agree): config does not import the feed.
var siteName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func (c *Config) validateSite() error {
	if c.Site != "" && !siteName.MatchString(c.Site) {
		return bad("site", "%q is not a site name: 1 to 32 of a-z, 0-9 and '-', as given to feed site init", c.Site)
	}
	switch c.Policy.SiteList {
	case "ignore":
	case "require":
		if c.Site == "" {
			return &keyError{key: "site", msg: `must be set when policy.site_list = "require"`,
				alt: &keyError{key: "policy.site_list", msg: `"require" needs site = "NAME" (the site whose list to require)`}}
		}
	default:
		return bad("policy.site_list", "%q is not ignore or require", c.Policy.SiteList)
	}
	if c.Policy.NotListed.C() == checkpoint.Green {
		return bad("policy.not_listed", `green would admit everyone not on the list: set policy.site_list = "ignore" instead`)
	}
	return nil
}

func (g *GPIO) validate() error {
	switch g.Driver {
	case "periph", "terminal", "none":
	default:
		return bad("gpio.driver", "%q is not periph, terminal or none", g.Driver)
	}
	used := map[string]string{}
	for _, kv := range []struct {
		key string
		v   *string
	}{
		{"gpio.green", &g.Green}, {"gpio.yellow", &g.Yellow}, {"gpio.red", &g.Red},
		{"gpio.buzzer", &g.Buzzer}, {"gpio.relay", &g.Relay}, {"gpio.button", &g.Button},
	} {
		if *kv.v == "" {
			continue
		}
		pin, ok := CanonicalPin(*kv.v)
		if !ok {
			return bad(kv.key, "%q is not a pin name of the Pi's header: use %s", *kv.v, PinNames)
		}
		*kv.v = pin // aliases resolved before the duplicate check
		if other, ok := used[pin]; ok {
			return &keyError{
				key: kv.key, msg: fmt.Sprintf("pin %s is already used by %s", pin, other),
				alt: &keyError{key: other, msg: fmt.Sprintf("pin %s is already used by %s", pin, kv.key)},
			}
		}
		used[pin] = kv.key
	}
	for _, n := range g.ActiveLow {
		switch n {
		case "green", "yellow", "red", "buzzer", "relay":
		default:
			return bad("gpio.active_low", "%q is not one of green, yellow, red, buzzer, relay", n)
		}
	}
	if g.Debounce.D() < 0 || g.Debounce.D() > 5*time.Second {
		return bad("gpio.debounce", "must be 0 to 5s")
	}
	return nil
}

func (w *Web) validate() error {
	if w.Listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(w.Listen)
	if err != nil {
		return bad("web.listen", "%q is not host:port", w.Listen)
	}
	if !netutil.IsLoopback(host) && w.Token == "" {
		return bad("web.token", "required when web.listen (%s) is beyond loopback", w.Listen)
	}
	return nil
}

// keyLines maps each dotted key to the line it is set on, for error messages.
func keyLines(text []byte) map[string]int {
	m := map[string]int{}
	ScanLines(text, func(n int, _, key string, _ bool) {
		if _, ok := m[key]; key != "" && !ok {
			m[key] = n
		}
	})
	return m
}

// ScanLines calls f for each line of a config file (n from 1) with the
// dotted key it sets, or the table a [table] header opens (table true);
// key is "" for blank, comment and continuation lines. Keys are normalised
// as TOML reads them: `web . "token"` is web.token. It is a line scanner,
// not a parser: for error messages and for cutting lines out of a file.
func ScanLines(text []byte, f func(n int, line, key string, table bool)) error {
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), MaxSize+1)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		l := strings.TrimSpace(line)
		switch {
		case l == "" || l[0] == '#':
			f(n, line, "", false)
		case strings.HasPrefix(l, "["):
			cur = dottedKey(strings.Trim(strings.SplitN(l, "#", 2)[0], "[] \t"))
			f(n, line, cur, true)
		default:
			i := strings.IndexByte(l, '=')
			if i <= 0 {
				f(n, line, "", false)
				continue
			}
			k := dottedKey(l[:i])
			if cur != "" {
				k = cur + "." + k
			}
			f(n, line, k, false)
		}
	}
	return sc.Err()
}

// dottedKey normalises a TOML key as written (`web . "token"`) to web.token.
func dottedKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// Color is a verdict colour written as green, yellow or red.
type Color checkpoint.Color

// C returns the colour.
func (c Color) C() checkpoint.Color { return checkpoint.Color(c) }

// UnmarshalText parses green, yellow or red.
func (c *Color) UnmarshalText(b []byte) error {
	v, err := checkpoint.ParseColor(string(b))
	if err != nil {
		return fmt.Errorf("%q is not green, yellow or red", b)
	}
	*c = Color(v)
	return nil
}

// MarshalText writes the colour's name.
func (c Color) MarshalText() ([]byte, error) { return checkpoint.Color(c).MarshalText() }

// Level is a log level written as debug, info, warn or error.
type Level slog.Level

// L returns the level.
func (l Level) L() slog.Level { return slog.Level(l) }

// UnmarshalText parses debug, info, warn or error.
func (l *Level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%q is not debug, info, warn or error", b)
	}
	var v slog.Level
	if err := v.UnmarshalText(b); err != nil {
		return err
	}
	*l = Level(v)
	return nil
}

// MarshalText writes the level's name in lower case.
func (l Level) MarshalText() ([]byte, error) {
	return []byte(strings.ToLower(slog.Level(l).String())), nil
}

// Duration is a time.Duration written as a string such as "3s" or "24h".
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 3s or 24h", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }
