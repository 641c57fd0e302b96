package rules

import (
	"context"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// EvalTimeout bounds the wall-clock time of one evaluation of an expression whose cost estimate
// is unbounded; CEL checks it between iterations of comprehensions, the only loops CEL has.
const EvalTimeout = 100 * time.Millisecond

// interruptEvery is how many comprehension iterations CEL runs between checks of the timeout.
const interruptEvery = 100

// eval evaluates a compiled expression, under EvalTimeout when its cost is not bounded.
func (ce *compiledExpr) eval(a interpreter.Activation) (ref.Val, error) {
	if ce.bounded {
		out, _, err := ce.prg.Eval(a)
		return out, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), EvalTimeout)
	defer cancel()
	out, _, err := ce.prg.ContextEval(ctx, a)
	return out, err
}

// splitParts breaks a condition into the operands of its top-level && or || chain, each compiled
// on its own, so coverage can see each operand true and false and explanations can show each value.
func (p *Program) splitParts(env *cel.Env, checked *cel.Ast, whole compiledExpr, program func(*cel.Ast) (compiledExpr, error)) (string, []compiledPart) {
	native := checked.NativeRep()
	root := native.Expr()
	op := ""
	if root.Kind() == ast.CallKind {
		switch root.AsCall().FunctionName() {
		case operators.LogicalAnd:
			op = "&&"
		case operators.LogicalOr:
			op = "||"
		}
	}
	single := func() []compiledPart {
		text, err := parser.Unparse(root, native.SourceInfo())
		if err != nil {
			return nil
		}
		return []compiledPart{{text: text, expr: &whole, ref: p.nameIndex(text)}}
	}
	if op == "" {
		return "", single()
	}
	var operands []ast.Expr
	var flatten func(e ast.Expr)
	flatten = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == root.AsCall().FunctionName() {
			for _, arg := range e.AsCall().Args() {
				flatten(arg)
			}
			return
		}
		operands = append(operands, e)
	}
	flatten(root)
	parts := make([]compiledPart, 0, len(operands))
	for _, e := range operands {
		text, err := parser.Unparse(e, native.SourceInfo())
		if err != nil {
			return "", single()
		}
		sub, iss := env.Compile(text)
		if iss != nil && iss.Err() != nil {
			return "", single()
		}
		ce, err := program(sub)
		if err != nil {
			return "", single()
		}
		parts = append(parts, compiledPart{text: text, expr: &ce, ref: p.nameIndex(text)})
	}
	return op, parts
}

// nameIndex is the index of an operand that is only an input name, such as vars.severe, or -1.
func (p *Program) nameIndex(text string) int {
	if i, ok := p.lookup[text]; ok {
		return i
	}
	return -1
}

// evalPart evaluates one operand; an operand that fails to evaluate has no value.
func evalPart(part *compiledPart, a interpreter.Activation) (ref.Val, bool) {
	out, err := part.expr.eval(a)
	if err != nil {
		return nil, false
	}
	return out, true
}
