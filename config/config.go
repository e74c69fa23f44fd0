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
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ExitConfig is the process exit status for a configuration error (EX_CONFIG);
// systemd does not restart the daemon on it.
const ExitConfig = 78

// MaxSize caps a config file's size.
const MaxSize = 1 << 20

// Config is the whole configuration.
type Config struct {
	Gate     string `toml:"gate"` // gate name, written to the event log
	LogLevel string `toml:"log_level"`
	Camera   Camera `toml:"camera"`
	Decode   Decode `toml:"decode"`
	Cache    Cache  `toml:"cache"`
	Feed     Feed   `toml:"feed"`
	Policy   Policy `toml:"policy"`
	GPIO     GPIO   `toml:"gpio"`
	Web      Web    `toml:"web"`
	Events   Events `toml:"events"`
}

// Camera selects and tunes the frame source.
type Camera struct {
	Source string `toml:"source"` // replay, rpicam or gocv
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
}

// Policy holds the site's verdict rules.
type Policy struct {
	Cooldown     Duration `toml:"cooldown"`
	Stale        string   `toml:"stale"`   // verdict when the cache is stale
	Unknown      string   `toml:"unknown"` // 1405 QID not in the cache
	CCCD         string   `toml:"cccd"`    // CCCD without a cached status
	Rules        string   `toml:"rules"`   // HC1 rule profile file; empty: feed or defaults
	ShowFullName bool     `toml:"show_full_name"`
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

// Events configures the event log.
type Events struct {
	Retention Duration `toml:"retention"`
}

// Default returns the configuration used where the file is silent.
func Default() Config {
	return Config{
		Gate:     "gate",
		LogLevel: "info",
		Camera: Camera{
			Source:       "rpicam",
			FPS:          15,
			Width:        1280,
			Height:       720,
			Command:      "rpicam-vid",
			Device:       "0",
			StallTimeout: Duration(5 * time.Second),
		},
		Decode: Decode{Workers: 2, Budget: Duration(50 * time.Millisecond)},
		Cache:  Cache{Path: "/var/lib/checkpoint/cache.db", MaxAge: Duration(24 * time.Hour)},
		Feed: Feed{
			Root:     "/etc/checkpoint/root.json",
			Interval: Duration(5 * time.Minute),
			Timeout:  Duration(30 * time.Second),
		},
		Policy: Policy{
			Cooldown: Duration(3 * time.Second),
			Stale:    "yellow",
			Unknown:  "yellow",
			CCCD:     "yellow",
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
		Web:    Web{Listen: "127.0.0.1:8080"},
		Events: Events{Retention: Duration(30 * 24 * time.Hour)},
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
			return Config{}, &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
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

var pinName = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)

// validate checks values the TOML types cannot.
func (c *Config) validate() error {
	if c.Gate == "" || len(c.Gate) > 64 {
		return bad("gate", "must be 1 to 64 characters")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "%q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.Camera.Source {
	case "replay":
		if c.Camera.Path == "" {
			return bad("camera.path", "replay needs a path to an image file or directory")
		}
	case "rpicam", "gocv":
	default:
		return bad("camera.source", "%q is not replay, rpicam or gocv", c.Camera.Source)
	}
	if c.Camera.FPS <= 0 || c.Camera.FPS > 240 {
		return bad("camera.fps", "must be above 0 and at most 240")
	}
	if c.Camera.Width < 16 || c.Camera.Width > 8192 {
		return bad("camera.width", "must be 16 to 8192")
	}
	if c.Camera.Height < 16 || c.Camera.Height > 8192 {
		return bad("camera.height", "must be 16 to 8192")
	}
	if c.Camera.StallTimeout.D() < 100*time.Millisecond {
		return bad("camera.stall_timeout", "must be at least 100ms")
	}
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
	if c.Feed.URL != "" {
		if !strings.HasPrefix(c.Feed.URL, "http://") && !strings.HasPrefix(c.Feed.URL, "https://") {
			return bad("feed.url", "must start with http:// or https://")
		}
		if c.Feed.Root == "" {
			return bad("feed.root", "must name the provisioned root.json when feed.url is set")
		}
	}
	if c.Feed.Interval.D() < time.Second {
		return bad("feed.interval", "must be at least 1s")
	}
	if c.Feed.Timeout.D() <= 0 {
		return bad("feed.timeout", "must be positive")
	}
	if c.Policy.Cooldown.D() < 0 {
		return bad("policy.cooldown", "must not be negative")
	}
	for _, kv := range []struct{ key, v string }{
		{"policy.stale", c.Policy.Stale},
		{"policy.unknown", c.Policy.Unknown},
		{"policy.cccd", c.Policy.CCCD},
	} {
		switch kv.v {
		case "green", "yellow", "red":
		default:
			return bad(kv.key, "%q is not green, yellow or red", kv.v)
		}
	}
	switch c.GPIO.Driver {
	case "periph", "terminal", "none":
	default:
		return bad("gpio.driver", "%q is not periph, terminal or none", c.GPIO.Driver)
	}
	used := map[string]string{}
	for _, kv := range []struct{ key, v string }{
		{"gpio.green", c.GPIO.Green}, {"gpio.yellow", c.GPIO.Yellow}, {"gpio.red", c.GPIO.Red},
		{"gpio.buzzer", c.GPIO.Buzzer}, {"gpio.relay", c.GPIO.Relay}, {"gpio.button", c.GPIO.Button},
	} {
		if kv.v == "" {
			continue
		}
		if !pinName.MatchString(kv.v) {
			return bad(kv.key, "%q is not a pin name such as GPIO17", kv.v)
		}
		if other, ok := used[kv.v]; ok {
			return &keyError{
				key: kv.key, msg: fmt.Sprintf("pin %s is already used by %s", kv.v, other),
				alt: &keyError{key: other, msg: fmt.Sprintf("pin %s is already used by %s", kv.v, kv.key)},
			}
		}
		used[kv.v] = kv.key
	}
	for _, n := range c.GPIO.ActiveLow {
		switch n {
		case "green", "yellow", "red", "buzzer", "relay":
		default:
			return bad("gpio.active_low", "%q is not one of green, yellow, red, buzzer, relay", n)
		}
	}
	if c.GPIO.Debounce.D() < 0 || c.GPIO.Debounce.D() > 5*time.Second {
		return bad("gpio.debounce", "must be 0 to 5s")
	}
	if c.Web.Listen != "" {
		host, _, err := net.SplitHostPort(c.Web.Listen)
		if err != nil {
			return bad("web.listen", "%q is not host:port", c.Web.Listen)
		}
		if !IsLoopback(host) && c.Web.Token == "" {
			return bad("web.token", "required when web.listen (%s) is beyond loopback", c.Web.Listen)
		}
	}
	if c.Events.Retention.D() < time.Hour {
		return bad("events.retention", "must be at least 1h")
	}
	return nil
}

// IsLoopback reports whether host (a name or address, as in web.listen) is
// only reachable from this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// keyLines maps each dotted key to the line it is set on, for error messages.
func keyLines(text []byte) map[string]int {
	m := map[string]int{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), MaxSize)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#':
		case strings.HasPrefix(l, "["):
			table = strings.Trim(strings.SplitN(l, "#", 2)[0], "[] \t")
			if _, ok := m[table]; !ok {
				m[table] = n
			}
		default:
			i := strings.IndexByte(l, '=')
			if i < 0 {
				continue
			}
			k := strings.Trim(strings.TrimSpace(l[:i]), `"`)
			if table != "" {
				k = table + "." + k
			}
			if _, ok := m[k]; !ok {
				m[k] = n
			}
		}
	}
	return m
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
