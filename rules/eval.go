package rules

import (
	"encoding/json"
	"fmt"
	"sync"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// EvalError says which rule or variable could not be evaluated, and why.
type EvalError struct {
	RuleSet string
	Version int
	Rule    string // empty for a variable
	Var     string // empty for a rule
	Err     error
}

// Error names the rule or variable that failed.
func (e *EvalError) Error() string {
	if e.Var != "" {
		return fmt.Sprintf("rules: %s v%d: variable %s: %v", e.RuleSet, e.Version, e.Var, e.Err)
	}
	return fmt.Sprintf("rules: %s v%d: rule %s: %v", e.RuleSet, e.Version, e.Rule, e.Err)
}

// Unwrap returns the underlying CEL error.
func (e *EvalError) Unwrap() error { return e.Err }

// activation resolves CEL names against one Input without building maps.
type activation struct {
	p    *Program
	in   *Input
	vars []ref.Val
	own  Input // the input of a pooled activation, which in points to
}

// release returns a pooled activation, holding on to nothing of its evaluation.
func (a *activation) release(pool *sync.Pool) {
	*a = activation{}
	pool.Put(a)
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	i, ok := a.p.lookup[name]
	if !ok {
		return nil, false
	}
	v, ok := a.value(i)
	return v, ok
}

// Parent implements interpreter.Activation; there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) value(i int) (ref.Val, bool) {
	s := a.p.slots[i]
	switch s.src {
	case fromAnswer:
		return celValue(a.in.Answers[s.i])
	case fromScore:
		return celValue(a.in.Scores[s.i])
	case fromAge:
		return celValue(a.in.Age)
	case fromParam:
		return a.p.params[s.i], true
	case fromVar:
		if s.i < len(a.vars) && a.vars[s.i] != nil {
			return a.vars[s.i], true
		}
	}
	return nil, false
}

// plain is the value at an input slot as a plain value; a variable not yet evaluated has none.
func (a *activation) plain(s slot) Value {
	switch s.src {
	case fromAnswer:
		return a.in.Answers[s.i]
	case fromScore:
		return a.in.Scores[s.i]
	case fromAge:
		return a.in.Age
	case fromParam:
		return a.p.paramValues[s.i]
	case fromVar:
		if s.i < len(a.vars) && a.vars[s.i] != nil {
			return plainValue(a.vars[s.i])
		}
	}
	return Value{}
}

func celValue(v Value) (ref.Val, bool) {
	switch v.Kind {
	case KindInt:
		return types.Int(v.I), true
	case KindDouble:
		return types.Double(v.F), true
	case KindBool:
		return types.Bool(v.B), true
	case KindString:
		return types.String(v.S), true
	}
	return nil, false
}

func plainValue(v ref.Val) Value {
	switch x := v.(type) {
	case types.Int:
		return Int(int64(x))
	case types.Double:
		return Double(float64(x))
	case types.Bool:
		return Bool(bool(x))
	case types.String:
		return String(string(x))
	case nil:
		return Value{}
	}
	return String(fmt.Sprint(v.Value()))
}

// Result is the outcome of evaluating one Input: the first rule that matched, and what it read.
type Result struct {
	p    *Program
	in   Input
	vars []ref.Val
	rule int
}

// Evaluate runs the variables in order and then the rules, first match wins.
//
// An input that makes a variable or a condition fail (for example an optional answer left empty
// that a rule reads) is an error naming it, never a silent default.
func (p *Program) Evaluate(in Input) (Result, error) {
	r := Result{p: p, in: in}
	// CEL keeps the activation it is given only for the call, but as an interface it escapes: a
	// pooled one, holding its own copy of the input, keeps r and the caller's input off the heap.
	a := p.activations.Get().(*activation)
	defer a.release(p.activations)
	a.p, a.own = p, in
	a.in = &a.own
	if len(p.vars) > 0 {
		a.vars = make([]ref.Val, len(p.vars))
		for i := range p.vars {
			v := &p.vars[i]
			out, err := v.eval(a)
			if err != nil {
				return Result{}, &EvalError{RuleSet: p.RuleSet.ID, Version: p.RuleSet.Version, Var: p.RuleSet.Variables[i].Name, Err: err}
			}
			a.vars[i] = out
		}
		r.vars = a.vars
	}
	var i int
	var err error
	if p.index != nil {
		i, err = p.firstMatch(a)
	} else {
		i, err = p.linearMatch(a)
	}
	if err != nil {
		return Result{}, err
	}
	if i >= 0 {
		r.rule = i
		return r, nil
	}
	// Compile refuses a rule set whose last rule can fail to match, so this is unreachable.
	return Result{}, fmt.Errorf("rules: %s v%d: no rule matched", p.RuleSet.ID, p.RuleSet.Version)
}

// linearMatch is first-match evaluation of every rule in order: the index of the rule that
// matched, or -1.
func (p *Program) linearMatch(a *activation) (int, error) {
	for i := range p.rules {
		if ok, err := p.matches(i, a); ok || err != nil {
			return i, err
		}
	}
	return -1, nil
}

// matches evaluates rule i's condition.
func (p *Program) matches(i int, a *activation) (bool, error) {
	if p.always[i] {
		return true, nil
	}
	out, err := p.rules[i].eval(a)
	if err != nil {
		return false, &EvalError{RuleSet: p.RuleSet.ID, Version: p.RuleSet.Version, Rule: p.RuleSet.Rules[i].ID, Err: err}
	}
	return out == types.True, nil
}

// Rule returns the rule that matched.
func (r *Result) Rule() *Rule { return &r.p.RuleSet.Rules[r.rule] }

// Outcome returns the matched rule's outcome.
func (r *Result) Outcome() Outcome { return r.p.RuleSet.Rules[r.rule].Then }

// MarshalJSON writes the value as a plain JSON scalar (null when absent).
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.Any()) }

// UnmarshalJSON reads a plain JSON scalar; whole numbers read back as integers.
func (v *Value) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case nil:
		*v = Value{}
	case bool:
		*v = Bool(t)
	case string:
		*v = String(t)
	case float64:
		if t == float64(int64(t)) {
			*v = Int(int64(t))
		} else {
			*v = Double(t)
		}
	default:
		return fmt.Errorf("rules: value %s is not a scalar", b)
	}
	return nil
}
