package rules

import (
	"context"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
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
		// The operand is already parsed and checked as part of the whole: its subtree, with the
		// whole's types and references, is the checked operand, and parsing its text again
		// would cost most of a large rule set's compile time.
		sub, err := operandAst(native, e)
		if err != nil {
			return "", single()
		}
		ce, err := program(sub)
		if err != nil {
			return "", single()
		}
		parts = append(parts, compiledPart{text: text, expr: &ce, ref: p.nameIndex(text), cmp: p.comparisonOf(e, native.SourceInfo())})
	}
	return op, parts
}

// operandAst is the checked AST of one operand of a checked expression.
//
// Only the operand's own types and references are carried over: converting the whole's for each
// operand would cost as much as the parse it saves.
func operandAst(whole *ast.AST, e ast.Expr) (*cel.Ast, error) {
	typed, refs := map[int64]*types.Type{}, map[int64]*ast.ReferenceInfo{}
	allTypes, allRefs := whole.TypeMap(), whole.ReferenceMap()
	ast.PostOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if t, ok := allTypes[x.ID()]; ok {
			typed[x.ID()] = t
		}
		if r, ok := allRefs[x.ID()]; ok {
			refs[x.ID()] = r
		}
	}))
	pb, err := ast.ToProto(ast.NewCheckedAST(ast.NewAST(e, whole.SourceInfo()), typed, refs))
	if err != nil {
		return nil, err
	}
	return cel.CheckedExprToAst(pb), nil
}

// comparison is an operand of the form `a OP b`, where each side is an input name or a literal
// and OP is one of < <= > >= == !=: the shape of nearly every threshold in a rule set.
type comparison struct {
	op          string
	left, right comparand
}

// comparand is one side of a comparison: an input name (ref >= 0) or a literal value.
type comparand struct {
	ref int
	lit Value
}

// comparisonOf recognises an operand that is a comparison of names and literals, or returns nil.
func (p *Program) comparisonOf(e ast.Expr, info *ast.SourceInfo) *comparison {
	if e.Kind() != ast.CallKind {
		return nil
	}
	call := e.AsCall()
	var op string
	switch call.FunctionName() {
	case operators.Less:
		op = "<"
	case operators.LessEquals:
		op = "<="
	case operators.Greater:
		op = ">"
	case operators.GreaterEquals:
		op = ">="
	case operators.Equals:
		op = "=="
	case operators.NotEquals:
		op = "!="
	default:
		return nil
	}
	args := call.Args()
	if len(args) != 2 || call.IsMemberFunction() {
		return nil
	}
	var sides [2]comparand
	for k, arg := range args {
		switch arg.Kind() {
		case ast.LiteralKind:
			v := plainValue(arg.AsLiteral())
			if v.Kind == KindNone || v.Kind == KindString && arg.AsLiteral().Type() != types.StringType {
				return nil // bytes, null, unsigned and the like: leave them to CEL
			}
			sides[k] = comparand{ref: -1, lit: v}
		default:
			text, err := parser.Unparse(arg, info)
			if err != nil {
				return nil
			}
			i := p.nameIndex(text)
			if i < 0 {
				return nil
			}
			sides[k] = comparand{ref: i}
		}
	}
	return &comparison{op: op, left: sides[0], right: sides[1]}
}

// eval works out the comparison from plain values, as CEL would; ok is false when it cannot (a
// value absent, or of kinds CEL compares in ways not mirrored here), and CEL must be asked.
func (c *comparison) eval(r *Result, vars []VariableRun) (v Value, ok bool) {
	side := func(s comparand) Value {
		if s.ref < 0 {
			return s.lit
		}
		return r.plain(s.ref, vars)
	}
	a, b := side(c.left), side(c.right)
	if a.Kind != b.Kind {
		return Value{}, false
	}
	var order int // -1, 0 or 1
	switch a.Kind {
	case KindInt:
		order = cmpOrder(a.I, b.I)
	case KindString:
		order = cmpOrder(a.S, b.S)
	case KindDouble:
		if a.F != a.F || b.F != b.F {
			return Value{}, false // NaN: leave CEL's rules to CEL
		}
		order = cmpOrder(a.F, b.F)
	case KindBool:
		if c.op != "==" && c.op != "!=" {
			return Value{}, false
		}
		if a.B != b.B {
			order = 1
		}
	default:
		return Value{}, false
	}
	switch c.op {
	case "<":
		return Bool(order < 0), true
	case "<=":
		return Bool(order <= 0), true
	case ">":
		return Bool(order > 0), true
	case ">=":
		return Bool(order >= 0), true
	case "==":
		return Bool(order == 0), true
	}
	return Bool(order != 0), true
}

func cmpOrder[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
