package cache

import "fmt"

// A status row's valid-until (column u) is stored as written by the feed,
// unix seconds (0: no end), except the usual case, the end of a day in
// Vietnam (what a date YYYY-MM-DD gives: midnight UTC+07:00 after it),
// which is stored as minus the number of that midnight's day since the
// epoch: a 2-byte integer instead of a 4-byte one, a row 2 bytes smaller.
// Rows of schema 2 (seconds only) read the same.

// vietnamOffset is UTC+07:00 in seconds.
const vietnamOffset = 7 * 3600

// storeUntil encodes a valid-until (unix seconds) for the u column.
func storeUntil(u int64) (int64, error) {
	switch {
	case u < 0:
		return 0, fmt.Errorf("valid-until %d is before 1970", u)
	}
	return shortUntil(u), nil
}

// shortUntil is a stored u column in its short form (rows of schema 2 hold
// seconds; the short form of a short form is itself).
func shortUntil(v int64) int64 {
	if v > 0 && v < 1<<50 && (v+vietnamOffset)%86400 == 0 {
		return -(v + vietnamOffset) / 86400
	}
	return v
}

// loadUntil decodes the u column to unix seconds.
func loadUntil(v int64) int64 {
	if v < 0 {
		return -v*86400 - vietnamOffset
	}
	return v
}
