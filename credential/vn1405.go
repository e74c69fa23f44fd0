package credential

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"checkpoint"
)

// Limits of the 1405 fields.
const (
	maxDocLen  = 20  // SoGiayTo: ID or passport number, possibly masked
	maxNameLen = 120 // HoTen, in runes
	maxQIDLen  = 64  // QID
)

// parse1405 parses SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID[|EXT]. Fields
// past the sixth are extra separators inside EXT; trailing empty fields are
// ignored.
func parse1405(f []string) (checkpoint.Credential, error) {
	bad := func(i int, name, problem string) (checkpoint.Credential, error) {
		return checkpoint.Credential{}, &FieldError{Format: checkpoint.FormatVN1405, Field: i + 1, Name: name, Problem: problem}
	}
	if len(f[0]) > maxDocLen {
		return bad(0, "document number", "too long")
	}
	for _, r := range f[0] {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '*') {
			return bad(0, "document number", "not letters, digits or '*'")
		}
	}
	name, err := personName(f[1])
	if err != nil {
		return bad(1, "name", err.Error())
	}
	dob, err := parseISOBirth(f[2])
	if err != nil {
		return bad(2, "birth date", "not YYYY-MM-DD")
	}
	if f[3] != "0" && f[3] != "1" {
		return bad(3, "registration type", "not 0 or 1")
	}
	if f[4] == "" {
		return bad(4, "QID", "empty")
	}
	if len(f[4]) > maxQIDLen {
		return bad(4, "QID", "too long")
	}
	for _, r := range f[4] {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-' || r == '_' || r == '.') {
			return bad(4, "QID", "not letters or digits")
		}
	}
	c := unsigned(checkpoint.FormatVN1405, f[4], name, dob)
	c.Document = checkpoint.Document{Number: f[0], Year: dob.Year, Month: dob.Month, Day: dob.Day}
	return c, nil
}

// unsigned is the credential of an unsigned identity payload: its key, and
// what the operator may see of its holder.
func unsigned(format checkpoint.Format, key, name string, dob birthDate) checkpoint.Credential {
	return checkpoint.Credential{
		Format: format,
		Key:    key,
		Holder: checkpoint.Holder{
			Initials:   initials(name),
			BirthDay:   dob.Day,
			BirthMonth: dob.Month,
			FullName:   name,
		},
		Signature: checkpoint.Unsigned,
	}
}

// nameError is a problem with a name field (never its value).
type nameError string

func (e nameError) Error() string { return string(e) }

// personName checks and cleans a name field.
func personName(s string) (string, error) {
	name := cleanName(repairText(s))
	switch {
	case name == "":
		return "", nameError("empty")
	case utf8.RuneCountInString(name) > maxNameLen:
		return "", nameError("too long")
	case strings.IndexFunc(name, unicode.IsLetter) < 0:
		return "", nameError("no letters")
	}
	return name, nil
}
