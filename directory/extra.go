package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// rawMember is one member of a JSON object, its value kept as written.
type rawMember struct {
	key   string
	value json.RawMessage
}

// rest holds the members of an HSDS object that the Go type does not model, verbatim and in
// document order. Carepath models only what matching reads; everything else a publisher sends
// (phones, contacts, languages, accessibility and any extension) rides along in rest so that
// export and the API give it back unchanged.
type rest []rawMember

// decodeKeeping decodes the JSON object data into v, a pointer to a struct type without its own
// UnmarshalJSON, and returns the members that type does not name. Names are matched exactly,
// unlike encoding/json's case-insensitive default, so "ID" is kept as an unknown member instead
// of silently standing in for "id".
func decodeKeeping(data []byte, v any) (rest, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		// Let encoding/json report the type mismatch in its own words.
		return nil, json.Unmarshal(data, v)
	}
	known := jsonNames(reflect.TypeOf(v).Elem())
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var modelled bytes.Buffer
	modelled.WriteByte('{')
	var extra rest
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if !known[key] {
			extra = append(extra, rawMember{key, raw})
			continue
		}
		if modelled.Len() > 1 {
			modelled.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		modelled.Write(k)
		modelled.WriteByte(':')
		modelled.Write(raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	modelled.WriteByte('}')
	if err := json.Unmarshal(modelled.Bytes(), v); err != nil {
		return nil, err
	}
	return extra, nil
}

// encodeKeeping encodes v, a struct without its own MarshalJSON, and appends the members kept in
// extra after the modelled ones.
func encodeKeeping(v any, extra rest) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, errors.New("directory: unable to keep unmodelled members: not an object")
	}
	out := bytes.NewBuffer(make([]byte, 0, len(b)+64*len(extra)))
	out.Write(b[:len(b)-1])
	for _, m := range extra {
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(m.value)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// jsonNames lists the member names a struct type's fields are encoded under.
func jsonNames(t reflect.Type) map[string]bool {
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	return names
}
