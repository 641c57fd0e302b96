package rules

// Explanation tells why a decision came out as it did: every condition evaluated, in order, with
// the inputs it read.
type Explanation struct {
	Rule      string        `json:"rule"`
	Because   string        `json:"because"`
	Variables []VariableRun `json:"variables,omitempty"`
	Evaluated []Evaluated   `json:"evaluated"`
}

// VariableRun is one rule-set variable as it was evaluated, with the inputs it read.
type VariableRun struct {
	Name   string       `json:"name"`
	Expr   string       `json:"expr"`
	Value  Value        `json:"value"`
	Values []NamedValue `json:"values"`
}

// Evaluated is one rule condition as it was evaluated.
type Evaluated struct {
	Rule   string       `json:"rule"`
	When   string       `json:"when"`
	Result bool         `json:"result"`
	Values []NamedValue `json:"values"`
	// Parts are the operands of the matched condition's top-level && or || with their values.
	Parts []PartValue `json:"parts,omitempty"`
}

// PartValue is one operand of a condition and the value it had; Value is absent when it failed.
type PartValue struct {
	Op    string `json:"op"`
	Expr  string `json:"expr"`
	Value Value  `json:"value"`
}

// NamedValue is an input name with the value it had.
type NamedValue struct {
	Name  string `json:"name"`
	Value Value  `json:"value"`
}

// explainPlan is the layout of every explanation of one program, built once by Compile. Rule ids,
// conditions, input names and parameter values are the same in every explanation, so Explain copies
// them in bulk and fills in only what the evaluation decided: far fewer writes, and no per-input
// branching on where a name comes from.
type explainPlan struct {
	// values holds every value an explanation can show, in the order it shows them: the inputs of
	// each variable, then those of each rule, with names and parameter values already filled in.
	values []NamedValue
	// inputs are the positions in values that an evaluation fills, in order, with their sources.
	inputs []planInput
	vars   []VariableRun // variable names and expressions
	varEnd []int         // variable i shows values[varEnd[i-1]:varEnd[i]]
	steps  []Evaluated   // rule ids and conditions ("true" for a rule without one)
	// ruleEnd[i] is where rule i's values end; an explanation up to rule i holds values[:ruleEnd[i]].
	ruleEnd []int
}

// planInput is a position in explainPlan.values whose value comes from the input or a variable.
type planInput struct {
	at   int
	from slot
}

// planExplanations lays out the explanations of a compiled program.
func (p *Program) planExplanations() explainPlan {
	var pl explainPlan
	add := func(refs []int) {
		for _, ref := range refs {
			nv := NamedValue{Name: p.names[ref]}
			if s := p.slots[ref]; s.src == fromParam {
				nv.Value = p.paramValues[s.i]
			} else {
				pl.inputs = append(pl.inputs, planInput{at: len(pl.values), from: s})
			}
			pl.values = append(pl.values, nv)
		}
	}
	for i, v := range p.vars {
		add(v.refs)
		decl := &p.RuleSet.Variables[i]
		pl.vars = append(pl.vars, VariableRun{Name: decl.Name, Expr: decl.Expr})
		pl.varEnd = append(pl.varEnd, len(pl.values))
	}
	for i, r := range p.rules {
		add(r.refs)
		rule := &p.RuleSet.Rules[i]
		pl.steps = append(pl.steps, Evaluated{Rule: rule.ID, When: whenText(rule.When)})
		pl.ruleEnd = append(pl.ruleEnd, len(pl.values))
	}
	return pl
}

// Explain builds the explanation of a result; it reads values the evaluation already resolved.
//
// It runs for every decision, so it avoids CEL where it can: everything but the values of the
// inputs comes ready from the program's explainPlan, inputs are read as the plain values they
// already are, and operands of the matched condition are evaluated again only when their value is
// not already known.
func (r *Result) Explain() Explanation {
	p := r.p
	pl := &p.plan
	n := pl.ruleEnd[r.rule]
	// One backing array for every value; its names and parameters come in one bulk copy.
	values := make([]NamedValue, n)
	copy(values, pl.values[:n])
	var vars []VariableRun
	start := 0
	if len(pl.vars) > 0 {
		vars = make([]VariableRun, len(pl.vars))
		copy(vars, pl.vars)
		for i := range vars {
			vars[i].Value = plainValue(r.vars[i])
			end := pl.varEnd[i]
			vars[i].Values = values[start:end:end]
			start = end
		}
	}
	for _, in := range pl.inputs {
		if in.at >= n {
			break
		}
		values[in.at].Value = r.slotValue(in.from, vars)
	}
	steps := make([]Evaluated, r.rule+1)
	copy(steps, pl.steps[:r.rule+1])
	for i := range steps {
		end := pl.ruleEnd[i]
		steps[i].Values = values[start:end:end]
		start = end
	}
	steps[r.rule].Result = true
	if cond := &p.rules[r.rule]; len(cond.parts) > 1 {
		steps[r.rule].Parts = r.parts(cond, vars)
	}
	rule := r.Rule()
	return Explanation{Rule: rule.ID, Because: rule.Because, Variables: vars, Evaluated: steps}
}

// plain is the value of input name i as evaluation saw it, read without a round trip through CEL
// values; vars holds the variables explained so far, which are the only ones an input can name.
func (r *Result) plain(i int, vars []VariableRun) Value { return r.slotValue(r.p.slots[i], vars) }

// slotValue is the value at a resolved input slot; see plain.
func (r *Result) slotValue(s slot, vars []VariableRun) Value {
	switch s.src {
	case fromAnswer:
		return r.in.Answers[s.i]
	case fromScore:
		return r.in.Scores[s.i]
	case fromAge:
		return r.in.Age
	case fromParam:
		return r.p.paramValues[s.i]
	case fromVar:
		if s.i < len(vars) {
			return vars[s.i].Value
		}
	}
	return Value{}
}

// parts gives each operand of the matched condition its value. Every operand of a matched &&
// chain was true, an operand that only names an input has that input's value, and a comparison
// of inputs and constants is worked out from those values; the rest are evaluated again by CEL.
func (r *Result) parts(cond *compiledExpr, vars []VariableRun) []PartValue {
	out := make([]PartValue, len(cond.parts))
	var a *activation
	// The activation escapes into CEL, so it gets its own copy of the input rather than a pointer
	// into r, which would move every caller's Result to the heap.
	for i := range cond.parts {
		part := &cond.parts[i]
		var v Value
		switch {
		case cond.op == "&&":
			v = Bool(true)
		case part.ref >= 0:
			v = r.plain(part.ref, vars)
		case part.cmp != nil && r.cmpOK(part.cmp, vars, &v):
		default:
			if a == nil {
				in := r.in
				a = &activation{p: r.p, in: &in, vars: r.vars}
			}
			x, _ := evalPart(part, a)
			v = plainValue(x)
		}
		out[i] = PartValue{Op: cond.op, Expr: part.text, Value: v}
	}
	return out
}

// cmpOK works out a comparison operand without CEL into v, reporting whether it could.
func (r *Result) cmpOK(c *comparison, vars []VariableRun, v *Value) bool {
	x, ok := c.eval(r, vars)
	*v = x
	return ok
}
