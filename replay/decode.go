package replay

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// formIndex is what the fast decoder needs of one form version, built once per worker.
type formIndex struct {
	form     *triage.Form
	ids      [][]byte // item ids, sorted
	idItem   []int    // idItem[k]: the item index of ids[k]
	scored   []bool   // choice items whose every option has a score
	required []int
	shape    *envShape // nil without --where or --group-by
}

func newFormIndex(f *triage.Form) *formIndex {
	x := &formIndex{form: f, scored: make([]bool, len(f.Items))}
	order := make([]int, len(f.Items))
	for i := range f.Items {
		order[i] = i
		it := &f.Items[i]
		if it.Required {
			x.required = append(x.required, i)
		}
		if it.Type == triage.TypeChoice && len(it.Options) > 0 {
			x.scored[i] = true
			for _, o := range it.Options {
				if o.Score == nil {
					x.scored[i] = false
				}
			}
		}
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(f.Items[a].ID, f.Items[b].ID) })
	for _, i := range order {
		x.ids = append(x.ids, []byte(f.Items[i].ID))
		x.idItem = append(x.idItem, i)
	}
	return x
}

// item finds an answer key's item. Canonical input lists answers sorted by id, as ids is, so the
// key after position *next is tried first and a binary search is the exception.
func (x *formIndex) item(key []byte, next *int) (int, bool) {
	if k := *next; k < len(x.ids) && bytes.Equal(x.ids[k], key) {
		*next = k + 1
		return x.idItem[k], true
	}
	k, ok := slices.BinarySearchFunc(x.ids, key, bytes.Compare)
	*next = k + 1
	if !ok {
		return 0, false
	}
	return x.idItem[k], true
}

// caseInput is one stored case decoded into what the rules and expressions read.
type caseInput struct {
	values   []rules.Value // aligned with the form's items
	scores   []rules.Value
	subject  triage.Subject
	authored time.Time
	age      rules.Value
}

// decodeFast reads canonical input JSON straight into rule inputs, checking what Validate would.
// It returns false for anything outside the canonical shape, and the caller then takes the full
// path (triage.ParseSubmission and triage.Assess), which gives the reason if the input is bad.
func decodeFast(x *formIndex, data []byte, received time.Time, out *caseInput) bool {
	f := x.form
	if cap(out.values) < len(f.Items) {
		out.values = make([]rules.Value, len(f.Items))
	}
	out.values = out.values[:len(f.Items)]
	clear(out.values)
	out.subject = triage.Subject{}
	s := scanner{b: data}
	var seenTop uint8
	var hasAuthored bool
	var authored time.Time
	var seen [64]bool
	if len(f.Items) > len(seen) {
		return false
	}
	ok := s.object(func(key []byte) bool {
		var bit uint8
		switch string(key) {
		case "answers":
			bit = 1
			next := 0
			if !s.object(func(k []byte) bool {
				i, ok := x.item(k, &next)
				if !ok || seen[i] {
					return false
				}
				seen[i] = true
				v, ok := s.answer(&f.Items[i], x.scored[i])
				out.values[i] = v
				return ok
			}) {
				return false
			}
		case "authored":
			bit = 2
			str, ok := s.str()
			if !ok {
				return false
			}
			t, err := time.Parse(time.RFC3339Nano, string(str))
			if err != nil {
				return false
			}
			if y := t.UTC().Year(); y < 1 || y > 9999 {
				return false
			}
			authored, hasAuthored = t, true
		case "form":
			bit = 4
			str, ok := s.str()
			if !ok || string(str) != f.ID {
				return false
			}
		case "form_version":
			bit = 8
			n, ok := s.integer()
			if !ok || n != int64(f.Version) && n != 0 {
				return false
			}
		case "subject":
			bit = 16
			if !s.subject(&out.subject) {
				return false
			}
		default:
			return false
		}
		if seenTop&bit != 0 {
			return false
		}
		seenTop |= bit
		return true
	})
	if !ok || seenTop&(1|4|16) != 1|4|16 {
		return false
	}
	s.ws()
	if s.i != len(s.b) {
		return false
	}
	for _, i := range x.required {
		if !seen[i] {
			return false
		}
	}
	out.authored = received
	if hasAuthored {
		out.authored = authored
	}
	out.authored = out.authored.UTC()
	if !validSubject(&out.subject, hasAuthored, authored) {
		return false
	}
	out.scores = f.Score(out.values)
	out.age = out.subject.AgeAt(out.authored)
	return true
}

func validSubject(sub *triage.Subject, hasAuthored bool, authored time.Time) bool {
	if strings.TrimSpace(sub.Ref) == "" {
		return false
	}
	if sub.BirthDate != "" {
		if len(sub.BirthDate) != 10 {
			return false
		}
		d, err := time.Parse(time.DateOnly, sub.BirthDate)
		if err != nil || d.Year() < 1 {
			return false
		}
		if hasAuthored {
			y, m, day := authored.Date()
			if d.After(time.Date(y, m, day, 0, 0, 0, 0, time.UTC)) {
				return false
			}
		}
	}
	if sub.Age != nil && (*sub.Age < 0 || *sub.Age > 150) {
		return false
	}
	if l := sub.Location; l != nil && !(l.Lat >= -90 && l.Lat <= 90 && l.Lon >= -180 && l.Lon <= 180) {
		return false
	}
	return true
}

// scanner reads the subset of JSON that canonical input uses; anything else makes it give up.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// object calls member for each key, positioned at its value; member must consume the value.
func (s *scanner) object(member func(key []byte) bool) bool {
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

// str reads a string without escapes (canonical input has none for the shapes read here) or
// characters the JSON grammar forbids, and returns its bytes unconverted.
func (s *scanner) str() ([]byte, bool) {
	if !s.eat('"') {
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
			return nil, false // escapes and non-ASCII: the full decoder handles them exactly
		}
		s.i++
	}
	return nil, false
}

// number reads a JSON number token, checking its grammar.
func (s *scanner) number() ([]byte, bool, bool) {
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
	integral := true
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

func (s *scanner) integer() (int64, bool) {
	tok, integral, ok := s.number()
	if !ok || !integral || len(tok) > 18 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

func (s *scanner) float() (float64, bool) {
	tok, _, ok := s.number()
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(tok), 64)
	return x, err == nil
}

func (s *scanner) literal(word string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

func (s *scanner) boolean() (bool, bool) {
	switch s.peek() {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	}
	return false, false
}

// answer reads one answer the way Validate would convert it, for the item types canonical input
// writes plainly; other types fall back to the full path.
func (s *scanner) answer(it *triage.Item, scored bool) (rules.Value, bool) {
	switch it.Type {
	case triage.TypeChoice:
		code, ok := s.str()
		if !ok {
			return rules.Value{}, false
		}
		for _, o := range it.Options {
			if o.Code == string(code) {
				if scored {
					return rules.Int(int64(*o.Score)), true
				}
				return rules.String(o.Code), true
			}
		}
		return rules.Value{}, false
	case triage.TypeInteger:
		n, ok := s.integer()
		if !ok || it.Min != nil && float64(n) < *it.Min || it.Max != nil && float64(n) > *it.Max {
			return rules.Value{}, false
		}
		return rules.Int(n), true
	case triage.TypeBoolean:
		b, ok := s.boolean()
		return rules.Bool(b), ok
	}
	return rules.Value{}, false
}

func (s *scanner) subject(sub *triage.Subject) bool {
	var seen uint8
	return s.object(func(key []byte) bool {
		var bit uint8
		switch string(key) {
		case "ref":
			bit = 1
			v, ok := s.str()
			if !ok {
				return false
			}
			sub.Ref = string(v)
		case "birth_date":
			bit = 2
			v, ok := s.str()
			if !ok {
				return false
			}
			sub.BirthDate = string(v)
		case "age":
			bit = 4
			n, ok := s.integer()
			if !ok || n < 0 || n > 150 {
				return false
			}
			age := int(n)
			sub.Age = &age
		case "postcode":
			bit = 8
			v, ok := s.str()
			if !ok {
				return false
			}
			sub.Postcode = string(v)
		case "location":
			bit = 16
			var loc triage.Location
			var got uint8
			if !s.object(func(k []byte) bool {
				var x float64
				var ok bool
				switch string(k) {
				case "lat":
					x, ok = s.float()
					loc.Lat = x
					got |= 1
				case "lon":
					x, ok = s.float()
					loc.Lon = x
					got |= 2
				default:
					return false
				}
				return ok
			}) || got != 3 {
				return false
			}
			sub.Location = &loc
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}
