// Package governance joins rule governance to the rest of Carepath: it models forms for rule-set
// tests and static checks, runs shadow evaluations of approved versions beside live decisions,
// and previews a candidate version's impact on stored decisions.
package governance

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// maxEnumerated is the widest integer range a domain lists value by value; wider ones are sampled.
const maxEnumerated = 1000

// FormModel describes a triage form to rule-set tests and static checks (it is a rules.Model).
//
// Test answers are validated and scored exactly as a submission would be. A required answer a
// test leaves out takes a default, so a test states only what matters to it: the first option of a
// choice, false for a boolean, the minimum of a bounded number. Strings and dates have no default.
// The subject may give `age` (whole years); birth dates are not read, so tests never depend on a clock.
type FormModel struct {
	Form *triage.Form
}

var _ rules.Model = FormModel{}

// Schema is the form's schema.
func (m FormModel) Schema() rules.Schema { return m.Form.Schema() }

// TestInput validates and scores a test case's answers, filling defaults for those left out.
func (m FormModel) TestInput(tc rules.TestCase) (rules.Input, error) {
	f := m.Form
	answers := make(map[string]any, len(f.Items))
	for k, v := range tc.Answers {
		switch x := v.(type) {
		case int:
			answers[k] = int64(x)
		default:
			answers[k] = x
		}
	}
	for _, it := range f.Items {
		if _, ok := answers[it.ID]; ok || !it.Required {
			continue
		}
		switch {
		case it.Type == triage.TypeChoice && len(it.Options) > 0:
			answers[it.ID] = it.Options[0].Code
		case it.Type == triage.TypeBoolean:
			answers[it.ID] = false
		case (it.Type == triage.TypeInteger || it.Type == triage.TypeDecimal) && it.Min != nil:
			if it.Type == triage.TypeInteger {
				answers[it.ID] = int64(*it.Min)
			} else {
				answers[it.ID] = *it.Min
			}
		default:
			return rules.Input{}, fmt.Errorf("answers.%s: required and has no default; give it in the test", it.ID)
		}
	}
	sub := &triage.Submission{Form: f.ID, FormVersion: f.Version, Answers: answers, Subject: triage.Subject{Ref: "test"}}
	for k, v := range tc.Subject {
		switch k {
		case "age":
			n, ok := v.(int)
			if !ok || n < 0 {
				return rules.Input{}, fmt.Errorf("subject.age: want a whole number of years, got %v", v)
			}
			sub.Subject.Age = &n
		default:
			return rules.Input{}, fmt.Errorf("subject.%s: not a test subject field; give age", k)
		}
	}
	values, err := f.Validate(sub)
	if err != nil {
		return rules.Input{}, err
	}
	return rules.Input{Answers: values, Scores: f.Score(values), Age: sub.Subject.AgeAt(time.Time{})}, nil
}

// Domain lists the values an input can take.
func (m FormModel) Domain(name string) ([]rules.Value, bool) {
	f := m.Form
	switch {
	case name == "subject.age":
		// Age is optional on a submission, so absent is a value rules must handle.
		return append(intRange(0, 120), rules.Value{}), true
	case strings.HasPrefix(name, "answers."):
		i, ok := f.ItemIndex(strings.TrimPrefix(name, "answers."))
		if !ok {
			return nil, false
		}
		vals, complete := m.itemDomain(i)
		if !f.Items[i].Required {
			vals = append(vals, rules.Value{})
		}
		return vals, complete
	case strings.HasPrefix(name, "scores."):
		s, ok := f.ScoreIndex(strings.TrimPrefix(name, "scores."))
		if !ok {
			return nil, false
		}
		return m.scoreDomain(s)
	}
	return nil, false
}

func (m FormModel) itemDomain(i int) ([]rules.Value, bool) {
	it := m.Form.Items[i]
	switch it.Type {
	case triage.TypeBoolean:
		return []rules.Value{rules.Bool(false), rules.Bool(true)}, true
	case triage.TypeChoice:
		scored := true
		for _, o := range it.Options {
			scored = scored && o.Score != nil
		}
		var out []rules.Value
		seen := map[rules.Value]bool{}
		for _, o := range it.Options {
			v := rules.String(o.Code)
			if scored {
				v = rules.Int(int64(*o.Score))
			}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
		return out, true
	case triage.TypeInteger:
		if it.Min != nil && it.Max != nil && *it.Max-*it.Min <= maxEnumerated {
			return intRange(int64(*it.Min), int64(*it.Max)), true
		}
		lo, hi := -1e6, 1e6
		if it.Min != nil {
			lo = *it.Min
		}
		if it.Max != nil {
			hi = *it.Max
		}
		return spread(int64(lo), int64(hi)), false
	case triage.TypeDecimal:
		lo, hi := -1e6, 1e6
		if it.Min != nil {
			lo = *it.Min
		}
		if it.Max != nil {
			hi = *it.Max
		}
		var out []rules.Value
		for k := 0; k <= 20; k++ {
			out = append(out, rules.Double(lo+(hi-lo)*float64(k)/20))
		}
		return out, false
	}
	return []rules.Value{rules.String("")}, false
}

// scoreDomain is a sum's range (from its items' ranges) or a band score's band names, each with the
// absent value where a valid submission can leave the score absent.
func (m FormModel) scoreDomain(s int) ([]rules.Value, bool) {
	sc := m.Form.Scores[s]
	if len(sc.Sum) > 0 {
		lo, hi, complete := m.sumRange(sc)
		var vals []rules.Value
		if complete && hi-lo <= maxEnumerated {
			vals = intRange(lo, hi)
		} else {
			// Too wide to list: the ends, evenly spread points and, so that no band is skipped,
			// every band's edges and the totals just outside them.
			vals = withEdges(spread(lo, hi), m.bandEdges(s), lo, hi)
			complete = false
		}
		if m.sumCanBeAbsent(sc) {
			vals = append(vals, rules.Value{})
		}
		return vals, complete
	}
	var out []rules.Value
	for _, b := range sc.Bands {
		out = append(out, rules.String(b.Name))
	}
	// A band is absent when its sum is, or when the total falls in no band; rules that read the
	// band must be checked against that too, or a valid submission fails to evaluate.
	src, ok := m.Form.ScoreIndex(sc.BandOf)
	if !ok {
		return append(out, rules.Value{}), false
	}
	lo, hi, _ := m.sumRange(m.Form.Scores[src])
	if m.sumCanBeAbsent(m.Form.Scores[src]) || !bandsCover(sc.Bands, lo, hi) {
		out = append(out, rules.Value{})
	}
	return out, true
}

// sumRange is the lowest and highest total of a sum score; complete is false when an item it sums
// has no bounded range, and the range is then a wide stand-in.
func (m FormModel) sumRange(sc triage.Score) (lo, hi int64, complete bool) {
	for _, id := range sc.Sum {
		i, _ := m.Form.ItemIndex(id)
		vals, ok := m.itemDomain(i)
		if !ok {
			return -1e6, 1e6, false
		}
		mn, mx := int64(math.MaxInt64), int64(math.MinInt64)
		for _, v := range vals {
			mn, mx = min(mn, v.I), max(mx, v.I)
		}
		lo, hi = lo+mn, hi+mx
	}
	return lo, hi, true
}

// sumCanBeAbsent reports whether a sum score is absent for some valid submission: it sums an
// optional item, which a submission may leave unanswered.
func (m FormModel) sumCanBeAbsent(sc triage.Score) bool {
	for _, id := range sc.Sum {
		if i, ok := m.Form.ItemIndex(id); ok && !m.Form.Items[i].Required {
			return true
		}
	}
	return false
}

// bandEdges lists the minimum and maximum of every band of the band scores over sum score s.
func (m FormModel) bandEdges(s int) []int64 {
	name := m.Form.Scores[s].Name
	var out []int64
	for _, sc := range m.Form.Scores {
		if sc.BandOf != name {
			continue
		}
		for _, b := range sc.Bands {
			out = append(out, int64(b.Min)-1, int64(b.Min), int64(b.Max), int64(b.Max)+1)
		}
	}
	return out
}

// withEdges adds the edges within lo..hi to sampled values, sorted and without repeats.
func withEdges(vals []rules.Value, edges []int64, lo, hi int64) []rules.Value {
	seen := make(map[int64]bool, len(vals)+len(edges))
	var ints []int64
	for _, v := range vals {
		if !seen[v.I] {
			seen[v.I] = true
			ints = append(ints, v.I)
		}
	}
	for _, e := range edges {
		if e >= lo && e <= hi && !seen[e] {
			seen[e] = true
			ints = append(ints, e)
		}
	}
	slices.Sort(ints)
	out := make([]rules.Value, len(ints))
	for i, n := range ints {
		out[i] = rules.Int(n)
	}
	return out
}

// bandsCover reports whether every total from lo to hi falls in some band.
func bandsCover(bands []triage.Band, lo, hi int64) bool {
	sorted := slices.Clone(bands)
	slices.SortFunc(sorted, func(a, b triage.Band) int { return a.Min - b.Min })
	next := lo
	for _, b := range sorted {
		if int64(b.Min) > next {
			return false
		}
		next = max(next, int64(b.Max)+1)
	}
	return next > hi
}

func intRange(lo, hi int64) []rules.Value {
	out := make([]rules.Value, 0, hi-lo+1)
	for v := lo; v <= hi; v++ {
		out = append(out, rules.Int(v))
	}
	return out
}

// spread picks representative integers across a range too wide to list: its ends and 99 between.
func spread(lo, hi int64) []rules.Value {
	out := []rules.Value{rules.Int(lo)}
	for k := int64(1); k < 100; k++ {
		out = append(out, rules.Int(lo+(hi-lo)/100*k))
	}
	return append(out, rules.Int(hi))
}
