package credential

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// repairText makes s valid UTF-8. A QR decoder that guessed ISO-8859-1 for
// UTF-8 bytes yields "NGUYá»„N" for "NGUYỄN"; such text (every rune below
// U+0100, some above U+007F, and the bytes valid UTF-8) is decoded again.
// Bytes that are not UTF-8 become U+FFFD.
func repairText(s string) string {
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	high := false
	for _, r := range s {
		if r > 0xFF {
			return s
		}
		if r >= 0x80 {
			high = true
		}
	}
	if !high {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	if !utf8.Valid(b) {
		return s
	}
	return string(b)
}

// foldLetter returns the upper-case base letter of r without diacritics
// ('ễ' → 'E', 'đ' → 'D'), or 0 when r is not a letter.
func foldLetter(r rune) rune {
	switch r {
	case 'đ', 'Đ':
		return 'D'
	case 'ø', 'Ø':
		return 'O'
	case 'ł', 'Ł':
		return 'L'
	case 'ß':
		return 'S'
	}
	if !unicode.IsLetter(r) {
		return 0
	}
	for _, d := range norm.NFD.String(string(r)) {
		if unicode.IsLetter(d) {
			return unicode.ToUpper(d)
		}
	}
	return unicode.ToUpper(r)
}

// initials returns the first letter of each word of name, upper case and
// without diacritics: "Nguyễn Văn Ánh" → "NVA". Words are separated by
// spaces, '<' (ICAO transliteration), '-' and ','.
func initials(name string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || r == '<' || r == '-' || r == ','
	}) {
		for _, r := range w {
			if l := foldLetter(r); l != 0 {
				b.WriteRune(l)
				break
			}
		}
	}
	return b.String()
}

// cleanName collapses runs of white space, turns control characters into
// spaces and removes format characters (Unicode category Cf: bidirectional
// overrides such as U+202E, which would show the name reversed, zero-width
// spaces and joiners, soft hyphens, the byte-order mark).
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
