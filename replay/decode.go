package replay

import (
	"bytes"
	"github.com/carepath/carepath/internal/jsonscan"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/internal/isodate"
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
	s := jsonscan.New(data)
	var seenTop uint8
	var hasAuthored bool
	var authored time.Time
	var seen [64]bool
	if len(f.Items) > len(seen) {
		return false
	}
	ok := s.Object(func(key []byte) bool {
		var bit uint8
		switch string(key) {
		case "answers":
			bit = 1
			next := 0
			if !s.Object(func(k []byte) bool {
				i, ok := x.item(k, &next)
				if !ok || seen[i] {
					return false
				}
				seen[i] = true
				v, ok := answer(s, &f.Items[i], x.scored[i])
				out.values[i] = v
				return ok
			}) {
				return false
			}
		case "authored":
			bit = 2
			str, ok := s.Str()
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
			str, ok := s.Str()
			if !ok || string(str) != f.ID {
				return false
			}
		case "form_version":
			bit = 8
			n, ok := s.Integer()
			if !ok || n != int64(f.Version) && n != 0 {
				return false
			}
		case "subject":
			bit = 16
			if !triage.ScanSubject(s, &out.subject) {
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
	if !s.AtEnd() {
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
		y, m, day, ok := isodate.Date(sub.BirthDate)
		if !ok || y < 1 {
			return false
		}
		d := time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC)
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

// answer reads one answer the way Validate would convert it, for the item types canonical input
// writes plainly; other types fall back to the full path.
func answer(s *jsonscan.Scanner, it *triage.Item, scored bool) (rules.Value, bool) {
	switch it.Type {
	case triage.TypeChoice:
		code, ok := s.Str()
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
		n, ok := s.Integer()
		if !ok || it.Min != nil && float64(n) < *it.Min || it.Max != nil && float64(n) > *it.Max {
			return rules.Value{}, false
		}
		return rules.Int(n), true
	case triage.TypeBoolean:
		b, ok := s.Boolean()
		return rules.Bool(b), ok
	}
	return rules.Value{}, false
}
