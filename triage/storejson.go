package triage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/carepath/carepath/internal/jsonappend"
	"github.com/carepath/carepath/rules"
)

// The columns of every stored decision are written by hand, byte for byte as json.Marshal writes
// them (decisions are replayed byte for byte), because json.Marshal calls rules.Value's
// MarshalJSON for each value of the explanation and then validates its output again: most of a
// stored decision's allocations. Anything these writers cannot write exactly (a non-finite
// number, which json.Marshal refuses) makes them report false, and the caller uses json.Marshal.

// AppendValueJSON writes v as rules.Value.MarshalJSON does: through json.Marshal, so a string
// has <, > and & escaped whatever the document around it does. It reports false for what it
// cannot write exactly (a non-finite number, which json.Marshal refuses, or an unknown kind).
func AppendValueJSON(dst []byte, v rules.Value) ([]byte, bool) {
	switch v.Kind {
	case rules.KindInt:
		return strconv.AppendInt(dst, v.I, 10), true
	case rules.KindDouble:
		return jsonappend.Float(dst, v.F)
	case rules.KindBool:
		return strconv.AppendBool(dst, v.B), true
	case rules.KindString:
		return jsonappend.String(dst, v.S), true
	case rules.KindNone:
		return append(dst, "null"...), true
	}
	return dst, false
}

// AppendScoresJSON writes a decision's scores as a JSON object with its keys sorted, as
// encoding/json writes a map; escapeHTML is the document's setting for the keys. It reports
// false as AppendValueJSON does.
func AppendScoresJSON(dst []byte, scores map[string]rules.Value, escapeHTML bool) ([]byte, bool) {
	if scores == nil {
		return append(dst, "null"...), true
	}
	var buf [16]string
	keys := buf[:0]
	for k := range scores {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonappend.Quote(dst, k, escapeHTML)
		dst = append(dst, ':')
		var ok bool
		if dst, ok = AppendValueJSON(dst, scores[k]); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// appendNamedValues writes a list of rules.NamedValue.
func appendNamedValues(dst []byte, vs []rules.NamedValue, escapeHTML bool) ([]byte, bool) {
	if vs == nil {
		return append(dst, "null"...), true
	}
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = jsonappend.Quote(dst, v.Name, escapeHTML)
		dst = append(dst, `,"value":`...)
		var ok bool
		if dst, ok = AppendValueJSON(dst, v.Value); !ok {
			return dst, false
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), true
}

// AppendExplanationJSON writes e as encoding/json does, with the document's escapeHTML setting
// for its text (json.Marshal's true for the stored column, false for the API's responses); values
// are written as their MarshalJSON writes them. It reports false as AppendValueJSON does.
func AppendExplanationJSON(dst []byte, e *rules.Explanation, escapeHTML bool) ([]byte, bool) {
	ok := true
	quote := func(dst []byte, s string) []byte { return jsonappend.Quote(dst, s, escapeHTML) }
	dst = append(dst, `{"rule":`...)
	dst = quote(dst, e.Rule)
	dst = append(dst, `,"because":`...)
	dst = quote(dst, e.Because)
	if len(e.Variables) > 0 {
		dst = append(dst, `,"variables":[`...)
		for i := range e.Variables {
			v := &e.Variables[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = quote(dst, v.Name)
			dst = append(dst, `,"expr":`...)
			dst = quote(dst, v.Expr)
			dst = append(dst, `,"value":`...)
			if dst, ok = AppendValueJSON(dst, v.Value); !ok {
				return dst, false
			}
			dst = append(dst, `,"values":`...)
			if dst, ok = appendNamedValues(dst, v.Values, escapeHTML); !ok {
				return dst, false
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"evaluated":`...)
	if e.Evaluated == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range e.Evaluated {
			ev := &e.Evaluated[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"rule":`...)
			dst = quote(dst, ev.Rule)
			dst = append(dst, `,"when":`...)
			dst = quote(dst, ev.When)
			dst = append(dst, `,"result":`...)
			dst = strconv.AppendBool(dst, ev.Result)
			dst = append(dst, `,"values":`...)
			if dst, ok = appendNamedValues(dst, ev.Values, escapeHTML); !ok {
				return dst, false
			}
			if len(ev.Parts) > 0 {
				dst = append(dst, `,"parts":[`...)
				for j, p := range ev.Parts {
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = append(dst, `{"op":`...)
					dst = quote(dst, p.Op)
					dst = append(dst, `,"expr":`...)
					dst = quote(dst, p.Expr)
					dst = append(dst, `,"value":`...)
					if dst, ok = AppendValueJSON(dst, p.Value); !ok {
						return dst, false
					}
					dst = append(dst, '}')
				}
				dst = append(dst, ']')
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), true
}

// decisionColumnsJSON is the scores, flags and explanation columns of a decision, written into
// one buffer so that a stored decision allocates it once.
type decisionColumnsJSON struct {
	scores, flags, explanation string
}

// encodeDecisionColumns writes d's scores, flags (an empty list when none) and explanation as
// json.Marshal writes them.
func encodeDecisionColumns(d *Decision) (decisionColumnsJSON, error) {
	scratch := columnBuffers.Get().(*[]byte)
	buf, cols, err := writeDecisionColumns((*scratch)[:0], d)
	if cap(buf) <= maxPooledBuffer {
		*scratch = buf
		columnBuffers.Put(scratch)
	}
	return cols, err
}

// writeDecisionColumns writes the columns into buf and copies them out into one string, of which
// each column is a slice.
func writeDecisionColumns(buf []byte, d *Decision) ([]byte, decisionColumnsJSON, error) {
	buf, ok := AppendScoresJSON(buf, d.Scores, true)
	if !ok {
		return buf, decisionColumnsJSON{}, marshalError("scores", d.Scores)
	}
	nScores := len(buf)
	flags := d.Outcome.Flags
	if flags == nil {
		flags = []string{}
	}
	buf = jsonappend.Strings(buf, flags)
	nFlags := len(buf)
	if buf, ok = AppendExplanationJSON(buf, &d.Explanation, true); !ok {
		return buf, decisionColumnsJSON{}, marshalError("explanation", d.Explanation)
	}
	all := string(buf)
	return buf, decisionColumnsJSON{scores: all[:nScores], flags: all[nScores:nFlags], explanation: all[nFlags:]}, nil
}

// columnBuffers holds the scratch buffers the columns are written into; each is copied into the
// columns' string before it goes back.
var columnBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledBuffer keeps the buffer of an unusually large explanation out of the pool.
const maxPooledBuffer = 64 << 10

// marshalError is json.Marshal's error for what the hand writers could not write.
func marshalError(column string, v any) error {
	_, err := json.Marshal(v)
	if err == nil {
		err = fmt.Errorf("a value has no JSON form")
	}
	return fmt.Errorf("triage: unable to encode %s: %w", column, err)
}

// EncodeScores writes a decision's scores as json.Marshal writes them, with fewer allocations,
// for the other records a stored decision writes its scores into.
func EncodeScores(scores map[string]rules.Value) ([]byte, error) {
	buf, ok := AppendScoresJSON(make([]byte, 0, 16+24*len(scores)), scores, true)
	if !ok {
		return json.Marshal(scores)
	}
	return buf, nil
}
