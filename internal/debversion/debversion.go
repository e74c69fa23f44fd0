// Package debversion checks and orders Debian package versions
// ([epoch:]upstream[-revision]) as dpkg does (deb-version(7)): the
// firmware the feed names is compared with the package installed.
package debversion

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxLen caps a version's length.
const MaxLen = 128

// Check reports what is wrong with v as a Debian version, or nil.
func Check(v string) error {
	if v == "" || len(v) > MaxLen {
		return fmt.Errorf("version %q: must be 1 to %d characters", v, MaxLen)
	}
	epoch, up, rev := split(v)
	if epoch != "" {
		if _, err := strconv.ParseUint(epoch, 10, 31); err != nil {
			return fmt.Errorf("version %q: the epoch is not a number", v)
		}
	}
	if up == "" || up[0] < '0' || up[0] > '9' {
		return fmt.Errorf("version %q: must start with a digit", v)
	}
	allowed := "+.~"
	if rev != "" || strings.Contains(v, "-") {
		allowed += "-"
	}
	for _, s := range []string{up, rev} {
		for _, c := range s {
			if !isAlnum(c) && !strings.ContainsRune(allowed, c) {
				return fmt.Errorf("version %q: character %q is not allowed", v, c)
			}
		}
	}
	if strings.Contains(v, "-") && rev == "" {
		return errors.New("version " + strconv.Quote(v) + ": empty revision")
	}
	return nil
}

// Compare returns -1, 0 or 1 as a is lower than, equal to or higher than b
// in dpkg's order. Both should pass Check.
func Compare(a, b string) int {
	ea, ua, ra := split(a)
	eb, ub, rb := split(b)
	na, _ := strconv.Atoi(or(ea, "0"))
	nb, _ := strconv.Atoi(or(eb, "0"))
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	if c := part(ua, ub); c != 0 {
		return c
	}
	return part(or(ra, "0"), or(rb, "0"))
}

// split cuts v into epoch, upstream version and revision.
func split(v string) (epoch, upstream, revision string) {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		epoch, v = v[:i], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// part compares an upstream version or a revision: alternating runs of
// non-digits (by order, below) and digits (numerically).
func part(a, b string) int {
	for a != "" || b != "" {
		var sa, sb string
		sa, a = run(a, false)
		sb, b = run(b, false)
		for i := 0; i < len(sa) || i < len(sb); i++ {
			oa, ob := order(sa, i), order(sb, i)
			if oa != ob {
				return sign(oa - ob)
			}
		}
		sa, a = run(a, true)
		sb, b = run(b, true)
		sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
		if len(sa) != len(sb) {
			return sign(len(sa) - len(sb))
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	return 0
}

// run splits off the leading run of digits (or non-digits) of s.
func run(s string, digits bool) (string, string) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9') == digits {
		i++
	}
	return s[:i], s[i:]
}

// order is the weight of s[i] in a non-digit run: "~" sorts before
// everything, even the end of the run; letters before other characters.
func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case c == '~':
		return -1
	case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		return int(c)
	}
	return int(c) + 256
}

func isAlnum(c rune) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
