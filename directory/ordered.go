package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// member is one name and value of a JSON object.
type member struct {
	key   string
	value any
}

// object is a JSON object that keeps its members in document order, so that a normalised HSDS
// document reads in the order its publisher wrote it.
type object struct {
	members []member
}

func (o *object) get(key string) (any, bool) {
	for _, m := range o.members {
		if m.key == key {
			return m.value, true
		}
	}
	return nil, false
}

func (o *object) str(key string) (string, bool) {
	v, ok := o.get(key)
	s, isString := v.(string)
	return s, ok && isString
}

// set replaces the member's value, or appends the member when it is new.
func (o *object) set(key string, value any) {
	for i, m := range o.members {
		if m.key == key {
			o.members[i].value = value
			return
		}
	}
	o.members = append(o.members, member{key, value})
}

func (o *object) del(key string) {
	for i, m := range o.members {
		if m.key == key {
			o.members = append(o.members[:i], o.members[i+1:]...)
			return
		}
	}
}

// decodeOrdered reads one JSON value into objects, []any, strings, json.Number, bools and nil.
// Numbers keep their text, so a document re-encodes with the same numerals. A name given twice in
// one object is refused: which of the two values the publisher meant cannot be known.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := kt.(string) // the decoder only yields strings as object keys
				if _, dup := o.get(key); dup {
					return nil, fmt.Errorf("member %q is given twice in one object", key)
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o.members = append(o.members, member{key, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

// orderedEncoder writes ordered values as compact JSON without HTML escaping, since eligibility
// expressions use && and < and must stay readable.
type orderedEncoder struct {
	buf bytes.Buffer
	str *json.Encoder
}

func newOrderedEncoder() *orderedEncoder {
	e := &orderedEncoder{}
	e.str = json.NewEncoder(&e.buf)
	e.str.SetEscapeHTML(false)
	return e
}

func (e *orderedEncoder) value(v any) error {
	switch t := v.(type) {
	case nil:
		e.buf.WriteString("null")
	case bool:
		e.buf.WriteString(strconv.FormatBool(t))
	case json.Number:
		e.buf.WriteString(t.String())
	case string:
		if err := e.str.Encode(t); err != nil {
			return err
		}
		e.buf.Truncate(e.buf.Len() - 1) // Encode ends each value with a newline
	case []any:
		e.buf.WriteByte('[')
		for i, x := range t {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			if err := e.value(x); err != nil {
				return err
			}
		}
		e.buf.WriteByte(']')
	case *object:
		e.buf.WriteByte('{')
		for i, m := range t.members {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			if err := e.value(m.key); err != nil {
				return err
			}
			e.buf.WriteByte(':')
			if err := e.value(m.value); err != nil {
				return err
			}
		}
		e.buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value of type %T", v)
	}
	return nil
}

func encodeOrdered(v any) ([]byte, error) {
	e := newOrderedEncoder()
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}
