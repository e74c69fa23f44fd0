package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"checkpoint"
)

func TestParseValid(t *testing.T) {
	c, err := Parse("site.toml", []byte(`
gate = "north-1"
[camera]
source = "replay"
path = "/tmp/frames"
fps = 30
[policy]
cooldown = "5s"
stale = "red"
[gpio]
driver = "terminal"
relay = "GPIO5"
active_low = ["relay"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Gate != "north-1" || c.Camera.Source != "replay" || c.Camera.FPS != 30 {
		t.Errorf("got %+v", c)
	}
	if c.Policy.Cooldown.D() != 5*time.Second || c.Policy.Stale.C() != checkpoint.Red {
		t.Errorf("policy %+v", c.Policy)
	}
	if c.GPIO.Relay != "GPIO5" || c.GPIO.Green != "GPIO17" {
		t.Errorf("gpio %+v: defaults must fill what the file leaves out", c.GPIO)
	}
	if c.Cache.MaxAge.D() != 24*time.Hour {
		t.Errorf("max_age default %v", c.Cache.MaxAge.D())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		key, msg   string
	}{
		{"syntax", "gate = \"a\"\n[camera\n", 2, "", "table name"},
		{"syntax before more lines", "gate = \"a\"\n[camera\nsource = 1\n", 2, "", "table name"},
		{"table in another case", "[Camera]\nfps = 3\n", 1, "Camera", "case-sensitive: camera"},
		{"key in another case", "[camera]\nFPS = 3\n", 2, "camera.FPS", "case-sensitive: camera.fps"},
		{"type", "gate = \"a\"\n[camera]\nfps = \"fast\"\n", 3, "camera.fps", "incompatible types"},
		{"duration", "[camera]\n\nstall_timeout = \"soon\"\n", 3, "camera.stall_timeout", "not a duration"},
		{"enum", "[camera]\nsource = \"webcam\"\n", 2, "camera.source", "not replay, rpicam, gocv or none"},
		{"unknown key", "gate = \"a\"\n[gpio]\nbuzz = \"GPIO4\"\n", 3, "gpio.buzz", "unknown key"},
		{"unknown table", "[camra]\nfps = 3\n", 1, "camra", "unknown key"},
		{"replay without path", "[camera]\nsource = \"replay\"\n", 0, "camera.path", "needs a path"},
		{"pin twice", "[gpio]\nred = \"GPIO24\"\n", 2, "gpio.red", "already used by gpio.relay"},
		{"bad pin", "[gpio]\nred = \"GPIO 24\"\n", 2, "gpio.red", "not a pin name"},
		{"not a header pin", "[gpio]\nrelay = \"PIN18\"\n", 2, "gpio.relay", "not a pin name of the Pi's header"},
		{"no such GPIO", "[gpio]\nrelay = \"GPIO28\"\n", 2, "gpio.relay", "not a pin name"},
		{"header pin without GPIO", "[gpio]\nrelay = \"P1_1\"\n", 2, "gpio.relay", "not a pin name"},
		{"alias of a pin in use", "[gpio]\nrelay = \"P1_11\"\n", 2, "gpio.relay", "pin GPIO17 is already used by gpio.green"},
		{"active low name", "[gpio]\nactive_low = [\"gate\"]\n", 2, "gpio.active_low", "not one of"},
		{"verdict", "[policy]\nunknown = \"blue\"\n", 2, "policy.unknown", "not green, yellow or red"},
		{"public without token", "[web]\nlisten = \"0.0.0.0:8080\"\n", 0, "web.token", "beyond loopback"},
		{"feed url", "[feed]\nurl = \"ftp://x\"\n", 2, "feed.url", "http"},
		{"fps", "[camera]\nfps = 0\n", 2, "camera.fps", "above 0"},
		{"direction", "direction = \"both\"\n", 1, "direction", "not in or out"},
		{"pair window", "[policy]\npair_window = \"0s\"\n", 2, "policy.pair_window", "1s to 10m"},
		{"trigger pin", "[camera]\ntrigger = \"GPIO 6\"\n", 2, "camera.trigger", "not a pin name"},
		{"trigger on a used pin", "[camera]\ntrigger = \"GPIO24\"\n", 2, "camera.trigger", "already used by gpio.relay"},
		{"keypad trigger without keypad", "[camera]\ntrigger = \"keypad\"\n", 2, "camera.trigger", "needs keypad.device"},
		{"trigger window", "[camera]\ntrigger_window = \"100ms\"\n", 2, "camera.trigger_window", "500ms to 10m"},
		{"scanner path", "[scanner]\ndevice = \"ttyACM0\"\n", 2, "scanner.device", "absolute device path"},
		{"keypad not evdev", "[keypad]\ndevice = \"/dev/ttyACM0\"\n", 2, "keypad.device", "not an evdev device"},
		{"baud", "[scanner]\nbaud = 0\n", 2, "scanner.baud", "300 to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("site.toml", []byte(tt.text))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *config.Error", err)
			}
			if ce.File != "site.toml" || ce.Line != tt.line || ce.Key != tt.key || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("got %q (line %d key %q), want line %d key %q msg ~%q", ce, ce.Line, ce.Key, tt.line, tt.key, tt.msg)
			}
			if !strings.HasPrefix(ce.Error(), "site.toml") {
				t.Errorf("error %q does not start with the file name", ce)
			}
		})
	}
}

func TestCanonicalPin(t *testing.T) {
	for in, want := range map[string]string{
		"GPIO17": "GPIO17", "gpio4": "GPIO4", "BCM27": "GPIO27", "P1_11": "GPIO17", "p1_40": "GPIO21", "GPIO0": "GPIO0",
		"GPIO28": "", "GPIO017": "", "PIN18": "", "P1_2": "", "P1_41": "", "GPIO-1": "", "": "", "RELAY": "",
	} {
		got, ok := CanonicalPin(in)
		if got != want || ok != (want != "") {
			t.Errorf("CanonicalPin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(p, []byte("gate = \"g\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(p); err != nil || c.Gate != "g" {
		t.Fatalf("Load = %+v, %v", c.Gate, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# pad\n", MaxSize/6+2)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

// TestLoadRefusesWritableByOthers: whoever can write the config controls the
// gate (its feed, root and token), so a config writable by its group or by
// everyone is refused, naming the file and the mode.
func TestLoadRefusesWritableByOthers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "checkpoint.toml")
	if err := os.WriteFile(p, []byte("gate = \"g\"\n[web]\nlisten = \"0.0.0.0:8080\"\ntoken = \"s3cret-token\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o640, true}, {0o644, true}, {0o400, true},
		{0o666, false}, {0o602, false}, {0o620, false}, {0o660, false}, {0o777, false},
	} {
		if err := os.Chmod(p, tc.mode); err != nil { // chmod is not masked by the umask
			t.Fatal(err)
		}
		_, err := Load(p)
		if tc.ok {
			if err != nil {
				t.Errorf("mode %04o: %v", tc.mode, err)
			}
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.File != p || !strings.Contains(ce.Msg, "writable") || !strings.Contains(ce.Msg, fmt.Sprintf("%04o", tc.mode)) {
			t.Errorf("mode %04o: err = %v, want a *config.Error naming the file, the mode and why", tc.mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("mode %04o: error carries the token: %v", tc.mode, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("gate = \"a\"\n[camera]\nsource = \"replay\"\npath = \"x\"\n"))
	f.Add([]byte("[gpio]\nactive_low = [\"relay\"]\n[web]\nlisten = \"[::1]:80\"\n"))
	f.Add([]byte("[camera\n"))
	f.Add([]byte("a.b.c = 1\n[[x]]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("fuzz.toml", b)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			return
		}
		// Whatever parses must be valid.
		if err := c.validate(); err != nil {
			t.Fatalf("parsed config fails validation: %v", err)
		}
	})
}

// allocated returns the bytes f allocates, as the runtime counts them
// (TotalAlloc: every allocation, freed or not, so it bounds the peak).
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestParseShapeBombs: configs built to exhaust the TOML library's memory
// (it keeps every key's whole path, so nesting costs its square) are refused
// with the line named, allocating little; what the limits let through stays
// under the ceiling too. The cases grow, and the first
// failure ends the test, so on a parser without the check it fails on the
// small ones (hundreds of MB) before the ones near MaxSize (many GB).
func TestParseShapeBombs(t *testing.T) {
	const ceiling = 64 << 20
	inline := func(n int) string { return strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n) }
	long := strings.Repeat("k", MaxKeyLen)
	var worst strings.Builder
	for i := range MaxValues/MaxDepth - 1 {
		k := fmt.Sprint(i) + long[len(fmt.Sprint(i)):]
		worst.WriteString(k + " = " + strings.Repeat("{"+long+" = ", MaxDepth-1) + "1" + strings.Repeat("}", MaxDepth-1) + "\n")
	}
	for _, tc := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"12 KB of nested inline tables", "gate = \"g\"\nx = " + inline(3000) + "\n", 2, "nested more than 8 levels"},
		{"8 KB dotted table header", "[" + strings.Repeat("a.", 4000) + "a]\n", 1, "longer than 128 bytes"},
		{"8 KB dotted key", "\n" + strings.Repeat("a.", 4000) + "a = 1\n", 2, "longer than 128 bytes"},
		{"inline tables of short dotted keys", "[camera]\nx = " + strings.Repeat("{a.a.a.a.a=", 1000) + "1" + strings.Repeat("}", 1000) + "\n", 2, "nested more than"},
		{"arrays of inline tables", "x = " + strings.Repeat("[{a=", 2000) + "1" + strings.Repeat("}]", 2000) + "\n", 1, "nested more than"},
		{"bomb after a multi-line string", "s = '''\n{a={a=\n'''\nt = \"\"\"\\\n\"\"\"\"\nx = " + inline(3000) + "\n", 6, "nested more than"},
		{"long quoted key", "\"" + strings.Repeat("k", 200000) + "\" = 1\n", 1, "longer than 128 bytes"},
		{"nested arrays near MaxSize", "x = " + strings.Repeat("[", MaxSize/2-10) + strings.Repeat("]", MaxSize/2-10) + "\n", 1, "nested more than"},
		{"nested inline tables near MaxSize", "x = " + inline(MaxSize/4-10) + "\n", 1, "nested more than"},
		{"dotted table header near MaxSize", "[" + strings.Repeat("a.", MaxSize/2-10) + "a]\n", 1, "longer than"},
		{"1 MiB of short keys", strings.Repeat("k=1\n", MaxSize/4-1), 4097, "more than 4096 keys"},
		{"1 MiB of array elements", "x=[" + strings.Repeat("1,", MaxSize/2-10) + "]\n", 1, "more than 4096 keys"},
		// Within every limit, as costly as can be: 511 lines of 128-byte
		// keys nested 8 deep parse in full (to the unknown key).
		{"the limits' worst case", worst.String(), 1, "unknown key"},
	} {
		var err error
		n := allocated(func() { _, err = Parse("bomb.toml", []byte(tc.text)) })
		t.Logf("%s (%d bytes): %d bytes allocated: %v", tc.name, len(tc.text), n, err)
		var ce *Error
		if !errors.As(err, &ce) || ce.Line != tc.line || !strings.Contains(ce.Msg, tc.msg) {
			t.Fatalf("%s: err = %v, want line %d ~%q", tc.name, err, tc.line, tc.msg)
		}
		if n > ceiling {
			t.Fatalf("%s: Parse allocated %d MB, more than %d MB", tc.name, n>>20, ceiling>>20)
		}
	}
}

// TestCheckShape: real configs and structure inside strings and comments
// pass; the limits are exact.
func TestCheckShape(t *testing.T) {
	tmpl, err := os.ReadFile("../image/checkpoint.toml")
	if err != nil {
		t.Fatal(err)
	}
	deep := func(n int) string { return "x = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n" }
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"template", string(tmpl), true},
		{"structure in strings and comments", "gate = \"{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[{[\" # {{{{{{{{{{{{{{{{{{{{{{\n" +
			"[web]\ntoken = '{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{'\n[camera]\nargs = [\"[[[[[[[[[[[[[[[[[[[[\", '''\n]]]]{{{{\n''', \"\"\"x\\\"\"\"\n\"\"\"]\n", true},
		{"multi-line array with comments", "[gpio]\nactive_low = [ # {{{{{{{{{{{{{{{{{{{{\n  \"relay\", # [[[[[[[[[[[[[[[[[[\n]\n", true},
		{"date with a space", "x = 1979-05-27 07:32:00Z\ny = [1979-05-27 07:32:00Z, 2]\n", true},
		{"8 levels", "[a.b.c]\nd.e = {f = {g = [1]}}\n", true},
		{"9 levels", "[a.b.c]\nd.e = {f = {g = [[1]]}}\n", false},
		{"9 levels of dotted key", "[a.b.c]\nd.e.f.g.h.i = 1\n", false},
		{"9 levels of header", "[a.b.c.d.e.f.g.h.i]\n", false},
		{"7 arrays after a key", deep(7), true},
		{"8 arrays after a key", deep(8), false},
		{"4096 values", "x = [" + strings.Repeat("1,", 4095) + "]\n", true},
		{"4097 values", "x = [" + strings.Repeat("1,", 4096) + "]\n", false},
		{"4097 keys", strings.Repeat("k = 1\n", 4097), false},
		{"quoted dots are one part", "\"" + strings.Repeat(".", 100) + "\" = 1\n", true},
		{"128-byte key", strings.Repeat("k", 128) + " = 1\n", true},
		{"129-byte key", strings.Repeat("k", 129) + " = 1\n", false},
		{"129-byte header", "[" + strings.Repeat("k", 129) + "]\n", false},
		{"not TOML", "= = ]]]] }}} [ [ { \"\n'''", true}, // left to the TOML parser
	} {
		err := CheckShape("x.toml", []byte(tc.text))
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckShape = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	if _, err := Parse("template", tmpl); err != nil {
		t.Errorf("the template does not parse: %v", err)
	}
}
