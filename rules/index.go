package rules

import (
	"math"
	"math/bits"
	"slices"
	"sort"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// A rule index lets evaluation skip rules that cannot match, as decision-table engines do.
//
// At compile time each rule's condition is split into its top-level && operands; an operand that
// reads a single input (an answer, score, age or variable) and compares it only with constants
// (< <= > >= == != in, a bare or negated boolean, and &&, || and ! of those) is a predicate on
// that input. The constants an input is compared with cut its values into regions (below the
// first constant, each constant, between two constants, ...), and every predicate is either true
// or false throughout a region. For each input and region the index keeps a bitset of the rules
// that can still match there: those whose predicates on the input hold in it, and those with none.
//
// Evaluation finds the region of each indexed input's value, intersects the bitsets, and runs the
// full CEL condition of only the rules left, in order; the first that is true matches, as it
// would have without the index. A rule is left out only when one of its && operands is certainly
// false, which makes the whole condition false in CEL whatever its other operands do (even fail),
// so skipping it changes neither the decision nor the explanation. An input that is absent, not a
// number, or not of the kind its predicates compare leaves every rule in: CEL decides.

// maxIndexWords bounds the bitsets kept for one input, so a rule set with a great many distinct
// constants on one input costs at most 2 MB for it; beyond that the input is left to CEL.
const maxIndexWords = 1 << 18

// ruleIndex holds, for each indexed input, the candidate rules of each region of its values.
type ruleIndex struct {
	words   int    // bitset length in 64-bit words
	last    uint64 // mask of the rules in the last word
	inputs  []indexedInput
	sets    []uint64 // every input's bitsets, region after region, words long each
	indexed int      // rules with at least one predicate, for tests and reports
}

// indexedInput is one input and the constants its predicates compare it with.
type indexedInput struct {
	from slot
	kind Kind      // KindBool is held as the integers 0 and 1
	ints []int64   // sorted, distinct constants of an int or bool input
	flts []float64 // ... of a double input
	strs []string  // ... of a string input
	base int       // where the input's region 0 starts in ruleIndex.sets
}

// predicate is a condition on one input's value: a comparison with a constant, or !, && or || of
// predicates. Evaluated on a region rather than a value, it is true or false for every value there.
type predicate struct {
	op   string // "<" "<=" ">" ">=" "==" "!=" for a comparison; "!" "&&" "||" otherwise
	lit  Value  // the constant of a comparison (booleans as Int 0 or 1)
	kids []*predicate
}

// rulePredicates are the predicates of one rule, per input name index; AND-ed when one input has
// several.
type rulePredicates map[int][]*predicate

// indexableKind is the kind of an input the index can compare, from its checked type.
func indexableKind(t *types.Type) Kind {
	switch {
	case t == nil:
		return KindNone
	case t.IsExactType(types.IntType):
		return KindInt
	case t.IsExactType(types.DoubleType):
		return KindDouble
	case t.IsExactType(types.BoolType):
		return KindBool
	case t.IsExactType(types.StringType):
		return KindString
	}
	return KindNone
}

// predicatesOf analyses a checked condition into per-input predicates of its top-level && chain.
// kinds records the kind of each input a predicate reads.
func (p *Program) predicatesOf(native *ast.AST, kinds map[int]Kind) rulePredicates {
	var conj []ast.Expr
	var flatten func(e ast.Expr)
	flatten = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
			for _, arg := range e.AsCall().Args() {
				flatten(arg)
			}
			return
		}
		conj = append(conj, e)
	}
	flatten(native.Expr())
	out := rulePredicates{}
	for _, e := range conj {
		if in, k, pr := p.onePredicate(native, e); pr != nil {
			out[in] = append(out[in], pr)
			kinds[in] = k
		}
	}
	return out
}

// onePredicate analyses e as a predicate on one input, returning the input's name index, its
// kind and the predicate, or a nil predicate when e is anything else.
func (p *Program) onePredicate(native *ast.AST, e ast.Expr) (int, Kind, *predicate) {
	switch e.Kind() {
	case ast.IdentKind, ast.SelectKind:
		in, k := p.indexedName(native, e)
		if in < 0 || k != KindBool {
			return -1, KindNone, nil
		}
		return in, k, &predicate{op: "==", lit: Int(1)}
	case ast.CallKind:
	default:
		return -1, KindNone, nil
	}
	call := e.AsCall()
	if call.IsMemberFunction() {
		return -1, KindNone, nil
	}
	args := call.Args()
	switch fn := call.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot:
		if fn == operators.LogicalNot && len(args) != 1 || fn != operators.LogicalNot && len(args) < 2 {
			return -1, KindNone, nil
		}
		op := map[string]string{operators.LogicalAnd: "&&", operators.LogicalOr: "||", operators.LogicalNot: "!"}[fn]
		pr := &predicate{op: op}
		in, k := -1, KindNone
		for _, arg := range args {
			i, ak, kid := p.onePredicate(native, arg)
			if kid == nil || in >= 0 && (i != in || ak != k) {
				return -1, KindNone, nil
			}
			in, k = i, ak
			pr.kids = append(pr.kids, kid)
		}
		return in, k, pr
	case operators.In:
		if len(args) != 2 || args[1].Kind() != ast.ListKind {
			return -1, KindNone, nil
		}
		in, k := p.indexedName(native, args[0])
		if in < 0 {
			return -1, KindNone, nil
		}
		list := args[1].AsList()
		if len(list.OptionalIndices()) > 0 {
			return -1, KindNone, nil
		}
		pr := &predicate{op: "||"}
		for _, el := range list.Elements() {
			c, ok := p.constant(native, el, k)
			if !ok {
				return -1, KindNone, nil
			}
			pr.kids = append(pr.kids, &predicate{op: "==", lit: c})
		}
		if len(pr.kids) == 0 {
			return -1, KindNone, nil // x in []: always false, which CEL can say as quickly
		}
		return in, k, pr
	}
	op, flipped, ok := comparisonOp(call.FunctionName())
	if !ok || len(args) != 2 {
		return -1, KindNone, nil
	}
	name, lit := args[0], args[1]
	in, k := p.indexedName(native, name)
	if in < 0 {
		name, lit = lit, name
		op = flipped
		if in, k = p.indexedName(native, name); in < 0 {
			return -1, KindNone, nil
		}
	}
	c, ok := p.constant(native, lit, k)
	if !ok {
		return -1, KindNone, nil
	}
	if k == KindBool && op != "==" && op != "!=" {
		return -1, KindNone, nil
	}
	return in, k, &predicate{op: op, lit: c}
}

// comparisonOp is the operator of a comparison function, and the operator with its sides swapped.
func comparisonOp(fn string) (op, flipped string, ok bool) {
	switch fn {
	case operators.Less:
		return "<", ">", true
	case operators.LessEquals:
		return "<=", ">=", true
	case operators.Greater:
		return ">", "<", true
	case operators.GreaterEquals:
		return ">=", "<=", true
	case operators.Equals:
		return "==", "==", true
	case operators.NotEquals:
		return "!=", "!=", true
	}
	return "", "", false
}

// indexedName is the name index and kind of an expression that names an input the index can
// use: an answer, score, age or variable of a kind it compares; -1 otherwise.
func (p *Program) indexedName(native *ast.AST, e ast.Expr) (int, Kind) {
	if e.Kind() != ast.IdentKind && e.Kind() != ast.SelectKind {
		return -1, KindNone
	}
	info, ok := native.ReferenceMap()[e.ID()]
	if !ok || info == nil || len(info.OverloadIDs) > 0 {
		return -1, KindNone
	}
	i, ok := p.lookup[info.Name]
	if !ok || p.slots[i].src == fromParam {
		return -1, KindNone
	}
	k := indexableKind(native.GetType(e.ID()))
	if k == KindNone {
		return -1, KindNone
	}
	return i, k
}

// constant is the value of a literal or parameter of kind k (booleans as 0 or 1), if e is one.
func (p *Program) constant(native *ast.AST, e ast.Expr, k Kind) (Value, bool) {
	var v Value
	switch e.Kind() {
	case ast.LiteralKind:
		lit := e.AsLiteral()
		switch lit.Type() {
		case types.IntType, types.DoubleType, types.BoolType, types.StringType:
		default:
			return Value{}, false // bytes, null, unsigned: leave them to CEL
		}
		v = plainValue(lit)
	case ast.IdentKind, ast.SelectKind:
		info, ok := native.ReferenceMap()[e.ID()]
		if !ok || info == nil {
			return Value{}, false
		}
		i, ok := p.lookup[info.Name]
		if !ok || p.slots[i].src != fromParam {
			return Value{}, false
		}
		v = p.paramValues[p.slots[i].i]
	default:
		return Value{}, false
	}
	if v.Kind != k || v.Kind == KindDouble && math.IsNaN(v.F) {
		return Value{}, false
	}
	if k == KindBool {
		return boolInt(v.B), true
	}
	return v, true
}

func boolInt(b bool) Value {
	if b {
		return Int(1)
	}
	return Int(0)
}

// buildIndex makes the index of a program's rules from their predicates, or nil when no rule
// has one. preds[i] is nil for a rule that is always a candidate.
func buildIndex(n int, preds []rulePredicates, kinds map[int]Kind, slots []slot) *ruleIndex {
	ix := &ruleIndex{words: (n + 63) / 64}
	ix.last = ^uint64(0)
	if r := n % 64; r != 0 {
		ix.last = 1<<r - 1
	}
	byInput := map[int][]int{} // input name index -> rules with predicates on it
	for i, rp := range preds {
		if len(rp) > 0 {
			ix.indexed++
		}
		for in := range rp {
			byInput[in] = append(byInput[in], i)
		}
	}
	if ix.indexed == 0 {
		return nil
	}
	names := make([]int, 0, len(byInput))
	for in := range byInput {
		names = append(names, in)
	}
	sort.Ints(names)
	for _, in := range names {
		ii := indexedInput{from: slots[in], kind: kinds[in]}
		for _, r := range byInput[in] {
			for _, pr := range preds[r][in] {
				ii.collect(pr)
			}
		}
		ii.sortConstants()
		regions := 2*ii.constants() + 1
		if regions*ix.words > maxIndexWords {
			continue
		}
		ii.base = len(ix.sets)
		sets := make([]uint64, regions*ix.words)
		for r := range regions {
			row := sets[r*ix.words : (r+1)*ix.words]
			for w := range row {
				row[w] = ^uint64(0)
			}
			row[ix.words-1] = ix.last
		}
		for _, rule := range byInput[in] {
			for r := range regions {
				for _, pr := range preds[rule][in] {
					if !ii.holds(pr, r) {
						sets[r*ix.words+rule/64] &^= 1 << (rule % 64)
						break
					}
				}
			}
		}
		ix.sets = append(ix.sets, sets...)
		ix.inputs = append(ix.inputs, ii)
	}
	if len(ix.inputs) == 0 {
		return nil
	}
	return ix
}

// collect adds the constants of a predicate to the input's.
func (ii *indexedInput) collect(pr *predicate) {
	if pr.kids != nil {
		for _, k := range pr.kids {
			ii.collect(k)
		}
		return
	}
	switch ii.kind {
	case KindDouble:
		ii.flts = append(ii.flts, pr.lit.F)
	case KindString:
		ii.strs = append(ii.strs, pr.lit.S)
	default:
		ii.ints = append(ii.ints, pr.lit.I)
	}
}

func (ii *indexedInput) sortConstants() {
	slices.Sort(ii.ints)
	ii.ints = slices.Compact(ii.ints)
	slices.Sort(ii.flts)
	// Compact with == so that -0 and 0, which CEL holds equal, are one constant.
	ii.flts = slices.CompactFunc(ii.flts, func(a, b float64) bool { return a == b })
	slices.Sort(ii.strs)
	ii.strs = slices.Compact(ii.strs)
}

func (ii *indexedInput) constants() int { return len(ii.ints) + len(ii.flts) + len(ii.strs) }

// position is the region of a constant: constant j is region 2j+1, and region 2j lies between
// constants j-1 and j.
func (ii *indexedInput) position(v Value) int {
	switch ii.kind {
	case KindDouble:
		j, _ := slices.BinarySearch(ii.flts, v.F)
		return 2*j + 1
	case KindString:
		j, _ := slices.BinarySearch(ii.strs, v.S)
		return 2*j + 1
	}
	j, _ := slices.BinarySearch(ii.ints, v.I)
	return 2*j + 1
}

// holds evaluates a predicate on region r.
func (ii *indexedInput) holds(pr *predicate, r int) bool {
	switch pr.op {
	case "!":
		return !ii.holds(pr.kids[0], r)
	case "&&":
		for _, k := range pr.kids {
			if !ii.holds(k, r) {
				return false
			}
		}
		return true
	case "||":
		for _, k := range pr.kids {
			if ii.holds(k, r) {
				return true
			}
		}
		return false
	}
	c := ii.position(pr.lit)
	switch pr.op {
	case "<":
		return r < c
	case "<=":
		return r <= c
	case ">":
		return r > c
	case ">=":
		return r >= c
	case "==":
		return r == c
	}
	return r != c
}

// region is the region of a value of the input, or false when the index cannot place it (absent,
// not a number, or of another kind) and every rule stays a candidate.
func (ii *indexedInput) region(v Value) (int, bool) {
	switch ii.kind {
	case KindInt:
		if v.Kind != KindInt {
			return 0, false
		}
		return searchRegion(ii.ints, v.I), true
	case KindBool:
		if v.Kind != KindBool {
			return 0, false
		}
		return searchRegion(ii.ints, boolInt(v.B).I), true
	case KindDouble:
		if v.Kind != KindDouble || math.IsNaN(v.F) {
			return 0, false
		}
		return searchRegion(ii.flts, v.F), true
	case KindString:
		if v.Kind != KindString {
			return 0, false
		}
		return searchRegion(ii.strs, v.S), true
	}
	return 0, false
}

// searchRegion places x among sorted distinct constants: 2j+1 when x is constant j, else 2j
// where j constants are below x.
func searchRegion[T int64 | float64 | string](cs []T, x T) int {
	lo, hi := 0, len(cs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cs[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(cs) && cs[lo] == x {
		return 2*lo + 1
	}
	return 2 * lo
}

// offsets are where the bitsets of the regions holding the activation's values start in sets, for
// each input the index can place; buf is room for them that need not be allocated.
func (ix *ruleIndex) offsets(a *activation, buf []int) []int {
	offs := buf[:0]
	for k := range ix.inputs {
		ii := &ix.inputs[k]
		if r, ok := ii.region(a.plain(ii.from)); ok {
			offs = append(offs, ii.base+r*ix.words)
		}
	}
	return offs
}

// word is the w-th word of the candidate rules: those in every bitset at offs.
func (ix *ruleIndex) word(offs []int, w int) uint64 {
	c := ^uint64(0)
	if w == ix.words-1 {
		c = ix.last
	}
	for _, o := range offs {
		if c &= ix.sets[o+w]; c == 0 {
			break
		}
	}
	return c
}

// firstMatch is first-match evaluation of the candidate rules only; see ruleIndex.
func (p *Program) firstMatch(a *activation) (int, error) {
	ix := p.index
	var buf [32]int
	offs := ix.offsets(a, buf[:])
	for w := range ix.words {
		for c := ix.word(offs, w); c != 0; c &= c - 1 {
			i := w*64 + bits.TrailingZeros64(c)
			if ok, err := p.matches(i, a); ok || err != nil {
				return i, err
			}
		}
	}
	return -1, nil
}
