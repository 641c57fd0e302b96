package strictjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/strictjson"
)

type location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type subject struct {
	Ref      string    `json:"ref"`
	Location *location `json:"location,omitempty"`
}

type embedded struct {
	Note string `json:"note"`
}

type doc struct {
	embedded
	Form     string         `json:"form"`
	Subject  subject        `json:"subject"`
	Answers  map[string]any `json:"answers"`
	Authored *time.Time     `json:"authored"`
	Items    []item         `json:"item"`
	Raw      json.RawMessage
	Skipped  string `json:"-"`
}

type item struct {
	LinkID string `json:"linkId"`
	Item   []item `json:"item"`
}

func TestCheck(t *testing.T) {
	shape := strictjson.ShapeOf(reflect.TypeFor[doc]())
	tests := []struct {
		name, in string
		want     []strictjson.Problem // nil: accepted
		syntax   bool
	}{
		{"clean", `{"form":"f","subject":{"ref":"r","location":{"lat":1,"lon":2}},"answers":{"a":1,"b":[true,null]},"note":"n"}`, nil, false},
		{"repeated answer", `{"answers":{"risk_plan":true,"risk_plan":false}}`,
			[]strictjson.Problem{{"answers.risk_plan", "is given more than once; give each field once, so the answer cannot be read two ways"}}, false},
		{"repeated by escape", `{"form":"a","\u0066orm":"b"}`,
			[]strictjson.Problem{{"form", "is given more than once; give each field once, so the answer cannot be read two ways"}}, false},
		{"wrong case", `{"FORM":"f"}`,
			[]strictjson.Problem{{"FORM", `is not a field: field names are case-sensitive; write "form"`}}, false},
		{"wrong case deep", `{"subject":{"location":{"LAT":1}}}`,
			[]strictjson.Problem{{"subject.location.LAT", `is not a field: field names are case-sensitive; write "lat"`}}, false},
		{"wrong case by Unicode folding", "{\"\u017fubject\":{}}",
			[]strictjson.Problem{{"\u017fubject", `is not a field: field names are case-sensitive; write "subject"`}}, false},
		{"wrong case of a promoted field", `{"Note":"x"}`,
			[]strictjson.Problem{{"Note", `is not a field: field names are case-sensitive; write "note"`}}, false},
		{"answers keep any key", `{"answers":{"FORM":1,"Form":2}}`, nil, false},
		{"unknown keys are the decoder's business", `{"colour":1}`, nil, false},
		{"untagged field name", `{"Raw":{"x":1}}`, nil, false},
		{"untagged field wrongly cased", `{"raw":{}}`,
			[]strictjson.Problem{{"raw", `is not a field: field names are case-sensitive; write "Raw"`}}, false},
		{"recursive type", `{"item":[{"linkId":"a","item":[{"LinkId":"b"}]}]}`,
			[]strictjson.Problem{{"item[0].item[0].LinkId", `is not a field: field names are case-sensitive; write "linkId"`}}, false},
		{"NUL in a value", `{"subject":{"ref":"a\u0000b"}}`,
			[]strictjson.Problem{{"subject.ref", "contains the character U+0000, which is not allowed in text"}}, false},
		{"NUL in an array", `{"answers":{"x":["ok","\u0000"]}}`,
			[]strictjson.Problem{{"answers.x[1]", "contains the character U+0000, which is not allowed in text"}}, false},
		{"NUL in a key", `{"answers":{"a\u0000":1}}`,
			[]strictjson.Problem{{"answers.a\x00", "the field name contains the character U+0000, which is not allowed in text"}}, false},
		{"escaped backslash then u0000 is text", `{"form":"\\u0000"}`, nil, false},
		{"several at once", `{"form":"a","form":"b","answers":{"x":"\u0000"}}`, []strictjson.Problem{
			{"form", "is given more than once; give each field once, so the answer cannot be read two ways"},
			{"answers.x", "contains the character U+0000, which is not allowed in text"}}, false},
		{"many keys, repeated late", `{` + manyKeys(40) + `,"k3":0}`,
			[]strictjson.Problem{{"k3", "is given more than once; give each field once, so the answer cannot be read two ways"}}, false},
		{"bad UTF-8 keys that decode alike", "{\"answers\":{\"\xff\":1,\"\xfe\":2}}",
			[]strictjson.Problem{{"answers.\ufffd", "is given more than once; give each field once, so the answer cannot be read two ways"}}, false},
		{"truncated", `{"form":`, nil, true},
		{"trailing data", `{} {}`, nil, true},
		{"bad escape", `{"form":"\x"}`, nil, true},
		{"control character", "{\"form\":\"a\x01\"}", nil, true},
		{"leading zero", `{"answers":{"a":01}}`, nil, true},
		{"empty", ``, nil, true},
	}
	for _, tt := range tests {
		err := strictjson.Check([]byte(tt.in), shape)
		if tt.syntax {
			if !errors.Is(err, strictjson.ErrSyntax) {
				t.Errorf("%s: %v, want a syntax error", tt.name, err)
			}
			continue
		}
		var se *strictjson.Error
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != nil && !errors.As(err, &se):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		case tt.want != nil && !reflect.DeepEqual(se.Problems, tt.want):
			t.Errorf("%s: problems\n%q\nwant\n%q", tt.name, se.Problems, tt.want)
		}
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + string(rune('0'+i%10)) + string(rune('a'+i/10)) + `":0`)
	}
	return strings.Replace(b.String(), `"k3a"`, `"k3"`, 1)
}

func TestCheckBoundsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"answers":{`)
	for i := range 200 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"a":"\u0000"`)
	}
	b.WriteString(`}}`)
	var se *strictjson.Error
	if err := strictjson.Check([]byte(b.String()), nil); !errors.As(err, &se) || len(se.Problems) != 50 {
		t.Fatalf("%v", err)
	}
}

func TestCheckDepth(t *testing.T) {
	deep := strings.Repeat("[", strictjson.MaxDepth+1) + strings.Repeat("]", strictjson.MaxDepth+1)
	if err := strictjson.Check([]byte(deep), nil); !errors.Is(err, strictjson.ErrSyntax) {
		t.Errorf("too deep: %v", err)
	}
	ok := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if err := strictjson.Check([]byte(ok), nil); err != nil {
		t.Errorf("100 deep: %v", err)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	shape := strictjson.ShapeOf(reflect.TypeFor[doc]())
	data := []byte(`{"form":"f","subject":{"ref":"r","location":{"lat":1.5,"lon":-2}},"answers":{"a":1,"b":"x\u00e9","c":[true,null,{"d":false}]},"item":[{"linkId":"a"}]}`)
	if n := testing.AllocsPerRun(100, func() {
		if err := strictjson.Check(data, shape); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations for a clean document", n)
	}
}

// decodeStd decodes as the callers' encoding/json decoders do, refusing data after the value.
func decodeStd(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

// FuzzDecode holds the strict reader to encoding/json: what both accept decodes to the same
// value; what encoding/json refuses, the strict reader refuses as a syntax error; what only
// encoding/json accepts has a repeated key or a U+0000; and Check agrees with Decode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, `{"a":1,"a":2}`, `{"a":"\u0000"}`, `{"a":"\ud800"}`,
		"{\"\xff\":1,\"\xfe\":2}", `[1.5e3,-0,"\"\\\/\b\f\n\r\t"]`, ` "x" `, `{"a":{}}x`, `01`, `{"\u0061":1,"a":2}`,
		`[[[[]]]]`, `{"a":"\\u0000"}`, `nul`, `{"a" 1}`, `{,}`, `[1,]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := strictjson.Decode(data)
		want, stdErr := decodeStd(data)
		switch {
		case err == nil && stdErr != nil:
			t.Fatalf("strict accepts what encoding/json refuses (%v): %q", stdErr, data)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("values differ for %q:\nstrict %#v\nstd    %#v", data, got, want)
		case errors.Is(err, strictjson.ErrSyntax) && stdErr == nil:
			t.Fatalf("strict calls valid JSON a syntax error (%v): %q", err, data)
		case err != nil && !errors.Is(err, strictjson.ErrSyntax) && stdErr != nil:
			t.Fatalf("strict finds problems (%v) in what is not JSON (%v): %q", err, stdErr, data)
		case err != nil && !errors.Is(err, strictjson.ErrSyntax):
			if !bytes.Contains(data, []byte(`\u0000`)) && !hasRepeatedKey(data) {
				t.Fatalf("strict refuses (%v) a document without repeats or U+0000: %q", err, data)
			}
		}
		if cerr := strictjson.Check(data, nil); (cerr == nil) != (err == nil) || errors.Is(cerr, strictjson.ErrSyntax) != errors.Is(err, strictjson.ErrSyntax) {
			t.Fatalf("Check (%v) and Decode (%v) disagree on %q", cerr, err, data)
		}
	})
}

// hasRepeatedKey reports whether an object in data repeats a key, read independently through
// encoding/json's tokens (which decode keys as its Unmarshal does).
func hasRepeatedKey(data []byte) bool {
	type frame struct {
		keys      map[string]bool // nil for an array
		expectKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		case string:
			if top != nil && top.keys != nil && top.expectKey {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.expectKey = false
				continue
			}
		}
		valueDone()
	}
}

func BenchmarkCheck(b *testing.B) {
	shape := strictjson.ShapeOf(reflect.TypeFor[doc]())
	data := []byte(`{"form":"mental-health","subject":{"ref":"s-1","location":{"lat":52.95,"lon":-1.15}},
 "answers":{"phq9_1":2,"phq9_2":1,"phq9_3":1,"phq9_4":2,"phq9_5":1,"phq9_6":1,"phq9_7":1,"phq9_8":1,"phq9_9":0,
 "gad7_1":1,"gad7_2":1,"gad7_3":1,"gad7_4":0,"gad7_5":0,"gad7_6":1,"gad7_7":1,
 "risk_plan":false,"risk_intent":false,"previous_high_intensity_treatment":false,"under_secondary_care":false},
 "authored":"2026-11-20T10:15:00Z"}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := strictjson.Check(data, shape); err != nil {
			b.Fatal(err)
		}
	}
}
