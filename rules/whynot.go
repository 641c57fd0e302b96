package rules

import (
	"bytes"
	"fmt"

	"cel.dev/cel-go/common/types"
)

// WhyNot answers "why not pathway X?" for one input: the rule that matched, and for each rule that
// leads to X whether it was reached, and which operands of its condition failed, with the values.
type WhyNot struct {
	Pathway string       `json:"pathway"`
	Matched string       `json:"matched_rule"`
	Got     string       `json:"got_pathway"`
	Rules   []WhyNotRule `json:"rules"`
	Summary string       `json:"summary"`
}

// WhyNotRule is one rule leading to the pathway asked about, as evaluated for the input.
type WhyNotRule struct {
	Rule   string       `json:"rule"`
	When   string       `json:"when"`
	Result bool         `json:"result"`
	Parts  []PartValue  `json:"parts"`
	Values []NamedValue `json:"values"`
	// Shadowed names the earlier rule that matched first when this rule's condition held or was
	// never reached.
	Shadowed string `json:"shadowed_by,omitempty"`
}

// WhyNot evaluates in and explains why it did not (or did) reach pathway.
func (p *Program) WhyNot(in Input, pathway string) (*WhyNot, error) {
	r, err := p.Evaluate(in)
	if err != nil {
		return nil, err
	}
	rs := p.RuleSet
	w := &WhyNot{Pathway: pathway, Matched: rs.Rules[r.rule].ID, Got: rs.Rules[r.rule].Then.Pathway}
	a := activation{p: p, in: &in, vars: r.vars}
	for i, rule := range rs.Rules {
		if rule.Then.Pathway != pathway {
			continue
		}
		wr := WhyNotRule{Rule: rule.ID, When: whenText(rule.When), Result: true, Parts: []PartValue{}, Values: []NamedValue{}}
		if !p.always[i] {
			cond := &p.rules[i]
			out, err := cond.eval(&a)
			wr.Result = err == nil && out == types.True
			for k := range cond.parts {
				v, _ := evalPart(&cond.parts[k], &a)
				wr.Parts = append(wr.Parts, PartValue{Op: cond.op, Expr: cond.parts[k].text, Value: plainValue(v)})
			}
			for _, ref := range cond.refs {
				v, _ := a.value(ref)
				wr.Values = append(wr.Values, NamedValue{Name: p.names[ref], Value: plainValue(v)})
			}
		}
		if i > r.rule {
			wr.Shadowed = rs.Rules[r.rule].ID
		}
		w.Rules = append(w.Rules, wr)
	}
	switch {
	case w.Got == pathway:
		w.Summary = fmt.Sprintf("the decision is %s, by rule %s", pathway, w.Matched)
	case len(w.Rules) == 0:
		w.Summary = fmt.Sprintf("no rule of %s v%d leads to %s", rs.ID, rs.Version, pathway)
	default:
		w.Summary = fmt.Sprintf("rule %s matched first and chose %s", w.Matched, w.Got)
	}
	return w, nil
}

// Text formats the answer for a terminal.
func (w *WhyNot) Text() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "why not %s: %s\n", w.Pathway, w.Summary)
	for _, r := range w.Rules {
		state := "condition false"
		switch {
		case r.Result && r.Shadowed != "":
			state = "condition true, but rule " + r.Shadowed + " matched first"
		case r.Result:
			state = "matched"
		case r.Shadowed != "":
			state = "condition false (and rule " + r.Shadowed + " matched first)"
		}
		fmt.Fprintf(&b, "  rule %s: %s\n    when %s\n", r.Rule, state, r.When)
		for _, p := range r.Parts {
			fmt.Fprintf(&b, "      %v  <- %s\n", p.Value.Any(), p.Expr)
		}
		for _, v := range r.Values {
			fmt.Fprintf(&b, "      %s = %v\n", v.Name, v.Value.Any())
		}
	}
	return b.Bytes()
}
