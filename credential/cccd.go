package credential

import (
	"strings"
	"unicode/utf8"

	"checkpoint"
)

// looksCCCD reports whether the fields are a CCCD payload rather than 1405:
// at least 7 fields, a 12-digit ID number first and DDMMYYYY fourth.
func looksCCCD(f []string) bool {
	return len(f) >= 7 && isDigits(f[0], 12) && isDigits(f[3], 8)
}

// parseCCCD parses CCCD|CMND|Name|DDMMYYYY|Gender|Address|IssueDate. Extra
// separators inside the address are kept in it; fields after the issue date
// are ignored.
func parseCCCD(f []string) (checkpoint.Credential, error) {
	bad := func(i int, name, problem string) (checkpoint.Credential, error) {
		return checkpoint.Credential{}, &FieldError{Format: checkpoint.FormatCCCD, Field: i + 1, Name: name, Problem: problem}
	}
	if !isDigits(f[0], 12) {
		return bad(0, "ID number", "not 12 digits")
	}
	if f[1] != "" && !isDigits(f[1], 9) && !isDigits(f[1], 12) {
		return bad(1, "old ID number", "not 9 or 12 digits")
	}
	name, err := personName(f[2])
	if err != nil {
		return bad(2, "name", err.Error())
	}
	dob, err := parseDMY(f[3], true)
	if err != nil {
		return bad(3, "birth date", "not DDMMYYYY")
	}
	if g := repairText(f[4]); utf8.RuneCountInString(g) > 16 {
		return bad(4, "gender", "too long")
	}
	issued := -1
	for i := 6; i < len(f); i++ {
		if _, err := parseDMY(f[i], false); err == nil {
			issued = i
			break
		}
	}
	if issued < 0 {
		return bad(6, "issue date", "no DDMMYYYY date after the address")
	}
	if addr := strings.Join(f[5:issued], "|"); len(addr) > 1024 {
		return bad(5, "address", "too long")
	}
	c := unsigned(checkpoint.FormatCCCD, f[0], name, dob)
	c.Document = checkpoint.Document{Number: f[0], Old: f[1], Year: dob.Year, Month: dob.Month, Day: dob.Day}
	return c, nil
}
