package triage

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// parseNativeOnePass decodes a native submission in one pass over its bytes, for the live decide
// and submit paths where the strict check, the resourceType probe and encoding/json into maps
// cost more than the rest of the request. It takes only the plain shape: known fields spelt
// exactly, each once; strings of valid UTF-8; answers that are strings, booleans,
// numbers in range, null, or codings with a code. It never refuses: for anything else ok is false
// and the caller takes parseFull, which stays the reference (a fuzz test holds the two equal) and
// says what is wrong. The strings it returns share one copy of data.
func parseNativeOnePass(data []byte) (sub *Submission, ok bool) {
	sc := nativeScanner{doc: string(data)}
	sub = &Submission{}
	if !sc.submission(sub) || !sc.atEnd() {
		return nil, false
	}
	return sub, true
}

// nativeScanner walks one native submission; each method consumes what it reads and reports
// false, leaving the position undefined, when the document is outside the plain shape.
type nativeScanner struct {
	doc string
	i   int
}

// smallAnswers is how many answers are gathered on the stack before the map is made at its size.
const smallAnswers = 48

// answerEntry is one answer read but not yet in the map; raw nil is a JSON null.
type answerEntry struct {
	key string
	raw any
}

func (s *nativeScanner) ws() {
	for s.i < len(s.doc) {
		switch s.doc[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *nativeScanner) atEnd() bool {
	s.ws()
	return s.i == len(s.doc)
}

func (s *nativeScanner) peek() byte {
	s.ws()
	if s.i < len(s.doc) {
		return s.doc[s.i]
	}
	return 0
}

func (s *nativeScanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// object reads an object, calling member for each key with the position at its value; member
// must consume the value.
func (s *nativeScanner) object(member func(key string) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok || !s.eat(':') || !member(key) {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// str reads a string of valid UTF-8 without control characters. Its value is its bytes when it
// has no escapes, as encoding/json would decode it; escapes are decoded as encoding/json does,
// except \u0000 (which the strict check refuses) and surrogates, which it declines.
func (s *nativeScanner) str() (string, bool) {
	if !s.eat('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for s.i < len(s.doc) {
		c := s.doc[s.i]
		switch {
		case c == '"':
			v := s.doc[start:s.i]
			s.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false // encoding/json would replace the bad bytes
			}
			return v, true
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

// escaped finishes a string that began at start and has an escape at the position.
func (s *nativeScanner) escaped(start int) (string, bool) {
	buf := make([]byte, 0, s.i-start+16)
	buf = append(buf, s.doc[start:s.i]...)
	for s.i < len(s.doc) {
		c := s.doc[s.i]
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
		if s.i+1 >= len(s.doc) {
			return "", false
		}
		switch e := s.doc[s.i+1]; e {
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
			r, ok := hex4(s.doc[s.i+2 : min(len(s.doc), s.i+6)])
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
func hex4(h string) (rune, bool) {
	if len(h) != 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := h[i]
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

// number reads a number token, checking its grammar as JSON gives it, and says whether it has
// neither fraction nor exponent.
func (s *nativeScanner) number() (tok string, integral, ok bool) {
	s.ws()
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.doc) && s.doc[s.i] >= '0' && s.doc[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.doc) && s.doc[s.i] == '-' {
		s.i++
	}
	intStart := s.i
	if n := digits(); n == 0 || n > 1 && s.doc[intStart] == '0' {
		return "", false, false
	}
	integral = true
	if s.i < len(s.doc) && s.doc[s.i] == '.' {
		s.i++
		integral = false
		if digits() == 0 {
			return "", false, false
		}
	}
	if s.i < len(s.doc) && (s.doc[s.i] == 'e' || s.doc[s.i] == 'E') {
		s.i++
		integral = false
		if s.i < len(s.doc) && (s.doc[s.i] == '+' || s.doc[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return "", false, false
		}
	}
	return s.doc[start:s.i], integral, true
}

// integer reads a number without fraction or exponent of at most 18 digits, which always fits
// an int64, so that its value is what strconv.ParseInt gives.
func (s *nativeScanner) integer() (int64, bool) {
	tok, integral, ok := s.number()
	if !ok || !integral || len(tok) > 19 {
		return 0, false
	}
	neg := tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	if len(digits) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		n = n*10 + int64(digits[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// float reads any number in float64's range, as encoding/json reads one into a float64.
func (s *nativeScanner) float() (float64, bool) {
	tok, _, ok := s.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(tok, 64)
	return f, err == nil
}

func (s *nativeScanner) literal(word string) bool {
	s.ws()
	if len(s.doc)-s.i >= len(word) && s.doc[s.i:s.i+len(word)] == word {
		s.i += len(word)
		return true
	}
	return false
}

// submission reads the top-level object; a field it does not know, resourceType included,
// sends the document to the full path.
func (s *nativeScanner) submission(sub *Submission) bool {
	var seen uint8
	return s.object(func(key string) bool {
		var bit uint8
		ok := false
		switch key {
		case "form":
			bit = 1
			sub.Form, ok = s.str()
		case "form_version":
			bit = 2
			var n int64
			n, ok = s.integer()
			sub.FormVersion = int(n)
		case "authored":
			bit = 4
			ok = s.authored(sub)
		case "subject":
			bit = 8
			ok = s.subject(&sub.Subject)
		case "answers":
			bit = 16
			sub.Answers, ok = s.answers()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) && s.answersDefault(sub)
}

// answersDefault gives a submission without answers the empty map the full path gives it.
func (s *nativeScanner) answersDefault(sub *Submission) bool {
	if sub.Answers == nil {
		sub.Answers = map[string]any{}
	}
	return true
}

// authored reads the time through time.Time's own decoder, as encoding/json calls it, so what it
// accepts is exact.
func (s *nativeScanner) authored(sub *Submission) bool {
	s.ws()
	start := s.i
	if _, ok := s.str(); !ok {
		return false
	}
	var t time.Time
	if t.UnmarshalJSON([]byte(s.doc[start:s.i])) != nil {
		return false
	}
	sub.Authored = &t
	return true
}

func (s *nativeScanner) subject(sub *Subject) bool {
	var seen uint8
	return s.object(func(key string) bool {
		var bit uint8
		ok := false
		switch key {
		case "ref":
			bit = 1
			sub.Ref, ok = s.str()
		case "name":
			bit = 2
			sub.Name, ok = s.str()
		case "address":
			bit = 4
			sub.Address, ok = s.str()
		case "birth_date":
			bit = 8
			sub.BirthDate, ok = s.str()
		case "age":
			bit = 16
			var n int64
			if n, ok = s.integer(); ok {
				age := int(n)
				sub.Age = &age
			}
		case "postcode":
			bit = 32
			sub.Postcode, ok = s.str()
		case "location":
			bit = 64
			sub.Location = &Location{}
			ok = s.location(sub.Location)
		case "contact":
			bit = 128
			sub.Contact = &Contact{}
			ok = s.contact(sub.Contact)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

func (s *nativeScanner) location(loc *Location) bool {
	var seen uint8
	return s.object(func(key string) bool {
		var bit uint8
		ok := false
		switch key {
		case "lat":
			bit = 1
			loc.Lat, ok = s.float()
		case "lon":
			bit = 2
			loc.Lon, ok = s.float()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

func (s *nativeScanner) contact(c *Contact) bool {
	var seen uint8
	return s.object(func(key string) bool {
		var bit uint8
		ok := false
		switch key {
		case "preference":
			bit = 1
			c.Preference, ok = s.str()
		case "phone":
			bit = 2
			c.Phone, ok = s.str()
		case "email":
			bit = 4
			c.Email, ok = s.str()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// answers reads the answers object into a map made at its size; a key given twice sends the
// document to the full path, which refuses it.
func (s *nativeScanner) answers() (map[string]any, bool) {
	var stack [smallAnswers]answerEntry
	entries := stack[:0]
	if !s.object(func(key string) bool {
		raw, ok := s.answer()
		entries = append(entries, answerEntry{key: key, raw: raw})
		return ok
	}) {
		return nil, false
	}
	m := make(map[string]any, len(entries))
	for _, e := range entries {
		m[e.key] = e.raw
	}
	if len(m) != len(entries) {
		return nil, false
	}
	for _, e := range entries {
		if e.raw == nil {
			delete(m, e.key) // null means not answered
		}
	}
	return m, true
}

// answer reads one answer value as nativeAnswer would give it; null is nil.
func (s *nativeScanner) answer() (any, bool) {
	switch s.peek() {
	case '"':
		v, ok := s.str()
		return v, ok
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	case '{':
		return s.coding()
	}
	start := s.i
	if n, ok := s.integer(); ok {
		return n, true
	}
	s.i = start
	tok, _, ok := s.number()
	if !ok {
		return nil, false
	}
	v, reason := numberValue(json.Number(tok))
	return v, reason == ""
}

// coding reads a coded answer: system, code and display, strings each given once, with a code.
func (s *nativeScanner) coding() (any, bool) {
	var c Coding
	var seen uint8
	if !s.object(func(key string) bool {
		var bit uint8
		ok := false
		switch key {
		case "system":
			bit = 1
			c.System, ok = s.str()
		case "code":
			bit = 2
			c.Code, ok = s.str()
		case "display":
			bit = 4
			c.Display, ok = s.str()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) || c.Code == "" {
		return nil, false
	}
	return c, true
}
