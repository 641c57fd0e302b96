package bulkimport

import (
	"bytes"
	"time"

	"github.com/carepath/carepath/internal/jsonscan"
	"github.com/carepath/carepath/triage"
)

// fastNative decodes a native submission line straight into an Assessment, for the import hot path
// where encoding/json into maps costs more than deciding. It takes only the plain shape: known keys
// spelt exactly, once each; ASCII strings without escapes; whole-number, boolean and string answers
// keyed by item id; nothing that fails validation. Anything else it declines, and the line goes
// through triage.ParseSubmission and triage.Assess, which stay the reference (a fuzz test holds the two equal)
// and give the reason when a line is bad.
type fastNative struct {
	s       jsonscan.Scanner
	answers []triage.RawAnswer
}

// assess decodes body, finding its form through formFor; ok is false when the line must take the
// full path.
func (fn *fastNative) assess(body []byte, received time.Time, formFor func(id string, version int) (*triage.Form, error)) (a triage.Assessment, ok bool) {
	if len(body) > triage.MaxSubmissionBytes {
		return triage.Assessment{}, false
	}
	fn.s.Reset(body)
	fn.answers = fn.answers[:0]
	s := &fn.s
	sub := &triage.Submission{}
	var seen uint8
	if !s.Object(func(key []byte) bool {
		var bit uint8
		ok := false
		switch string(key) {
		case "form":
			bit, ok = 1, s.StrTo(&sub.Form)
		case "form_version":
			bit = 2
			var n int64
			n, ok = s.Integer()
			sub.FormVersion = int(n)
		case "authored":
			bit = 4
			start := s.Pos()
			if _, ok = s.Str(); ok {
				// time.Time's own decoder, as encoding/json would call it, so what it accepts is exact.
				var t time.Time
				ok = t.UnmarshalJSON(bytes.TrimLeft(body[start:s.Pos()], " \t\r\n")) == nil
				sub.Authored = &t
			}
		case "subject":
			bit, ok = 8, triage.ScanSubject(s, &sub.Subject)
		case "answers":
			bit = 16
			ok = s.Object(func(k []byte) bool {
				var raw any
				switch s.Peek() {
				case '"':
					v, ok := s.Str()
					if !ok {
						return false
					}
					raw = string(v)
				case 't', 'f':
					v, ok := s.Boolean()
					if !ok {
						return false
					}
					raw = v
				default:
					n, ok := s.Integer()
					if !ok {
						return false
					}
					raw = n
				}
				fn.answers = append(fn.answers, triage.RawAnswer{Key: k, Raw: raw}) // int64, bool or string, as the full decoder gives them
				return true
			})
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) || seen&(1|8|16) != 1|8|16 {
		return triage.Assessment{}, false
	}
	if !s.AtEnd() {
		return triage.Assessment{}, false
	}
	f, err := formFor(sub.Form, sub.FormVersion)
	if err != nil || sub.Form != f.ID || sub.FormVersion != 0 && sub.FormVersion != f.Version {
		return triage.Assessment{}, false
	}
	return triage.AssessPlain(f, sub, fn.answers, received)
}
