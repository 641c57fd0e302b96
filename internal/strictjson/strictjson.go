// Package strictjson reads JSON that must mean one thing only. encoding/json keeps the last of
// repeated keys and matches struct fields whatever their case, so `{"risk_plan": true,
// "risk_plan": false}` and `{"FORM": …}` pass silently; and PostgreSQL text cannot hold U+0000,
// so a string carrying one fails only when it reaches the database. This package refuses all
// three before anything is decoded, naming the field, and leaves the decoding itself to
// encoding/json: Check walks a document without allocating, and Decode, the same walk building
// values, is what the fuzz test holds to encoding/json.
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// MaxDepth is the deepest nesting accepted, the same as encoding/json's.
const MaxDepth = 10000

// maxProblems bounds the problems reported for one document, so a hostile one cannot make a
// response as large as itself.
const maxProblems = 50

// Problem is one ambiguous or unstorable field; Path is where it is ("answers.risk_plan",
// "item[0].linkId", empty for the document itself).
type Problem struct {
	Path   string
	Reason string
}

// Error is the problems Check or Decode found.
type Error struct {
	Problems []Problem
}

// Error lists the problems as path: reason.
func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Reason
		if p.Path != "" {
			parts[i] = p.Path + ": " + p.Reason
		}
	}
	return strings.Join(parts, "; ")
}

// ErrSyntax is wrapped by the error for a document that is not JSON at all; the caller's own
// decoder is better placed to say where.
var ErrSyntax = errors.New("not valid JSON")

// Shape is the set of object keys a Go type reads, by exact name, so that a key encoding/json
// would match only by folding its case can be refused. Build one with ShapeOf; a nil Shape
// accepts any key (maps, interfaces, types with their own UnmarshalJSON).
type Shape struct {
	fields map[string]*Shape // a struct's fields by JSON name; nil for anything else
	elem   *Shape            // the values of a map and the elements of a slice or array
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// ShapeOf describes the object keys that encoding/json reads into t: the JSON names of its
// exported fields (embedded structs' promoted), followed into fields, maps, slices and pointers.
func ShapeOf(t reflect.Type) *Shape {
	return shapeOf(t, map[reflect.Type]*Shape{})
}

func shapeOf(t reflect.Type, seen map[reflect.Type]*Shape) *Shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	if s, ok := seen[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &Shape{fields: map[string]*Shape{}}
		seen[t] = s
		addFields(s, t, seen)
		return s
	case reflect.Map, reflect.Slice, reflect.Array:
		s := &Shape{}
		seen[t] = s
		s.elem = shapeOf(t.Elem(), seen)
		if s.elem == nil {
			delete(seen, t)
			return nil
		}
		return s
	}
	return nil
}

func addFields(s *Shape, t reflect.Type, seen map[reflect.Type]*Shape) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(s, ft, seen)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.fields[name] = shapeOf(f.Type, seen)
	}
}

// Check looks through data for repeated keys, keys that match a field of shape only when their
// case is ignored, and strings holding U+0000. It returns an *Error listing them, an error
// wrapping ErrSyntax when data is not one JSON value, or nil. It does not allocate for a clean
// document.
func Check(data []byte, shape *Shape) error {
	r := reader{data: data}
	r.value(shape, 0)
	if r.syntax == "" && r.dirty {
		// Walk again keeping the path, which costs allocations only a refused document pays.
		r = reader{data: data, track: true}
		r.value(shape, 0)
	}
	return r.result()
}

// Decode is Check that also builds the value, as encoding/json's Decoder with UseNumber would:
// map[string]any, []any, string, json.Number, bool or nil.
func Decode(data []byte) (any, error) {
	r := reader{data: data, build: true, track: true}
	v := r.value(nil, 0)
	if err := r.result(); err != nil {
		return nil, err
	}
	return v, nil
}

// reader walks one document, keeping the path to the value in hand so that a problem can say
// where it is; the path is rendered only then.
type reader struct {
	data     []byte
	i        int
	build    bool
	syntax   string
	problems []Problem
	dirty    bool   // a problem was seen while not tracking the path
	track    bool   // keep the path and report problems
	path     []step // kept only when tracking
}

// step is one level of a path: an object key, or an array index when isKey is false. Keys view
// the document and are copied only when a problem is reported.
type step struct {
	key   string
	index int
	isKey bool
}

func (r *reader) pathString() string {
	var b strings.Builder
	for i, st := range r.path {
		if !st.isKey {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(st.index))
			b.WriteByte(']')
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(st.key)
	}
	return b.String()
}

func (r *reader) result() error {
	if r.syntax == "" {
		r.ws()
		if r.i != len(r.data) {
			r.fail("data after the JSON value")
		}
	}
	if r.syntax != "" {
		return fmt.Errorf("%w: %s at byte %d", ErrSyntax, r.syntax, r.i)
	}
	if len(r.problems) > 0 {
		return &Error{Problems: r.problems}
	}
	return nil
}

func (r *reader) fail(reason string) {
	if r.syntax == "" {
		r.syntax = reason
	}
}

func (r *reader) problem(reason string) {
	r.dirty = true
	if r.track && len(r.problems) < maxProblems {
		r.problems = append(r.problems, Problem{Path: r.pathString(), Reason: reason})
	}
}

func (r *reader) ws() {
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// value reads one value at path, returning it only when building.
func (r *reader) value(shape *Shape, depth int) any {
	if depth >= MaxDepth {
		r.fail("nested too deeply")
		return nil
	}
	r.ws()
	if r.i >= len(r.data) {
		r.fail("unexpected end")
		return nil
	}
	switch c := r.data[r.i]; {
	case c == '{':
		return r.object(shape, depth)
	case c == '[':
		return r.array(shape, depth)
	case c == '"':
		raw, escaped, nul, ok := r.str()
		if !ok {
			return nil
		}
		if nul {
			r.problem("contains the character U+0000, which is not allowed in text")
		}
		if r.build {
			return unquote(raw, escaped)
		}
		return nil
	case c == 't':
		return r.literal("true", true)
	case c == 'f':
		return r.literal("false", false)
	case c == 'n':
		return r.literal("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		tok, ok := r.number()
		if ok && r.build {
			return json.Number(tok)
		}
		return nil
	}
	r.fail("unexpected character " + strconv.QuoteRune(rune(r.data[r.i])))
	return nil
}

func (r *reader) literal(word string, v any) any {
	if !strings.HasPrefix(string(r.data[r.i:min(len(r.data), r.i+len(word))]), word) {
		r.fail("invalid literal")
		return nil
	}
	r.i += len(word)
	return v
}

// smallObject is how many keys an object may have before repeats are found with a map rather
// than by comparing each key with those before it.
const smallObject = 32

func (r *reader) object(shape *Shape, depth int) any {
	r.i++ // {
	var m map[string]any
	if r.build {
		m = map[string]any{}
	}
	var stack [smallObject]string
	keys := stack[:0]
	var many map[string]struct{}
	r.ws()
	if r.i < len(r.data) && r.data[r.i] == '}' {
		r.i++
		return m
	}
	for {
		r.ws()
		if r.i >= len(r.data) || r.data[r.i] != '"' {
			r.fail("want a string key")
			return nil
		}
		raw, escaped, nul, ok := r.str()
		if !ok {
			return nil
		}
		// A key is compared as encoding/json would store it: escapes decoded, bad UTF-8 replaced.
		var key string
		if escaped || !utf8.Valid(raw) {
			key = unquote(raw, true)
		} else {
			key = unsafeString(raw)
		}
		if r.track {
			r.path = append(r.path, step{key: key, isKey: true})
		}
		if nul {
			r.problem("the field name contains the character U+0000, which is not allowed in text")
		}
		dup := false
		if many != nil {
			_, dup = many[key]
			many[key] = struct{}{}
		} else {
			for _, k := range keys {
				if k == key {
					dup = true
					break
				}
			}
			if len(keys) < smallObject {
				keys = append(keys, key)
			} else {
				many = make(map[string]struct{}, 2*smallObject)
				for _, k := range keys {
					many[k] = struct{}{}
				}
				many[key] = struct{}{}
			}
		}
		if dup {
			r.problem("is given more than once; give each field once, so the answer cannot be read two ways")
		}
		var sub *Shape
		if shape != nil {
			if shape.fields != nil {
				var known bool
				sub, known = shape.fields[key]
				if !known {
					for name := range shape.fields {
						if strings.EqualFold(name, key) {
							r.problem("is not a field: field names are case-sensitive; write " + strconv.Quote(name))
							break
						}
					}
				}
			} else {
				sub = shape.elem
			}
		}
		r.ws()
		if r.i >= len(r.data) || r.data[r.i] != ':' {
			r.fail("want a colon after an object key")
			return nil
		}
		r.i++
		v := r.value(sub, depth+1)
		if r.track {
			r.path = r.path[:len(r.path)-1]
		}
		if r.syntax != "" {
			return nil
		}
		if r.build {
			m[strings.Clone(key)] = v
		}
		r.ws()
		if r.i >= len(r.data) {
			r.fail("unexpected end in an object")
			return nil
		}
		switch r.data[r.i] {
		case ',':
			r.i++
		case '}':
			r.i++
			return m
		default:
			r.fail("want a comma or } in an object")
			return nil
		}
	}
}

func (r *reader) array(shape *Shape, depth int) any {
	r.i++ // [
	var a []any
	if r.build {
		a = []any{}
	}
	var elem *Shape
	if shape != nil && shape.fields == nil {
		elem = shape.elem
	}
	r.ws()
	if r.i < len(r.data) && r.data[r.i] == ']' {
		r.i++
		return a
	}
	for n := 0; ; n++ {
		if r.track {
			r.path = append(r.path, step{index: n})
		}
		v := r.value(elem, depth+1)
		if r.track {
			r.path = r.path[:len(r.path)-1]
		}
		if r.syntax != "" {
			return nil
		}
		if r.build {
			a = append(a, v)
		}
		r.ws()
		if r.i >= len(r.data) {
			r.fail("unexpected end in an array")
			return nil
		}
		switch r.data[r.i] {
		case ',':
			r.i++
		case ']':
			r.i++
			return a
		default:
			r.fail("want a comma or ] in an array")
			return nil
		}
	}
}

// str reads a string token, returning its bytes between the quotes, whether it has escapes, and
// whether one of them is U+0000 (the only way JSON text can carry it).
func (r *reader) str() (raw []byte, escaped, nul, ok bool) {
	r.i++ // "
	start := r.i
	for r.i < len(r.data) {
		c := r.data[r.i]
		switch {
		case c == '"':
			r.i++
			return r.data[start : r.i-1], escaped, nul, true
		case c < 0x20:
			r.fail("control character in a string")
			return nil, false, false, false
		case c == '\\':
			escaped = true
			if r.i+1 >= len(r.data) {
				r.fail("unexpected end in a string")
				return nil, false, false, false
			}
			switch r.data[r.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.i += 2
			case 'u':
				if r.i+6 > len(r.data) {
					r.fail("unexpected end in a string")
					return nil, false, false, false
				}
				n, err := strconv.ParseUint(string(r.data[r.i+2:r.i+6]), 16, 16)
				if err != nil || r.data[r.i+2] == '+' {
					r.fail("invalid \\u escape")
					return nil, false, false, false
				}
				nul = nul || n == 0
				r.i += 6
			default:
				r.fail("invalid escape in a string")
				return nil, false, false, false
			}
		default:
			r.i++
		}
	}
	r.fail("unexpected end in a string")
	return nil, false, false, false
}

// number reads a number token, checking its grammar as JSON gives it.
func (r *reader) number() ([]byte, bool) {
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.data) && r.data[r.i] >= '0' && r.data[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.data[r.i] == '-' {
		r.i++
	}
	intStart := r.i
	n := digits()
	if n == 0 || n > 1 && r.data[intStart] == '0' {
		r.fail("invalid number")
		return nil, false
	}
	if r.i < len(r.data) && r.data[r.i] == '.' {
		r.i++
		if digits() == 0 {
			r.fail("invalid number")
			return nil, false
		}
	}
	if r.i < len(r.data) && (r.data[r.i] == 'e' || r.data[r.i] == 'E') {
		r.i++
		if r.i < len(r.data) && (r.data[r.i] == '+' || r.data[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			r.fail("invalid number")
			return nil, false
		}
	}
	return r.data[start:r.i], true
}

// unquote decodes a string token's contents exactly as encoding/json does; plain ASCII-safe
// text is taken as it is, anything else is handed to encoding/json itself so that its rules for
// surrogates and bad UTF-8 hold without being restated.
func unquote(raw []byte, escaped bool) string {
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	_ = json.Unmarshal(quoted, &s) // the token was checked, so it decodes
	return s
}

// unsafeString views b as a string without copying, for comparing keys while b is in hand; it
// is never kept past the walk (Decode clones the keys it stores).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
