package triage

import (
	"encoding/json"
	"time"

	"github.com/carepath/carepath/internal/jsonscan"
)

// parseNativeOnePass decodes a native submission in one pass over its bytes, for the live decide
// and submit paths where the strict check, the resourceType probe and encoding/json into maps
// cost more than the rest of the request. It takes only the plain shape: known fields spelt
// exactly, each once; strings of valid UTF-8; answers that are strings, booleans,
// numbers in range, null, or codings with a code. It never refuses: for anything else ok is false
// and the caller takes parseFull, which stays the reference (a fuzz test holds the two equal) and
// says what is wrong. The strings it returns share one copy of data.
func parseNativeOnePass(data []byte) (sub *Submission, ok bool) {
	s := jsonscan.NewText(data)
	sub = &Submission{}
	if !scanSubmission(s, sub) || !s.AtEnd() {
		return nil, false
	}
	if sub.Answers == nil {
		sub.Answers = map[string]any{} // as the full path gives a submission without answers
	}
	return sub, true
}

// smallAnswers is how many answers are gathered on the stack before the map is made at its size.
const smallAnswers = 48

// answerEntry is one answer read but not yet in the map; raw nil is a JSON null.
type answerEntry struct {
	key string
	raw any
}

// scanSubmission reads the top-level object; a field it does not know, resourceType included,
// sends the document to the full path.
func scanSubmission(s *jsonscan.Scanner, sub *Submission) bool {
	var seen uint8
	return s.ObjectText(func(key string) bool {
		var bit uint8
		ok := false
		switch key {
		case "form":
			bit, ok = 1, s.TextTo(&sub.Form)
		case "form_version":
			bit = 2
			var n int64
			n, ok = s.Integer()
			sub.FormVersion = int(n)
		case "authored":
			bit, ok = 4, scanAuthored(s, sub)
		case "subject":
			bit, ok = 8, scanSubject(s, &sub.Subject, (*jsonscan.Scanner).TextTo)
		case "answers":
			bit = 16
			sub.Answers, ok = scanAnswers(s)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// scanAuthored reads the time through time.Time's own decoder, as encoding/json calls it, so
// what it accepts is exact.
func scanAuthored(s *jsonscan.Scanner, sub *Submission) bool {
	s.Peek()
	start := s.Pos()
	if _, ok := s.Text(); !ok {
		return false
	}
	var t time.Time
	if t.UnmarshalJSON(s.Bytes(start, s.Pos())) != nil {
		return false
	}
	sub.Authored = &t
	return true
}

// scanAnswers reads the answers object into a map made at its size; a key given twice sends the
// document to the full path, which refuses it.
func scanAnswers(s *jsonscan.Scanner) (map[string]any, bool) {
	var stack [smallAnswers]answerEntry
	entries := stack[:0]
	if !s.ObjectText(func(key string) bool {
		raw, ok := scanAnswer(s)
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

// scanAnswer reads one answer value as nativeAnswer would give it; null is nil.
func scanAnswer(s *jsonscan.Scanner) (any, bool) {
	switch s.Peek() {
	case '"':
		return s.Text()
	case 't', 'f':
		return s.Boolean()
	case 'n':
		return nil, s.Literal("null")
	case '{':
		return scanCoding(s)
	}
	start := s.Pos()
	if n, ok := s.Integer(); ok {
		return n, true
	}
	s.Seek(start)
	tok, _, ok := s.Number()
	if !ok {
		return nil, false
	}
	v, reason := numberValue(json.Number(tok))
	return v, reason == ""
}

// scanCoding reads a coded answer: system, code and display, strings each given once, with a code.
func scanCoding(s *jsonscan.Scanner) (any, bool) {
	var c Coding
	var seen uint8
	if !s.ObjectText(func(key string) bool {
		var bit uint8
		ok := false
		switch key {
		case "system":
			bit, ok = 1, s.TextTo(&c.System)
		case "code":
			bit, ok = 2, s.TextTo(&c.Code)
		case "display":
			bit, ok = 4, s.TextTo(&c.Display)
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
