package rules

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// CostLimit bounds the runtime cost of one CEL evaluation, so no rule can stall a decision.
const CostLimit = 100_000

// source says where an input name's value comes from at evaluation time.
type source uint8

const (
	fromAnswer source = iota
	fromScore
	fromAge
	fromParam
	fromVar
)

// slot is a resolved input name: its source and index in that source.
type slot struct {
	src source
	i   int
}

type compiledExpr struct {
	prg  cel.Program
	refs []int // indexes into Program.names, sorted, of the inputs the expression reads
	cost cost.Estimate
	// bounded is false for an expression whose worst-case cost estimate exceeds CostLimit: it runs
	// with the runtime cost limit and EvalTimeout.
	bounded bool
	// op is "&&" or "||" when the expression is a chain of that operator, and parts its operands
	// in order (one part when it is neither), for coverage and explanations.
	op    string
	parts []compiledPart
}

// compiledPart is one top-level operand of a condition.
type compiledPart struct {
	text string
	expr *compiledExpr
	ref  int // index into Program.names when the operand only names an input, else -1
	// cmp, when not nil, is the operand as a comparison of inputs and constants that an
	// explanation can work out from the values it already holds, without CEL.
	cmp *comparison
}

// noSizes gives the cost estimator no size hints, so unbounded inputs count as unbounded.
type noSizes struct{}

func (noSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (noSizes) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// Program is a rule set compiled and type-checked against one form version, ready to evaluate.
//
// A Program is immutable and safe for concurrent use; evaluation never parses.
type Program struct {
	RuleSet *RuleSet
	SHA256  string
	Schema  Schema

	names  []string       // every input name, e.g. "answers.phq9_9"
	slots  []slot         // slots[i] resolves names[i]
	lookup map[string]int // name -> index in names
	params []ref.Val      // params in names order of fromParam slots
	// paramValues are params as plain values, so explanations read them without converting.
	paramValues []Value
	vars        []compiledExpr // in declaration order
	rules       []compiledExpr // rules[i].prg is nil for a rule that always matches
	always      []bool         // always[i] when rule i has no condition
	// plan is the layout every explanation of this program shares.
	plan explainPlan
	// index, when not nil, narrows first-match evaluation to the rules that can match.
	index *ruleIndex
	// activations are Evaluate's, reused across evaluations.
	activations *sync.Pool
}

// celType maps a field kind to its CEL declaration type.
func celType(k Kind) *cel.Type {
	switch k {
	case KindInt:
		return cel.IntType
	case KindDouble:
		return cel.DoubleType
	case KindBool:
		return cel.BoolType
	default:
		return cel.StringType
	}
}

// Compile type-checks every variable and rule of rs against the form schema and the pathway
// catalogue, and returns a Program; all problems are reported together with file, rule and position.
func Compile(rs *RuleSet, schema Schema, knownPathway func(id string) bool) (*Program, error) {
	p := &Program{RuleSet: rs, SHA256: rs.SHA256(), Schema: schema, lookup: map[string]int{},
		activations: &sync.Pool{New: func() any { return new(activation) }}}
	var probs []Problem
	add := func(rule string, pos Pos, msg string) {
		probs = append(probs, Problem{File: rs.File, Rule: rule, Line: pos.Line, Column: pos.Column, Msg: msg})
	}
	if schema.Form != rs.Form {
		add("", Pos{}, fmt.Sprintf("form: rule set applies to %q, not to form %q", rs.Form, schema.Form))
	}
	if !rs.AcceptsFormVersion(schema.Version) {
		add("", Pos{}, fmt.Sprintf("form_versions: version %d of form %s is not accepted", schema.Version, schema.Form))
	}

	var decls []cel.EnvOption
	declare := func(name string, s slot, t *cel.Type) {
		p.lookup[name] = len(p.names)
		p.names = append(p.names, name)
		p.slots = append(p.slots, s)
		decls = append(decls, cel.Variable(name, t))
	}
	for i, f := range schema.Answers {
		declare("answers."+f.Name, slot{fromAnswer, i}, celType(f.Kind))
	}
	for i, f := range schema.Scores {
		declare("scores."+f.Name, slot{fromScore, i}, celType(f.Kind))
	}
	declare("subject.age", slot{fromAge, 0}, cel.IntType)
	paramNames := make([]string, 0, len(rs.Params))
	for name := range rs.Params {
		paramNames = append(paramNames, name)
	}
	sort.Strings(paramNames)
	for _, name := range paramNames {
		var v ref.Val
		var t *cel.Type
		switch x := rs.Params[name].(type) {
		case int:
			v, t = types.Int(x), cel.IntType
		case int64:
			v, t = types.Int(x), cel.IntType
		case float64:
			v, t = types.Double(x), cel.DoubleType
		case bool:
			v, t = types.Bool(x), cel.BoolType
		case string:
			v, t = types.String(x), cel.StringType
		default:
			add("", Pos{}, fmt.Sprintf("params.%s: want a number, boolean or string", name))
			continue
		}
		declare("params."+name, slot{fromParam, len(p.params)}, t)
		p.params = append(p.params, v)
		p.paramValues = append(p.paramValues, plainValue(v))
	}

	env, err := cel.NewEnv(decls...)
	if err != nil {
		return nil, fmt.Errorf("rules: unable to build the CEL environment: %w", err)
	}

	compileExpr := func(rule string, pos Pos, src string) (*cel.Ast, bool) {
		ast, iss := env.Compile(src)
		if iss != nil && iss.Err() != nil {
			for _, e := range iss.Errors() {
				at := pos
				if line := e.Location.Line(); line > 1 {
					at = Pos{pos.Line + line - 1, e.Location.Column() + 1}
				} else if line == 1 {
					at.Column += e.Location.Column()
				}
				add(rule, at, e.Message)
			}
			return nil, false
		}
		return ast, true
	}
	var plan func(ast *cel.Ast, est cost.Estimate) (compiledExpr, error)
	program := func(ast *cel.Ast) (compiledExpr, error) {
		est, err := env.EstimateCost(ast, noSizes{})
		if err != nil {
			return compiledExpr{}, fmt.Errorf("unable to estimate cost: %w", err)
		}
		if est.Min > CostLimit {
			return compiledExpr{}, fmt.Errorf("estimated cost %d is over the limit of %d", est.Min, CostLimit)
		}
		return plan(ast, est)
	}
	plan = func(ast *cel.Ast, est cost.Estimate) (compiledExpr, error) {
		opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
		// Tracking cost at run time costs allocations on every evaluation; an expression whose
		// worst case is already within the limit cannot exceed it, so only the others pay, and
		// only they can loop long enough to need the timeout.
		bounded := est.Max <= CostLimit
		if !bounded {
			opts = append(opts, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(interruptEvery))
		}
		prg, err := env.Program(ast, opts...)
		if err != nil {
			return compiledExpr{}, err
		}
		return compiledExpr{prg: prg, refs: p.references(ast), cost: est, bounded: bounded}, nil
	}

	for _, v := range rs.Variables {
		ast, ok := compileExpr("", v.Pos, v.Expr)
		if !ok {
			continue
		}
		ce, err := program(ast)
		if err != nil {
			add("", v.Pos, fmt.Sprintf("variables.%s: %v", v.Name, err))
			continue
		}
		// Extend so later variables and the rules can read this one, with the type CEL inferred.
		env, err = env.Extend(cel.Variable("vars."+v.Name, ast.OutputType()))
		if err != nil {
			return nil, fmt.Errorf("rules: unable to declare variable %s: %w", v.Name, err)
		}
		p.lookup["vars."+v.Name] = len(p.names)
		p.names = append(p.names, "vars."+v.Name)
		p.slots = append(p.slots, slot{fromVar, len(p.vars)})
		p.vars = append(p.vars, ce)
	}

	preds := make([]rulePredicates, len(rs.Rules))
	kinds := map[int]Kind{}
	for ri, r := range rs.Rules {
		if knownPathway != nil && r.Then.Pathway != "" && !knownPathway(r.Then.Pathway) {
			add(r.ID, r.Pos, fmt.Sprintf("then.pathway %q is not in the pathway catalogue", r.Then.Pathway))
		}
		when := strings.TrimSpace(r.When)
		if when == "" || when == "true" {
			p.rules = append(p.rules, compiledExpr{})
			p.always = append(p.always, true)
			continue
		}
		ast, ok := compileExpr(r.ID, r.WhenPos, when)
		if !ok {
			p.rules = append(p.rules, compiledExpr{})
			p.always = append(p.always, false)
			continue
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			add(r.ID, r.WhenPos, fmt.Sprintf("when must be a boolean condition, but it is %s", ast.OutputType()))
		}
		ce, err := program(ast)
		if err != nil {
			add(r.ID, r.WhenPos, err.Error())
		} else {
			operand := program
			if ce.bounded {
				// The worst case of a && or || chain is the sum of its operands' worst cases, so
				// each operand of a bounded condition is bounded too, by the whole's estimate;
				// estimating each again would cost a large rule set a tenth of its compile time.
				operand = func(sub *cel.Ast) (compiledExpr, error) { return plan(sub, ce.cost) }
			}
			ce.op, ce.parts = p.splitParts(env, ast, ce, operand)
			// An expression with a run-time cost limit can fail on an operand the index would
			// find false, so only bounded ones are indexed.
			if ce.bounded {
				preds[ri] = p.predicatesOf(ast.NativeRep(), kinds)
			}
		}
		p.rules = append(p.rules, ce)
		p.always = append(p.always, false)
	}
	if len(probs) > 0 {
		return nil, &CompileError{Problems: probs}
	}
	p.plan = p.planExplanations()
	p.index = buildIndex(len(p.rules), preds, kinds, p.slots)
	return p, nil
}

// references lists, sorted and without repeats, the declared inputs an expression reads.
func (p *Program) references(ast *cel.Ast) []int {
	var refs []int
	for _, info := range ast.NativeRep().ReferenceMap() {
		if info == nil || info.Name == "" || len(info.OverloadIDs) > 0 {
			continue
		}
		if i, ok := p.lookup[info.Name]; ok {
			refs = append(refs, i)
		}
	}
	sort.Ints(refs)
	out := refs[:0]
	for i, r := range refs {
		if i == 0 || r != refs[i-1] {
			out = append(out, r)
		}
	}
	return out
}

// Names returns every input name the program can read, in declaration order.
func (p *Program) Names() []string { return append([]string(nil), p.names...) }
