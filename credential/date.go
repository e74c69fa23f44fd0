package credential

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// birthDate is a date of birth whose parts may be unknown (0).
type birthDate struct{ Year, Month, Day int }

var errDate = errors.New("bad date")

// masked reports whether s is a masked date part ("**", "xx", "##").
func masked(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', 'x', 'X', '#':
		default:
			return false
		}
	}
	return true
}

// datePart parses n digits, or a mask (0). "00" is unknown too.
func datePart(s string, n int) (int, error) {
	if len(s) != n {
		return 0, errDate
	}
	if masked(s) {
		return 0, nil
	}
	if !isDigits(s, n) {
		return 0, errDate
	}
	v, _ := strconv.Atoi(s)
	return v, nil
}

// check validates the known parts against each other.
func (d birthDate) check(maxYear int) error {
	if d.Year != 0 && (d.Year < 1870 || d.Year > maxYear) {
		return errDate
	}
	if d.Month > 12 || d.Day > 31 {
		return errDate
	}
	if d.Month != 0 && d.Day != 0 {
		y := d.Year
		if y == 0 {
			y = 2000 // a leap year: 29 February stays possible
		}
		if d.Day > daysIn(y, d.Month) {
			return errDate
		}
	}
	return nil
}

// daysIn returns the number of days of month m in year y.
func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseISOBirth parses YYYY-MM-DD, YYYY-MM or YYYY with masked or "00" parts.
func parseISOBirth(s string) (birthDate, error) {
	p := strings.Split(s, "-")
	if len(p) > 3 {
		return birthDate{}, errDate
	}
	var d birthDate
	var err error
	if d.Year, err = datePart(p[0], 4); err != nil {
		return d, err
	}
	if len(p) > 1 {
		if d.Month, err = datePart(p[1], 2); err != nil {
			return d, err
		}
	}
	if len(p) > 2 {
		if d.Day, err = datePart(p[2], 2); err != nil {
			return d, err
		}
	}
	return d, d.check(2200)
}

// parseDMY parses DDMMYYYY; day and month may be "00" (unknown) when
// partial is set.
func parseDMY(s string, partial bool) (birthDate, error) {
	if !isDigits(s, 8) {
		return birthDate{}, errDate
	}
	day, _ := strconv.Atoi(s[0:2])
	month, _ := strconv.Atoi(s[2:4])
	year, _ := strconv.Atoi(s[4:8])
	d := birthDate{Year: year, Month: month, Day: day}
	if !partial && (day == 0 || month == 0) {
		return d, errDate
	}
	return d, d.check(2200)
}
