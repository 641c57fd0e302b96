package triage

import "github.com/carepath/carepath/rules"

// Score derives the form's scores from validated answers, aligned with the form's scores.
// A sum is absent (KindNone) when any of its items is unanswered, because a partial total would
// understate severity; a band is absent when its sum is.
func (f *Form) Score(values []rules.Value) []rules.Value {
	out := make([]rules.Value, len(f.Scores))
	for s := range f.Scores {
		if items := f.sums[s]; items != nil {
			out[s] = sumOf(values, items)
		}
	}
	for s := range f.Scores {
		src := f.bandSource[s]
		if src < 0 || out[src].Kind != rules.KindInt {
			continue
		}
		total := int(out[src].I)
		for _, b := range f.Scores[s].Bands {
			if total >= b.Min && total <= b.Max {
				out[s] = rules.String(b.Name)
				break
			}
		}
	}
	return out
}

// sumOf adds the integer values at the given item positions; scored choices already read as their scores.
func sumOf(values []rules.Value, items []int) rules.Value {
	var total int64
	for _, i := range items {
		if i >= len(values) || values[i].Kind != rules.KindInt {
			return rules.Value{}
		}
		total += values[i].I
	}
	return rules.Int(total)
}
