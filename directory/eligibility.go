package directory

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// The names a carepath_eligibility expression can read. subject.age is absent when the age is
// unknown, so expressions that need it should guard with subject.age_known.
const (
	varAge      = "subject.age"
	varAgeKnown = "subject.age_known"
	varPostcode = "subject.postcode"
	varPathway  = "outcome.pathway"
	varPriority = "outcome.priority"
	varFlags    = "outcome.flags"
)

// eligibilityCompiler compiles carepath_eligibility expressions, sharing one program among
// services that use the same text since directories repeat a handful of rules many times.
type eligibilityCompiler struct {
	env   *cel.Env
	cache map[string]cel.Program
}

func newEligibilityCompiler() (*eligibilityCompiler, error) {
	env, err := cel.NewEnv(
		cel.Variable(varAge, cel.IntType),
		cel.Variable(varAgeKnown, cel.BoolType),
		cel.Variable(varPostcode, cel.StringType),
		cel.Variable(varPathway, cel.StringType),
		cel.Variable(varPriority, cel.StringType),
		cel.Variable(varFlags, cel.ListType(cel.StringType)),
	)
	if err != nil {
		return nil, fmt.Errorf("directory: unable to build eligibility environment: %w", err)
	}
	return &eligibilityCompiler{env: env, cache: map[string]cel.Program{}}, nil
}

// compile type-checks expr and requires a boolean result, so a typo fails at load, not at triage.
func (c *eligibilityCompiler) compile(expr string) (cel.Program, error) {
	if prg, ok := c.cache[expr]; ok {
		return prg, nil
	}
	ast, iss := c.env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("expression yields %s, want bool", ast.OutputType())
	}
	prg, err := c.env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	c.cache[expr] = prg
	return prg, nil
}

// subjectVars is the activation for one query; it is built once per Match and shared by every
// service's program, so evaluation converts no Go values.
type subjectVars struct {
	age      ref.Val // nil when unknown
	ageKnown ref.Val
	postcode ref.Val
	pathway  ref.Val
	priority ref.Val
	flags    ref.Val
}

var _ interpreter.Activation = (*subjectVars)(nil)

func newSubjectVars(q *Query) *subjectVars {
	v := &subjectVars{
		ageKnown: types.Bool(q.Age.Known),
		postcode: types.String(q.Postcode),
		pathway:  types.String(q.Pathway),
		priority: types.String(q.Priority),
		flags:    types.NewStringList(types.DefaultTypeAdapter, q.Flags),
	}
	if q.Age.Known {
		v.age = types.Int(q.Age.Years)
	}
	return v
}

// ResolveName implements interpreter.Activation.
func (v *subjectVars) ResolveName(name string) (any, bool) {
	switch name {
	case varAge:
		return v.age, v.age != nil
	case varAgeKnown:
		return v.ageKnown, true
	case varPostcode:
		return v.postcode, true
	case varPathway:
		return v.pathway, true
	case varPriority:
		return v.priority, true
	case varFlags:
		return v.flags, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *subjectVars) Parent() interpreter.Activation { return nil }

func evalEligibility(prg cel.Program, vars *subjectVars) (bool, error) {
	out, _, err := prg.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, errors.New("expression did not yield a bool")
	}
	return bool(b), nil
}
