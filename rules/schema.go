package rules

import "fmt"

// Kind is the type of a value that rules can see.
type Kind uint8

// The kinds a form field, score, parameter or variable can have.
const (
	KindNone Kind = iota // absent: an optional item left unanswered
	KindInt
	KindDouble
	KindBool
	KindString
)

// String names the kind as rule authors see it in CEL.
func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindDouble:
		return "double"
	case KindBool:
		return "bool"
	case KindString:
		return "string"
	}
	return "none"
}

// Field is one typed input that a rule set may read, such as answers.phq9_1 or scores.phq9_total.
type Field struct {
	Name string
	Kind Kind
}

// Schema describes the typed inputs of one form version, so that rule sets type-check against it.
type Schema struct {
	Form    string
	Version int
	Answers []Field
	Scores  []Field
}

// Value is one input value; it is a small tagged union so evaluation need not allocate maps.
//
// The string comes first and the one-byte fields last, so a Value is 40 bytes rather than 48: inputs
// and explanations hold many of them.
type Value struct {
	S    string
	I    int64
	F    float64
	Kind Kind
	B    bool
}

// Int makes an integer value.
func Int(v int64) Value { return Value{Kind: KindInt, I: v} }

// Double makes a floating-point value.
func Double(v float64) Value { return Value{Kind: KindDouble, F: v} }

// Bool makes a boolean value.
func Bool(v bool) Value { return Value{Kind: KindBool, B: v} }

// String makes a string value.
func String(v string) Value { return Value{Kind: KindString, S: v} }

// Any returns the value as a plain Go value (int64, float64, bool, string or nil), for JSON and logs.
func (v Value) Any() any {
	switch v.Kind {
	case KindInt:
		return v.I
	case KindDouble:
		return v.F
	case KindBool:
		return v.B
	case KindString:
		return v.S
	}
	return nil
}

// GoString formats the value for test failures.
func (v Value) GoString() string { return fmt.Sprintf("%s(%v)", v.Kind, v.Any()) }

// Input is everything one evaluation reads: answers and scores aligned with the Schema's fields.
type Input struct {
	Answers []Value // Answers[i] is the value of Schema.Answers[i]
	Scores  []Value // Scores[i] is the value of Schema.Scores[i]
	Age     Value   // subject.age in whole years; KindNone when unknown
}
