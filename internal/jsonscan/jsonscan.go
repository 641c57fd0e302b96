// Package jsonscan reads the plain subset of JSON that Carepath's own canonical and native
// documents use, without reflection or allocation, for the bulk import and replay hot paths.
//
// It gives up (returns false) on anything outside that subset — string escapes and non-ASCII text
// (except through Text), numbers out of range — so that callers fall back to encoding/json, which
// stays the reference.
package jsonscan

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner walks one JSON document; the zero value is not useful, use New or NewText.
type Scanner struct {
	b []byte
	i int
	// text is the document as a string when made by NewText, so that Text's values share it.
	text string
}

// New returns a Scanner at the start of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

// NewText returns a Scanner at the start of b that copies b once, so that every string Text
// reads without escapes shares that copy instead of being copied on its own.
func NewText(b []byte) *Scanner { return &Scanner{b: b, text: string(b)} }

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
	return s.object(member, nil)
}

// ObjectText is Object with keys read as Text reads strings.
func (s *Scanner) ObjectText(member func(key string) bool) bool {
	return s.object(nil, member)
}

// object walks an object's members, reading keys as Str does for raw or as Text does for text.
func (s *Scanner) object(raw func(key []byte) bool, text func(key string) bool) bool {
	if !s.Eat('{') {
		return false
	}
	if s.Eat('}') {
		return true
	}
	for {
		var ok bool
		if raw != nil {
			var key []byte
			key, ok = s.Str()
			ok = ok && s.Eat(':') && raw(key)
		} else {
			var key string
			key, ok = s.Text()
			ok = ok && s.Eat(':') && text(key)
		}
		if !ok {
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

// Text reads a string of valid UTF-8 without control characters, decoded as encoding/json
// decodes it, except that it declines \u0000 (which Carepath's strict check refuses) and
// surrogate escapes. A string without escapes shares the document when the Scanner was made
// by NewText.
func (s *Scanner) Text() (string, bool) {
	if !s.Eat('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(v) {
				return "", false // encoding/json would replace the bad bytes
			}
			if s.text != "" {
				return s.text[start : s.i-1], true
			}
			return string(v), true
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
		s.i++
	}
	return "", false
}

// TextTo reads a string as Text does into *dst.
func (s *Scanner) TextTo(dst *string) bool {
	v, ok := s.Text()
	if ok {
		*dst = v
	}
	return ok
}

// escaped finishes a string that began at start and has an escape at the position.
func (s *Scanner) escaped(start int) (string, bool) {
	buf := make([]byte, 0, s.i-start+16)
	buf = append(buf, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(buf) {
				return "", false // encoding/json would replace the bad bytes
			}
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return "", false
		}
		switch e := s.b[s.i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(s.b[s.i+2 : min(len(s.b), s.i+6)])
			if !ok || r == 0 || utf16.IsSurrogate(r) {
				return "", false
			}
			buf = utf8.AppendRune(buf, r)
			s.i += 4
		default:
			return "", false
		}
		s.i += 2
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(h []byte) (rune, bool) {
	if len(h) != 4 {
		return 0, false
	}
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
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

// Seek goes back (or on) to offset i, such as one Pos gave, to read what is there another way.
func (s *Scanner) Seek(i int) { s.i = i }

// Bytes returns the document's bytes in [from, to), such as between two Pos.
func (s *Scanner) Bytes(from, to int) []byte { return s.b[from:to] }
