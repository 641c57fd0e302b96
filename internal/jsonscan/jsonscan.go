// Package jsonscan reads the plain subset of JSON that Carepath's own canonical and native
// documents use, without reflection or allocation, for the bulk import and replay hot paths.
//
// It gives up (returns false) on anything outside that subset — string escapes, non-ASCII text,
// numbers out of range — so that callers fall back to encoding/json, which stays the reference.
package jsonscan

import (
	"bytes"
	"strconv"
)

// Scanner walks one JSON document; the zero value is not useful, use New.
type Scanner struct {
	b []byte
	i int
}

// New returns a Scanner at the start of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

// AtEnd reports whether only white space is left.
func (s *Scanner) AtEnd() bool {
	s.ws()
	return s.i == len(s.b)
}

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek returns the next byte that is not white space, or 0 at the end.
func (s *Scanner) Peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Eat consumes c when it is the next byte that is not white space.
func (s *Scanner) Eat(c byte) bool {
	if s.Peek() == c {
		s.i++
		return true
	}
	return false
}

// Object calls member for each key, positioned at its value; member must consume the value.
func (s *Scanner) Object(member func(key []byte) bool) bool {
	if !s.Eat('{') {
		return false
	}
	if s.Eat('}') {
		return true
	}
	for {
		key, ok := s.Str()
		if !ok || !s.Eat(':') || !member(key) {
			return false
		}
		if s.Eat('}') {
			return true
		}
		if !s.Eat(',') {
			return false
		}
	}
}

// Str reads a string of printable ASCII without escapes, whose bytes are then its value; the
// slice aliases the document.
func (s *Scanner) Str() ([]byte, bool) {
	if !s.Eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// StrTo reads a string as Str does into *dst.
func (s *Scanner) StrTo(dst *string) bool {
	v, ok := s.Str()
	if ok {
		*dst = string(v)
	}
	return ok
}

// Number reads a number token, checking its grammar, and says whether it has no fraction or exponent.
func (s *Scanner) Number() (tok []byte, integral, ok bool) {
	s.ws()
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	intStart := s.i
	n := digits()
	if n == 0 || n > 1 && s.b[intStart] == '0' {
		return nil, false, false
	}
	integral = true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		integral = false
		if digits() == 0 {
			return nil, false, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		integral = false
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, false, false
		}
	}
	return s.b[start:s.i], integral, true
}

// Integer reads a number written without fraction or exponent that fits an int64 with room.
func (s *Scanner) Integer() (int64, bool) {
	tok, integral, ok := s.Number()
	if !ok || !integral || len(tok) > 18 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

// Float reads any number as a float64.
func (s *Scanner) Float() (float64, bool) {
	tok, _, ok := s.Number()
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(tok), 64)
	return x, err == nil
}

// Literal consumes word (such as null) when it comes next.
func (s *Scanner) Literal(word string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// Boolean reads true or false.
func (s *Scanner) Boolean() (bool, bool) {
	switch s.Peek() {
	case 't':
		return true, s.Literal("true")
	case 'f':
		return false, s.Literal("false")
	}
	return false, false
}

// Reset starts the Scanner again on b, so one Scanner can serve many documents.
func (s *Scanner) Reset(b []byte) { s.b, s.i = b, 0 }

// Pos is the offset of the next unread byte.
func (s *Scanner) Pos() int { return s.i }
