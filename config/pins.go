package config

import (
	"strconv"
	"strings"
)

// headerBCM maps the 40-pin header's physical pins that carry a GPIO to its
// BCM number (the same on every Pi with a 40-pin header, Pi 5 included).
var headerBCM = map[int]int{
	3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
	21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19,
	36: 16, 37: 26, 38: 20, 40: 21,
}

// PinNames says which pin names the config takes, for error messages.
const PinNames = "GPIO0 to GPIO27 (BCM numbers, e.g. GPIO17), BCM17, or a header pin as P1_11"

// CanonicalPin returns the BCM name (GPIOn) of a pin of the Pi's 40-pin
// header written as GPIOn or BCMn (n 0 to 27, any case) or as the header
// pin P1_n (periph's name); ok is false for anything else. "PIN18" is
// refused: it reads as GPIO18 to some and as header pin 18 (GPIO24) to others.
func CanonicalPin(name string) (string, bool) {
	u := strings.ToUpper(strings.TrimSpace(name))
	for _, prefix := range []string{"GPIO", "BCM"} {
		if rest, found := strings.CutPrefix(u, prefix); found {
			if n, ok := number(rest); ok && n <= 27 {
				return "GPIO" + strconv.Itoa(n), true
			}
			return "", false
		}
	}
	for _, prefix := range []string{"P1_"} {
		if rest, found := strings.CutPrefix(u, prefix); found {
			if n, ok := number(rest); ok {
				if bcm, ok := headerBCM[n]; ok {
					return "GPIO" + strconv.Itoa(bcm), true
				}
			}
			return "", false
		}
	}
	return "", false
}

// number parses a small decimal number without sign or leading zeros.
func number(s string) (int, bool) {
	if s == "" || len(s) > 2 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
