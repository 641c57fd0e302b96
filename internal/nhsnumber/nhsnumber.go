// Package nhsnumber checks NHS numbers: ten digits, the last a modulus-11 check digit over the
// first nine, so that a mistyped or transposed digit is caught where it is typed.
package nhsnumber

import (
	"errors"
	"strings"
)

// Errors say what is wrong in words a clinician can act on.
var (
	ErrEmpty    = errors.New("enter the NHS number")
	ErrLength   = errors.New("NHS number must be 10 digits")
	ErrDigits   = errors.New("NHS number must contain only digits and spaces")
	ErrChecksum = errors.New("NHS number is not valid: check each digit")
)

// Parse returns the ten digits of an NHS number as typed (spaces and hyphens between groups are
// allowed, as printed on letters "943 476 5919"), or why it is not one.
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrEmpty
	}
	var d [10]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case c < '0' || c > '9':
			return "", ErrDigits
		case n == len(d):
			return "", ErrLength
		}
		d[n] = c
		n++
	}
	if n != len(d) {
		return "", ErrLength
	}
	if !checkDigitOK(d) {
		return "", ErrChecksum
	}
	return string(d[:]), nil
}

// checkDigitOK weights the first nine digits 10 down to 2; the check digit is 11 minus the sum's
// remainder by 11, 11 meaning 0, and 10 never issued.
func checkDigitOK(d [10]byte) bool {
	sum := 0
	for i := range 9 {
		sum += int(d[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return false
	}
	return int(d[9]-'0') == check
}
