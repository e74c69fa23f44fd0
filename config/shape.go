package config

import "fmt"

// Limits on a config's shape, checked before the TOML library sees the text:
// the library keeps every key's whole path, so its memory grows with the
// square of the nesting (12 KB of nested inline tables took 424 MB), and by
// hundreds of bytes a key or value (1 MiB of short keys took 270 MB). A real
// config nests three levels (table, key, array) and holds about 60 values.
const (
	// MaxDepth caps a key's path: table header parts, dotted key parts,
	// enclosing inline tables' keys and arrays, together.
	MaxDepth = 8
	// MaxKeyLen caps one key or table header, in bytes as written.
	MaxKeyLen = 128
	// MaxValues caps the keys, table headers and array elements together.
	MaxValues = 4096
)

// CheckShape checks that TOML text nests at most MaxDepth levels, has no
// key or table header longer than MaxKeyLen bytes and at most MaxValues
// keys, headers and array elements. It reads strings and
// comments as TOML does, so their content is never mistaken for structure,
// and leaves every other syntax error to the TOML parser. The error is an
// *Error naming the file and line.
func CheckShape(name string, text []byte) error {
	s := &shape{b: text, line: 1}
	s.document()
	if s.err != "" {
		return &Error{File: name, Line: s.errLine, Msg: s.err}
	}
	return nil
}

// shape scans TOML text for its nesting and key lengths.
type shape struct {
	b       []byte
	i       int
	line    int
	err     string
	errLine int
	values  int // keys, headers and array elements so far
}

// count counts one more key, header or array element, failing past MaxValues.
func (s *shape) count() bool {
	if s.values++; s.values > MaxValues {
		s.fail("more than %d keys, table headers and array elements", MaxValues)
		return false
	}
	return true
}

func (s *shape) fail(format string, args ...any) {
	if s.err == "" {
		s.err, s.errLine = fmt.Sprintf(format, args...), s.line
	}
}

func (s *shape) peek(off int) byte {
	if s.i+off < len(s.b) {
		return s.b[s.i+off]
	}
	return 0
}

// document scans table headers and key/value lines.
func (s *shape) document() {
	base := 0 // the current table header's parts
	for s.err == "" {
		s.space(true)
		if s.i >= len(s.b) {
			return
		}
		start := s.i
		if s.b[s.i] == '[' {
			s.i++
			if s.peek(0) == '[' {
				s.i++
			}
			base = s.key()
			s.deep(base)
			s.count()
		} else if parts := s.key(); parts > 0 && s.peek(0) == '=' && s.deep(base+parts) && s.count() {
			s.i++
			s.value(base + parts)
		}
		if s.i == start {
			s.i++ // not TOML: the parser will say so
		}
		s.skipLine()
	}
}

// deep reports whether depth is within MaxDepth, failing when it is not.
func (s *shape) deep(depth int) bool {
	if depth > MaxDepth {
		s.fail("nested more than %d levels deep (table headers, dotted keys, inline tables and arrays together)", MaxDepth)
		return false
	}
	return true
}

// skipLine skips to the end of the line, past any closing brackets.
func (s *shape) skipLine() {
	for s.i < len(s.b) && s.b[s.i] != '\n' {
		s.i++
	}
}

// space skips blanks and comments, and newlines when nl is set.
func (s *shape) space(nl bool) {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r':
		case '\n':
			if !nl {
				return
			}
			s.line++
		case '#':
			for s.i < len(s.b) && s.b[s.i] != '\n' {
				s.i++
			}
			continue
		default:
			return
		}
		s.i++
	}
}

// key scans a dotted key and returns its parts; it stops after the blanks
// that follow it.
func (s *shape) key() int {
	parts, start := 0, -1
	for s.err == "" {
		s.space(false)
		if start < 0 {
			start = s.i
		}
		at := s.i
		switch s.peek(0) {
		case '"', '\'':
			s.str()
		default:
			for s.i < len(s.b) && !delimiter(s.b[s.i]) {
				s.i++
			}
		}
		if s.i == at {
			return parts
		}
		parts++
		if s.i-start > MaxKeyLen {
			s.fail("key or table header longer than %d bytes", MaxKeyLen)
		}
		s.space(false)
		if s.peek(0) != '.' {
			break
		}
		s.i++
	}
	return parts
}

// delimiter reports whether c ends a bare key or a plain value.
func delimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '=', '.', '[', ']', '{', '}', ',', '#', '"', '\'':
		return true
	}
	return false
}

// value scans one value of the key at depth (its path's length).
func (s *shape) value(depth int) {
	s.space(false)
	switch s.peek(0) {
	case '"', '\'':
		s.str()
	case '[':
		s.array(depth + 1)
	case '{':
		s.inline(depth)
	default: // number, boolean, date and time (which may hold a space)
		for s.i < len(s.b) && s.b[s.i] != '\n' && s.b[s.i] != ',' && s.b[s.i] != ']' && s.b[s.i] != '}' && s.b[s.i] != '#' {
			s.i++
		}
	}
}

// array scans an array whose elements are at depth.
func (s *shape) array(depth int) {
	if !s.deep(depth) {
		return
	}
	s.i++ // [
	for s.err == "" {
		s.space(true)
		switch s.peek(0) {
		case ']':
			s.i++
			return
		case ',':
			s.i++
			continue
		case 0:
			return
		}
		at := s.i
		if !s.count() {
			return
		}
		s.value(depth)
		if s.i == at {
			return // not TOML
		}
	}
}

// inline scans an inline table of the key at depth.
func (s *shape) inline(depth int) {
	s.i++ // {
	for s.err == "" {
		s.space(true)
		switch s.peek(0) {
		case '}':
			s.i++
			return
		case ',':
			s.i++
			continue
		}
		parts := s.key()
		if parts == 0 || s.peek(0) != '=' {
			return // not TOML
		}
		if !s.deep(depth+parts) || !s.count() {
			return
		}
		s.i++ // =
		s.value(depth + parts)
	}
}

// str scans a basic, literal or multi-line string.
func (s *shape) str() {
	q := s.b[s.i]
	if s.peek(1) == q && s.peek(2) == q {
		s.i += 3
		for s.i < len(s.b) {
			switch c := s.b[s.i]; {
			case c == '\\' && q == '"':
				s.i++
				if s.peek(0) == '\n' {
					s.line++ // a line-ending backslash
				}
			case c == '\n':
				s.line++
			case c == q && s.peek(1) == q && s.peek(2) == q:
				s.i += 3
				for n := 0; n < 2 && s.peek(0) == q; n++ {
					s.i++ // quotes just before the closing ones belong to the string
				}
				return
			}
			s.i++
		}
		return
	}
	s.i++
	for s.i < len(s.b) && s.b[s.i] != '\n' {
		c := s.b[s.i]
		s.i++
		if c == q {
			return
		}
		if c == '\\' && q == '"' && s.peek(0) != '\n' {
			s.i++
		}
	}
}
