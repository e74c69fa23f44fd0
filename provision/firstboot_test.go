package provision

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"checkpoint/config"
)

// gate is a boot partition and a config directory, as on a gate.
type gate struct {
	boot, etc string
}

func newGate(t *testing.T) gate {
	t.Helper()
	d := t.TempDir()
	g := gate{boot: filepath.Join(d, "boot", "firmware"), etc: filepath.Join(d, "etc", "checkpoint")}
	if err := os.MkdirAll(g.boot, 0o755); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g gate) read(t *testing.T, path string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func TestImport(t *testing.T) {
	g := newGate(t)
	writeFile(t, g.boot, ConfigName, siteConfig)
	writeFile(t, g.boot, RootName, rootJSON)
	writeFile(t, g.boot, ErrorName, "an old refusal")
	gid := os.Getgid()
	res, err := Importer{Boot: g.boot, Etc: g.etc, GID: gid}.Import()
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if !res.Imported || !res.Root || res.Stub || strings.Join(res.Redacted, ",") != "web.token" {
		t.Errorf("Result = %+v, want imported with root, web.token redacted line by line", res)
	}

	// Installed: byte for byte, readable by the daemon's group only.
	installed := filepath.Join(g.etc, EtcConfigName)
	if got, _ := g.read(t, installed); got != siteConfig {
		t.Errorf("installed config differs:\n%s", got)
	}
	if c, err := config.Load(installed); err != nil || c.Web.Token != "s3cret-operator-token" || c.Gate != "north-7" {
		t.Errorf("installed config loads as gate %q token %q, %v", c.Gate, c.Web.Token, err)
	}
	st, err := os.Stat(installed)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o640 {
		t.Errorf("installed config mode %o, want 640", m)
	}
	if g := st.Sys().(*syscall.Stat_t).Gid; int(g) != gid {
		t.Errorf("installed config group %d, want %d", g, gid)
	}
	if got, _ := g.read(t, filepath.Join(g.etc, EtcRootName)); got != rootJSON {
		t.Errorf("installed root.json differs: %s", got)
	}

	// The boot partition: nothing left to import, no secret, no old error.
	if _, ok := g.read(t, filepath.Join(g.boot, ConfigName)); ok {
		t.Error("checkpoint.toml still on the boot partition: it would be imported again")
	}
	if _, ok := g.read(t, filepath.Join(g.boot, ErrorName)); ok {
		t.Error("an old checkpoint-error.txt is still on the boot partition")
	}
	left, ok := g.read(t, filepath.Join(g.boot, ImportedName))
	if !ok {
		t.Fatal("no checkpoint-imported.toml on the boot partition")
	}
	if strings.Contains(left, "s3cret") {
		t.Errorf("the secret is still on the boot partition:\n%s", left)
	}
	for _, keep := range []string{`gate = "north-7"`, `listen = "0.0.0.0:8080"`, "# Gate 7, north entrance", "web.token: removed"} {
		if !strings.Contains(left, keep) {
			t.Errorf("imported copy lacks %q:\n%s", keep, left)
		}
	}

	// The next boot finds nothing to import and changes nothing.
	res, err = Importer{Boot: g.boot, Etc: g.etc, GID: gid}.Import()
	if err != nil || res.Imported {
		t.Errorf("second Import = %+v, %v; want nothing imported", res, err)
	}
	if got, _ := g.read(t, installed); got != siteConfig {
		t.Error("second boot changed the installed config")
	}
}

func TestImportRefused(t *testing.T) {
	for _, tc := range []struct {
		name, cfg, root, want string
	}{
		{"unknown key", "gate = \"a\"\n[gpio]\ngreen = \"GPIO5\"\nrelay_pin = \"GPIO6\"\n", "", "checkpoint.toml:4: gpio.relay_pin: unknown key"},
		{"bad value", "log_level = \"loud\"\n", "", `log_level: "loud" is not debug`},
		{"bad root", "gate = \"a\"\n", `{"signed":{}}`, `signed._type is ""`},
		{"nesting bomb", "gate = \"a\"\nx = " + strings.Repeat("{a=", 3000) + "1" + strings.Repeat("}", 3000) + "\n", "",
			"checkpoint.toml:2: nested more than 8 levels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(t)
			// The gate runs on an earlier config, which must survive.
			if err := os.MkdirAll(g.etc, 0o750); err != nil {
				t.Fatal(err)
			}
			writeFile(t, g.etc, EtcConfigName, "gate = \"earlier\"\n")
			writeFile(t, g.boot, ConfigName, tc.cfg)
			if tc.root != "" {
				writeFile(t, g.boot, RootName, tc.root)
			}
			res, err := Importer{Boot: g.boot, Etc: g.etc, GID: -1}.Import()
			var refused *RefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Import = %v, want a RefusedError containing %q", err, tc.want)
			}
			if res.Imported {
				t.Error("Result.Imported for a refused file")
			}
			if got, _ := g.read(t, filepath.Join(g.etc, EtcConfigName)); got != "gate = \"earlier\"\n" {
				t.Errorf("a refused import changed the installed config to %q", got)
			}
			if got, ok := g.read(t, filepath.Join(g.boot, ConfigName)); !ok || got != tc.cfg {
				t.Error("the refused file was not left on the boot partition for the technician")
			}
			msg, ok := g.read(t, filepath.Join(g.boot, ErrorName))
			if !ok || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "NOT imported") {
				t.Errorf("checkpoint-error.txt = %q, want the reason %q", msg, tc.want)
			}
			if reason := FaultReason(g.boot, g.etc); tc.root == "" && !strings.Contains(reason, tc.want) {
				t.Errorf("FaultReason = %q, want it to name %q", reason, tc.want)
			}
		})
	}
}

// TestImportBombInSecret: a token written as a multi-line string whose text
// is a TOML nesting bomb is a valid config; cutting the token's first line
// out of the boot partition's copy brings the bomb to life. Checking that
// copy must not hand it to the TOML library (as root, on first boot): the
// copy becomes the stub, and Import allocates little (runtime.MemStats).
func TestImportBombInSecret(t *testing.T) {
	g := newGate(t)
	bomb := "x = " + strings.Repeat("{a=", 3000) + "1" + strings.Repeat("}", 3000)
	cfg := "gate = \"a\"\n[web]\nlisten = \"0.0.0.0:8080\"\ntoken = \"\"\"\n" + bomb + "\n\"\"\"\n"
	writeFile(t, g.boot, ConfigName, cfg)
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	res, err := Importer{Boot: g.boot, Etc: g.etc, GID: -1}.Import()
	runtime.ReadMemStats(&b)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if n := b.TotalAlloc - a.TotalAlloc; n > 64<<20 {
		t.Errorf("Import allocated %d MB", n>>20)
	}
	if !res.Imported || !res.Stub {
		t.Errorf("Result = %+v, want imported with the copy replaced by the stub", res)
	}
	if got, _ := g.read(t, filepath.Join(g.boot, ImportedName)); strings.Contains(got, "{a={a=") {
		t.Errorf("the boot partition's copy keeps the token's text:\n%.200s", got)
	}
}

func TestImportNothing(t *testing.T) {
	g := newGate(t)
	res, err := Importer{Boot: g.boot, Etc: g.etc, GID: -1}.Import()
	if err != nil || res.Imported {
		t.Fatalf("Import without a file = %+v, %v", res, err)
	}
	if _, err := os.Stat(g.etc); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Import without a file created the config directory")
	}
}

func TestFaultReason(t *testing.T) {
	g := newGate(t)
	if err := os.MkdirAll(g.etc, 0o750); err != nil {
		t.Fatal(err)
	}
	installed := writeFile(t, g.etc, EtcConfigName, "gate = \"ok\"\n")
	if r := FaultReason(g.boot, g.etc); r != "" {
		t.Errorf("FaultReason with good files = %q, want empty", r)
	}
	writeFile(t, g.etc, EtcConfigName, "[camera]\nfps = 0\n")
	if r := FaultReason(g.boot, g.etc); !strings.Contains(r, "installed config") || !strings.Contains(r, installed+":2: camera.fps") {
		t.Errorf("FaultReason with a bad installed config = %q", r)
	}
}

func TestRedact(t *testing.T) {
	secret := []Secret{{"web.token", "tok-123456789"}}
	for _, tc := range []struct {
		name, in string
		secrets  []Secret
		stub     bool
		want     string // in the output, unless stub
	}{
		{"none", "gate = \"a\"\n", nil, false, "gate = \"a\""},
		{"table", "[web]\nlisten = \"0.0.0.0:1\"\n  token = \"tok-123456789\" # set by ops\n", secret, false,
			"  # web.token: removed"},
		{"dotted", "gate = \"a\"\nweb.token = \"tok-123456789\"\n", secret, false, "# web.token: removed"},
		{"quoted key", "[web]\n\"token\" = 'tok-123456789'\n", secret, false, "# web.token: removed"},
		{"inline table", "web = { listen = \"0.0.0.0:1\", token = \"tok-123456789\" }\n", secret, true, ""},
		{"multi-line", "[web]\ntoken = \"\"\"\ntok-123456789\"\"\"\n", secret, true, ""},
		{"in a comment", "# token is tok-123456789\n[web]\ntoken = \"tok-123456789\"\n", secret, true, ""},
		{"feed password", "[feed]\nurl = \"https://gate:pw@feed.example/\"\n",
			[]Secret{{"feed.url", "https://gate:pw@feed.example/"}}, false, "# feed.url: removed"},
		{"other tables keep", "[events]\ntoken = \"not-a-secret-here\"\n[web]\ntoken = \"tok-123456789\"\n", secret, false,
			"token = \"not-a-secret-here\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stub := Redact([]byte(tc.in), tc.secrets)
			if stub != tc.stub {
				t.Fatalf("stub = %v, want %v; output:\n%s", stub, tc.stub, out)
			}
			for _, s := range tc.secrets {
				if strings.Contains(string(out), s.Value) {
					t.Errorf("secret %s left in the output:\n%s", s.Key, out)
				}
			}
			if !tc.stub && !strings.Contains(string(out), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	c := config.Default()
	if s := Secrets(c); len(s) != 0 {
		t.Errorf("Secrets of the defaults = %v, want none", s)
	}
	c.Web.Token = "t"
	c.Feed.URL = "https://user:pw@feed.example/"
	s := Secrets(c)
	if len(s) != 2 || s[0].Key != "web.token" || s[1].Key != "feed.url" {
		t.Errorf("Secrets = %v, want web.token and feed.url", s)
	}
	c.Feed.URL = "https://feed.example/"
	if s := Secrets(c); len(s) != 1 {
		t.Errorf("a feed URL without a password is a secret: %v", s)
	}
}

// TestTemplate checks the config template shipped on the image is valid and
// says what the defaults say.
func TestTemplate(t *testing.T) {
	path := filepath.Join("..", "image", "checkpoint.toml")
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("the image's template does not load: %v", err)
	}
	if d := config.Default(); !reflect.DeepEqual(c, d) {
		t.Errorf("the template differs from the defaults:\n%+v\nwant\n%+v", c, d)
	}
}
