package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/carepath/carepath/internal/jsonappend"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// The busiest responses (a stored decision, a decision without storing) are written by hand
// rather than through encoding/json: its reflective encoder cost a third of POST /v1/decide's CPU
// and a sixth of a stored POST's, with most of their allocations. Each appender writes exactly
// what writeJSON would (compact, HTML left unescaped, a final newline), which the tests hold it to
// byte for byte, and reports false for what encoding/json refuses, so that writeJSON can answer
// with its error as before.

// responseBuffers holds response buffers between requests.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledResponse keeps an unusually large answer's buffer out of the pool.
const maxPooledResponse = 64 << 10

// writeAppended answers with v written by appendTo, indented when the request asked as writeJSON
// would be, with its length set so that net/http sends it whole rather than chunked. A value
// appendTo does not write goes to writeJSON, whose encoding/json says why.
func writeAppended[T any](s *Server, w http.ResponseWriter, status int, v *T, appendTo func([]byte, *T) ([]byte, bool)) {
	buf := responseBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledResponse {
			responseBuffers.Put(buf)
		}
	}()
	b, ok := appendTo((*buf)[:0], v)
	*buf = b
	if !ok {
		s.writeJSON(w, status, v)
		return
	}
	if indented(w) {
		// As json.Encoder indents: the compact value, final newline and all, laid out again.
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			s.writeJSON(w, status, v)
			return
		}
		b = out.Bytes()
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// appendRuleSetRef writes the rule set a decision was made under.
func appendRuleSetRef(b []byte, id string, version int, sha string) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id, false)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, `,"sha256":`...)
	b = appendJSONString(b, sha, false)
	return append(b, '}')
}

// appendOutcomeFields writes the members of a rules.Outcome, without braces, for the stored
// decision that nests them and the decision without storing that does not.
func appendOutcomeFields(b []byte, o rules.Outcome) []byte {
	b = append(b, `"pathway":`...)
	b = appendJSONString(b, o.Pathway, false)
	b = append(b, `,"priority":`...)
	b = appendJSONString(b, string(o.Priority), false)
	b = append(b, `,"respond_within":`...)
	b = appendJSONString(b, o.RespondWithin, false)
	b = append(b, `,"flags":`...)
	return appendJSONStrings(b, o.Flags)
}

// appendExplanation writes e as the responses do (HTML left unescaped, values as their
// MarshalJSON writes them); ok becomes false at a value encoding/json refuses.
func appendExplanation(b []byte, e *rules.Explanation, ok *bool) []byte {
	b, written := triage.AppendExplanationJSON(b, e, false)
	*ok = *ok && written
	return b
}

// appendScores writes a decision's scores with their names in order, as encoding/json writes a map.
func appendScores(b []byte, scores map[string]rules.Value, ok *bool) []byte {
	b, written := triage.AppendScoresJSON(b, scores, false)
	*ok = *ok && written
	return b
}

// appendJSONTime writes t as its MarshalJSON does; ok becomes false for what that refuses (a year
// outside 0 to 9999, a zone offset of a day or more).
func appendJSONTime(b []byte, t time.Time, ok *bool) []byte {
	b, written := jsonappend.Time(b, t)
	if !written {
		*ok = false
	}
	return b
}

// appendJSONStrings writes ss with HTML left unescaped, as the responses are.
func appendJSONStrings(b []byte, ss []string) []byte { return jsonappend.QuoteAll(b, ss, false) }

// appendJSONFloat formats f as encoding/json does; ok becomes false for what it refuses.
func appendJSONFloat(b []byte, f float64, ok *bool) []byte {
	b, written := jsonappend.Float(b, f)
	if !written {
		*ok = false
		return append(b, "null"...)
	}
	return b
}

// appendJSONString quotes s as encoding/json does, with <, > and & escaped when html is set.
func appendJSONString(b []byte, s string, html bool) []byte { return jsonappend.Quote(b, s, html) }
