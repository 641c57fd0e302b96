package bulkimport

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// rowEncoder writes a decision's JSON columns into one reusable buffer, byte for byte as
// json.Marshal writes them (triage's SaveDecision encoding, which its Decision reads back), because
// encoding/json spends more on these small documents than a bulk import spends deciding.
type rowEncoder struct {
	buf  []byte
	keys []string
}

// scores writes d.Scores as json.Marshal does: keys sorted, each value its Any().
func (e *rowEncoder) scores(scores map[string]rules.Value) (string, error) {
	if scores == nil {
		return "null", nil
	}
	e.keys = e.keys[:0]
	for k := range scores {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	b := append(e.buf[:0], '{')
	var err error
	for i, k := range e.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHTMLString(b, k)
		b = append(b, ':')
		if b, err = appendValue(b, scores[k]); err != nil {
			return "", err
		}
	}
	b = append(b, '}')
	e.buf = b
	return string(b), nil
}

// flags writes the flags column: "[]" when there are none, never "null".
func (e *rowEncoder) flags(flags []string) string {
	if len(flags) == 0 {
		return "[]"
	}
	b := append(e.buf[:0], '[')
	for i, f := range flags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHTMLString(b, f)
	}
	b = append(b, ']')
	e.buf = b
	return string(b)
}

// explanation writes x as json.Marshal writes a rules.Explanation.
func (e *rowEncoder) explanation(x *rules.Explanation) (string, error) {
	b := append(e.buf[:0], `{"rule":`...)
	b = appendHTMLString(b, x.Rule)
	b = append(b, `,"because":`...)
	b = appendHTMLString(b, x.Because)
	var err error
	if len(x.Variables) > 0 {
		b = append(b, `,"variables":[`...)
		for i := range x.Variables {
			v := &x.Variables[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendHTMLString(b, v.Name)
			b = append(b, `,"expr":`...)
			b = appendHTMLString(b, v.Expr)
			b = append(b, `,"value":`...)
			if b, err = appendValue(b, v.Value); err != nil {
				return "", err
			}
			b = append(b, `,"values":`...)
			if b, err = appendNamedValues(b, v.Values); err != nil {
				return "", err
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"evaluated":`...)
	if x.Evaluated == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range x.Evaluated {
			ev := &x.Evaluated[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendHTMLString(b, ev.Rule)
			b = append(b, `,"when":`...)
			b = appendHTMLString(b, ev.When)
			b = append(b, `,"result":`...)
			b = strconv.AppendBool(b, ev.Result)
			b = append(b, `,"values":`...)
			if b, err = appendNamedValues(b, ev.Values); err != nil {
				return "", err
			}
			if len(ev.Parts) > 0 {
				b = append(b, `,"parts":[`...)
				for j, p := range ev.Parts {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"op":`...)
					b = appendHTMLString(b, p.Op)
					b = append(b, `,"expr":`...)
					b = appendHTMLString(b, p.Expr)
					b = append(b, `,"value":`...)
					if b, err = appendValue(b, p.Value); err != nil {
						return "", err
					}
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	e.buf = b
	return string(b), nil
}

func appendNamedValues(b []byte, vs []rules.NamedValue) ([]byte, error) {
	if vs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	var err error
	for i, nv := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendHTMLString(b, nv.Name)
		b = append(b, `,"value":`...)
		if b, err = appendValue(b, nv.Value); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendValue writes a rules.Value as its MarshalJSON does, HTML-escaped as json.Marshal leaves it.
func appendValue(b []byte, v rules.Value) ([]byte, error) {
	if v.Kind == rules.KindString {
		return appendHTMLString(b, v.S), nil
	}
	return triage.AppendJSONValue(b, v)
}

// appendHTMLString writes s as json.Marshal does, which escapes <, > and & for HTML. Printable ASCII
// is written here; anything else goes through encoding/json itself.
func appendHTMLString(b []byte, s string) []byte {
	n0 := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x80 || c == '"' || c == '\\':
			q, _ := json.Marshal(s) // a string always encodes
			return append(b[:n0], q...)
		case c == '<' || c == '>' || c == '&':
			// Runs between escapes are copied whole: most strings have none or a few.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
