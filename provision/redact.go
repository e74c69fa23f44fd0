package provision

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/BurntSushi/toml"

	"checkpoint/config"
)

// Secret is a config value that must not stay on the boot partition, which
// anyone holding the card can read.
type Secret struct {
	Key   string // dotted key, e.g. web.token
	Value string
}

// Secrets lists the secret values set in c: the web token, and a feed URL
// that carries a password.
func Secrets(c config.Config) []Secret {
	var s []Secret
	if c.Web.Token != "" {
		s = append(s, Secret{"web.token", c.Web.Token})
	}
	if u, err := url.Parse(c.Feed.URL); err == nil && u.User != nil {
		s = append(s, Secret{"feed.url", c.Feed.URL})
	}
	return s
}

// redactedStub replaces a copy whose secrets could not be cut out line by line.
const redactedStub = "# This gate's checkpoint.toml was imported into /etc/checkpoint/checkpoint.toml.\n" +
	"# Its secrets could not be cut out of this copy line by line, so the copy holds nothing else.\n"

// Redact returns text with the lines setting the secrets replaced by
// comments. It then checks its work: when the result still sets a secret or
// holds a secret value (a multi-line string, an inline table, a comment), it
// returns a stub that holds no setting at all. The second result reports
// whether the stub was used.
func Redact(text []byte, secrets []Secret) ([]byte, bool) {
	if len(secrets) == 0 {
		return text, false
	}
	drop := map[string]bool{}
	for _, s := range secrets {
		drop[s.Key] = true
	}
	var out bytes.Buffer
	err := config.ScanLines(text, func(_ int, line, key string, table bool) {
		if !table && drop[key] {
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			out.WriteString(indent + "# " + key + ": removed from this copy after import; the gate keeps it\n")
			return
		}
		out.WriteString(line)
		out.WriteByte('\n')
	})
	if err != nil || !clean(out.Bytes(), secrets) {
		return []byte(redactedStub), true
	}
	return out.Bytes(), false
}

// clean reports whether text sets none of the secrets and holds none of
// their values.
func clean(text []byte, secrets []Secret) bool {
	// Cutting lines out can turn the text of a multi-line string into TOML:
	// check its shape before the TOML library reads it.
	if config.CheckShape("", text) != nil {
		return false
	}
	var m map[string]any
	if _, err := toml.Decode(string(text), &m); err != nil {
		return false
	}
	for _, s := range secrets {
		if lookup(m, s.Key) {
			return false
		}
		for _, form := range []string{`"` + s.Value + `"`, `'` + s.Value + `'`} {
			if bytes.Contains(text, []byte(form)) {
				return false
			}
		}
		if len(s.Value) >= 8 && bytes.Contains(text, []byte(s.Value)) {
			return false
		}
	}
	return true
}

// lookup reports whether the dotted key is set in the decoded document.
func lookup(m map[string]any, key string) bool {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		v, ok := m[p]
		if !ok {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		if m, ok = v.(map[string]any); !ok {
			return false
		}
	}
	return false
}
