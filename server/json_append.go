package server

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/carepath/carepath/rules"
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

// appendExplanation writes e; ok becomes false at a value encoding/json refuses.
func appendExplanation(b []byte, e *rules.Explanation, ok *bool) []byte {
	b = append(b, `{"rule":`...)
	b = appendJSONString(b, e.Rule, false)
	b = append(b, `,"because":`...)
	b = appendJSONString(b, e.Because, false)
	if len(e.Variables) > 0 {
		b = append(b, `,"variables":[`...)
		for i := range e.Variables {
			v := &e.Variables[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, v.Name, false)
			b = append(b, `,"expr":`...)
			b = appendJSONString(b, v.Expr, false)
			b = append(b, `,"value":`...)
			b = appendJSONValue(b, v.Value, ok)
			b = append(b, `,"values":`...)
			b = appendNamedValues(b, v.Values, ok)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"evaluated":`...)
	if e.Evaluated == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range e.Evaluated {
			ev := &e.Evaluated[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendJSONString(b, ev.Rule, false)
			b = append(b, `,"when":`...)
			b = appendJSONString(b, ev.When, false)
			b = append(b, `,"result":`...)
			b = strconv.AppendBool(b, ev.Result)
			b = append(b, `,"values":`...)
			b = appendNamedValues(b, ev.Values, ok)
			if len(ev.Parts) > 0 {
				b = append(b, `,"parts":[`...)
				for j := range ev.Parts {
					pv := &ev.Parts[j]
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"op":`...)
					b = appendJSONString(b, pv.Op, false)
					b = append(b, `,"expr":`...)
					b = appendJSONString(b, pv.Expr, false)
					b = append(b, `,"value":`...)
					b = appendJSONValue(b, pv.Value, ok)
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendScores writes a decision's scores with their names in order, as encoding/json writes a map.
func appendScores(b []byte, scores map[string]rules.Value, ok *bool) []byte {
	if scores == nil {
		return append(b, "null"...)
	}
	var stack [16]string // a form has a handful of scores
	names := stack[:0]
	for name := range scores {
		names = append(names, name)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name, false)
		b = append(b, ':')
		b = appendJSONValue(b, scores[name], ok)
	}
	return append(b, '}')
}

// appendJSONTime writes t as its MarshalJSON does; ok becomes false for what that refuses (a year
// outside 0 to 9999, a zone offset of a day or more).
func appendJSONTime(b []byte, t time.Time, ok *bool) []byte {
	b = append(b, '"')
	if text, err := t.AppendText(b); err == nil {
		b = text
	} else {
		*ok = false
	}
	return append(b, '"')
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s, false)
	}
	return append(b, ']')
}

func appendNamedValues(b []byte, vs []rules.NamedValue, ok *bool) []byte {
	if vs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, vs[i].Name, false)
		b = append(b, `,"value":`...)
		b = appendJSONValue(b, vs[i].Value, ok)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONValue writes a rules.Value as its MarshalJSON does: through json.Marshal, so a string
// has <, > and & escaped even though the response around it does not.
func appendJSONValue(b []byte, v rules.Value, ok *bool) []byte {
	switch v.Kind {
	case rules.KindInt:
		return strconv.AppendInt(b, v.I, 10)
	case rules.KindDouble:
		return appendJSONFloat(b, v.F, ok)
	case rules.KindBool:
		return strconv.AppendBool(b, v.B)
	case rules.KindString:
		return appendJSONString(b, v.S, true)
	}
	return append(b, "null"...)
}

// appendJSONFloat formats f as encoding/json does: like ES6, plain digits unless very small or large.
func appendJSONFloat(b []byte, f float64, ok *bool) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		*ok = false
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029
// are escaped, and with html so are <, > and &.
func appendJSONString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
