package triage

import (
	"time"

	"github.com/carepath/carepath/rules"
)

// RawAnswer is one answer as a streaming decoder read it: the item id and an int64, bool or string.
type RawAnswer struct {
	Key []byte
	Raw any
}

// AssessPlain assesses a native submission whose answers a streaming decoder has already read, for
// bulk paths where encoding/json into maps costs more than deciding. It takes only submissions
// that pass validation and whose answers name items and options exactly; for anything else ok is
// false and the caller must use ParseSubmission and Assess, which stay the reference and say why.
func AssessPlain(f *Form, sub *Submission, answers []RawAnswer, received time.Time) (a Assessment, ok bool) {
	var problems problemList
	f.validateSubject(sub, &problems)
	if problems != nil {
		return Assessment{}, false
	}
	authored := received
	if sub.Authored != nil {
		if y := sub.Authored.UTC().Year(); y < 1 || y > 9999 {
			return Assessment{}, false
		}
		authored = *sub.Authored
	}
	if len(f.Items) > smallForm {
		return Assessment{}, false
	}
	values := make([]rules.Value, len(f.Items))
	var seenStack [smallForm]bool
	answered := seenStack[:len(f.Items)]
	for _, ans := range answers {
		i, ok := f.itemByID[string(ans.Key)]
		if !ok || answered[i] {
			return Assessment{}, false
		}
		answered[i] = true
		v, reason := f.answerValue(i, ans.Raw)
		if reason != "" {
			return Assessment{}, false
		}
		// Canonical names a choice by its value; when options share a score it needs the
		// submission's answers, which this path does not keep.
		if f.Items[i].Type == TypeChoice {
			if _, ok := f.optionOf(i, v); !ok {
				return Assessment{}, false
			}
		}
		values[i] = v
	}
	for i := range f.Items {
		if f.Items[i].Required && !answered[i] {
			return Assessment{}, false
		}
	}
	// sub.Answers stays nil: only Canonical would read it, for a choice its value does not name,
	// and those were declined above.
	return Assessment{Form: f, Submission: sub, Values: values, Scores: f.Score(values), Authored: authored.UTC()}, true
}
