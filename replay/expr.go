package replay

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/carepath/carepath/privacy"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Side is what one side of a comparison decided for a case, as --where and --group-by see it.
type Side struct {
	Pathway       string   `expr:"pathway" json:"pathway"`
	Priority      string   `expr:"priority" json:"priority"`
	RespondWithin string   `expr:"respond_within" json:"respond_within"`
	Flags         []string `expr:"flags" json:"flags"`
	Rule          string   `expr:"rule" json:"rule"`
}

// Subject is the person assessed, as --where and --group-by see it: pseudonymised, because what
// an expression can read it can also print as a group name. There is no reference, birth date,
// postcode or location to read.
type Subject struct {
	Pseudonym string `expr:"pseudonym"` // the keyed pseudonym of the subject reference, such as "psn_3f9c…"
	Age       int    `expr:"age"`       // whole years at the authored time; -1 when unknown
	AgeBand   string `expr:"age_band"`  // "0-17", "18-24", "25-34", ... "85+", or "unknown"
	District  string `expr:"district"`  // the postcode's outward code, such as "NG7"; "" when none
}

// envShape is the expression environment for one form version: a struct type built from the form's
// items and scores, so that expressions type-check against the real case shape (a misspelt item
// is an error before any case is read).
type envShape struct {
	typ          reflect.Type
	answers      reflect.Type
	scores       reflect.Type
	answerField  []int // field index of each item in answers; -1 when the item has no field
	scoreField   []int
	where, group *vm.Program
	pseudonym    bool // whether an expression may read subject.pseudonym, which costs an HMAC per case
	fAnswers     int
	fScores      int
	fSubject     int
	fOutcome     int
	fBaseline    int
	fCandidate   int
	fAuthored    int
	fChanged     int
}

// ExpressionError is a --where or --group-by expression that does not compile against a form's case shape.
type ExpressionError struct {
	Flag string // "where" or "group-by"
	Expr string
	Form string // form id and version, such as "mental-health v1"
	Err  error
}

// Error names the flag, the expression and the form it was checked against.
func (e *ExpressionError) Error() string {
	return fmt.Sprintf("replay: --%s %q does not compile against form %s: %v", e.Flag, e.Expr, e.Form, e.Err)
}

// Unwrap returns expr-lang's error.
func (e *ExpressionError) Unwrap() error { return e.Err }

func kindType(k rules.Kind) reflect.Type {
	switch k {
	case rules.KindInt:
		return reflect.TypeFor[int]()
	case rules.KindDouble:
		return reflect.TypeFor[float64]()
	case rules.KindBool:
		return reflect.TypeFor[bool]()
	default:
		return reflect.TypeFor[string]()
	}
}

// fieldsOf builds a struct type with a field for each kept field; idx[i] is field i's position in
// it, or -1 when keep leaves it out.
func fieldsOf(fields []rules.Field, keep func(i int) bool) (reflect.Type, []int) {
	sf := make([]reflect.StructField, 0, len(fields))
	idx := make([]int, len(fields))
	for i, f := range fields {
		idx[i] = -1
		if keep != nil && !keep(i) {
			continue
		}
		idx[i] = len(sf)
		sf = append(sf, reflect.StructField{Name: "F" + strconv.Itoa(i), Type: kindType(f.Kind), Tag: reflect.StructTag(`expr:"` + f.Name + `"`)})
	}
	return reflect.StructOf(sf), idx
}

// analystItem reports whether an item's answer may be read by --where and --group-by: free text
// may name or describe a person, and a date answer may be a birth date, so neither is; coded,
// numeric and yes/no answers are.
func analystItem(it *triage.Item) bool {
	return it.Type != triage.TypeString && it.Type != triage.TypeDate
}

// newEnvShape compiles where and groupBy against a form version's case shape.
func newEnvShape(f *triage.Form, where, groupBy string) (*envShape, error) {
	schema := f.Schema()
	sh := &envShape{}
	sh.answers, sh.answerField = fieldsOf(schema.Answers, func(i int) bool { return analystItem(&f.Items[i]) })
	sh.scores, sh.scoreField = fieldsOf(schema.Scores, nil)
	top := []reflect.StructField{
		{Name: "Answers", Type: sh.answers, Tag: `expr:"answers"`},
		{Name: "Scores", Type: sh.scores, Tag: `expr:"scores"`},
		{Name: "Subject", Type: reflect.TypeFor[Subject](), Tag: `expr:"subject"`},
		{Name: "Outcome", Type: reflect.TypeFor[Side](), Tag: `expr:"outcome"`},
		{Name: "Baseline", Type: reflect.TypeFor[Side](), Tag: `expr:"baseline"`},
		{Name: "Candidate", Type: reflect.TypeFor[Side](), Tag: `expr:"candidate"`},
		{Name: "Authored", Type: reflect.TypeFor[time.Time](), Tag: `expr:"authored"`},
		{Name: "Changed", Type: reflect.TypeFor[bool](), Tag: `expr:"changed"`},
	}
	sh.fAnswers, sh.fScores, sh.fSubject, sh.fOutcome, sh.fBaseline, sh.fCandidate, sh.fAuthored, sh.fChanged = 0, 1, 2, 3, 4, 5, 6, 7
	sh.typ = reflect.StructOf(top)
	env := reflect.New(sh.typ).Elem().Interface()
	var err error
	if where != "" {
		if sh.where, err = expr.Compile(where, expr.Env(env), expr.AsBool()); err != nil {
			return nil, &ExpressionError{Flag: "where", Expr: where, Form: fmt.Sprintf("%s v%d", f.ID, f.Version), Err: sh.explain(f, where, err)}
		}
	}
	if groupBy != "" {
		if sh.group, err = expr.Compile(groupBy, expr.Env(env)); err != nil {
			return nil, &ExpressionError{Flag: "group-by", Expr: groupBy, Form: fmt.Sprintf("%s v%d", f.ID, f.Version), Err: sh.explain(f, groupBy, err)}
		}
	}
	sh.pseudonym = readsPseudonym(sh.where) || readsPseudonym(sh.group)
	return sh, nil
}

// readsPseudonym reports whether a program may read subject.pseudonym: it does unless every use
// of subject is a member access by a constant name other than pseudonym and $env is not used.
func readsPseudonym(p *vm.Program) bool {
	if p == nil {
		return false
	}
	var v pseudonymUses
	node := p.Node()
	ast.Walk(&node, &v)
	for _, id := range v.idents {
		if !v.safe[id] {
			return true
		}
	}
	return false
}

// pseudonymUses collects the uses of subject and $env in an expression, and which of them are
// member accesses that cannot reach the pseudonym.
type pseudonymUses struct {
	idents []*ast.IdentifierNode // every subject and $env
	safe   map[*ast.IdentifierNode]bool
}

// Visit implements ast.Visitor.
func (v *pseudonymUses) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if x.Value == "subject" || x.Value == "$env" {
			v.idents = append(v.idents, x)
		}
	case *ast.MemberNode:
		id, ok := x.Node.(*ast.IdentifierNode)
		prop, constant := x.Property.(*ast.StringNode)
		if ok && id.Value == "subject" && constant && prop.Value != "pseudonym" {
			if v.safe == nil {
				v.safe = map[*ast.IdentifierNode]bool{}
			}
			v.safe[id] = true
		}
	}
}

// fill writes one case into env, a value of sh.typ, reusing it from case to case.
func (sh *envShape) fill(env reflect.Value, in *caseInput, p *privacy.Pseudonymiser, outcome, baseline, candidate *Side, changed bool) {
	a := env.Field(sh.fAnswers)
	for i, v := range in.values {
		if k := sh.answerField[i]; k >= 0 {
			setValue(a.Field(k), v)
		}
	}
	s := env.Field(sh.fScores)
	for i, v := range in.scores {
		setValue(s.Field(sh.scoreField[i]), v)
	}
	sub := Subject{Age: -1, AgeBand: privacy.UnknownAgeBand, District: privacy.PostcodeDistrict(in.subject.Postcode)}
	if sh.pseudonym {
		sub.Pseudonym = p.Subject(in.subject.Ref)
	}
	if in.age.Kind == rules.KindInt {
		sub.Age = int(in.age.I)
		sub.AgeBand = privacy.BandOfAge(sub.Age)
	}
	env.Field(sh.fSubject).Set(reflect.ValueOf(sub))
	env.Field(sh.fOutcome).Set(reflect.ValueOf(*outcome))
	env.Field(sh.fBaseline).Set(reflect.ValueOf(*baseline))
	env.Field(sh.fCandidate).Set(reflect.ValueOf(*candidate))
	env.Field(sh.fAuthored).Set(reflect.ValueOf(in.authored))
	env.Field(sh.fChanged).SetBool(changed)
}

// setValue writes a rule value into its typed field; an unanswered item reads as the zero value.
func setValue(f reflect.Value, v rules.Value) {
	switch f.Kind() {
	case reflect.Int:
		f.SetInt(v.I)
	case reflect.Float64:
		f.SetFloat(v.F)
	case reflect.Bool:
		f.SetBool(v.B)
	case reflect.String:
		f.SetString(v.S)
	}
}
