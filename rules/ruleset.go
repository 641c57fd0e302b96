package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Priority is how urgently a pathway must respond.
type Priority string

// The priorities an outcome may carry, most urgent first.
const (
	Emergency Priority = "emergency"
	Urgent    Priority = "urgent"
	Routine   Priority = "routine"
)

// Valid reports whether p is one of the known priorities.
func (p Priority) Valid() bool { return p == Emergency || p == Urgent || p == Routine }

// Outcome is what a matching rule decides: a pathway, how urgently, and flags for the clinician.
type Outcome struct {
	Pathway       string   `json:"pathway" yaml:"pathway"`
	Priority      Priority `json:"priority" yaml:"priority"`
	RespondWithin string   `json:"respond_within" yaml:"respond_within"`
	Flags         []string `json:"flags" yaml:"flags,omitempty"`
}

// Variable is a named CEL expression evaluated before the rules; later ones may use earlier ones.
type Variable struct {
	Name string `json:"name" yaml:"name"`
	Expr string `json:"expr" yaml:"expr"`
	Pos  Pos    `json:"-" yaml:"-"`
}

// Rule is one entry of a first-match rule list.
type Rule struct {
	ID      string  `json:"id" yaml:"id"`
	When    string  `json:"when,omitempty" yaml:"when,omitempty"`
	Then    Outcome `json:"then" yaml:"then"`
	Because string  `json:"because" yaml:"because"`
	Pos     Pos     `json:"-" yaml:"-"`
	WhenPos Pos     `json:"-" yaml:"-"`
}

// TestCase is an example input with the outcome a rule set must give for it.
//
// Answers not given take the form's defaults (see Model.TestInput); the subject may give age.
type TestCase struct {
	Name    string         `json:"name" yaml:"name"`
	Answers map[string]any `json:"answers" yaml:"answers"`
	Subject map[string]any `json:"subject,omitempty" yaml:"subject,omitempty"`
	Expect  TestExpect     `json:"expect" yaml:"expect"`
	Pos     Pos            `json:"-" yaml:"-"`
}

// TestExpect is what a TestCase expects; empty fields are not checked.
type TestExpect struct {
	Pathway  string   `json:"pathway" yaml:"pathway"`
	Rule     string   `json:"rule,omitempty" yaml:"rule,omitempty"`
	Priority Priority `json:"priority,omitempty" yaml:"priority,omitempty"`
	Flags    []string `json:"flags,omitempty" yaml:"flags,omitempty"`
}

// RuleSet is the parsed form of one rule-set file.
type RuleSet struct {
	ID           string         `json:"id" yaml:"id"`
	Version      int            `json:"version" yaml:"version"`
	Form         string         `json:"form" yaml:"form"`
	FormVersions []int          `json:"form_versions,omitempty" yaml:"form_versions,omitempty"`
	Description  string         `json:"description" yaml:"description"`
	Params       map[string]any `json:"params,omitempty" yaml:"params,omitempty"`
	Variables    []Variable     `json:"variables,omitempty" yaml:"variables,omitempty"`
	Rules        []Rule         `json:"rules" yaml:"rules"`
	Tests        []TestCase     `json:"tests,omitempty" yaml:"tests,omitempty"`
	// RequiredCoverage is the percentage of coverage goals the tests must reach (0 to 100).
	RequiredCoverage float64 `json:"required_coverage,omitempty" yaml:"required_coverage,omitempty"`

	// File names the source for error messages; it is not part of the content.
	File string `json:"-" yaml:"-"`
}

// Pos is a position in a rule-set file, 1-based.
type Pos struct {
	Line   int
	Column int
}

// Problem is one thing wrong with a rule set, located as precisely as the parser can.
type Problem struct {
	File   string `json:"file"`
	Rule   string `json:"rule,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Msg    string `json:"message"`
}

// String formats the problem as file:line:col: rule id: message, like a compiler.
func (p Problem) String() string {
	var b bytes.Buffer
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %s: ", p.Rule)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// CompileError lists every problem found in a rule set.
type CompileError struct {
	Problems []Problem
}

// Error joins the problems one per line.
func (e *CompileError) Error() string {
	var b bytes.Buffer
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// MaxRuleSetBytes bounds a rule-set file so that a pasted mistake cannot exhaust memory.
const MaxRuleSetBytes = 1 << 20

// Parse reads a rule-set YAML document and checks its shape (not its expressions; see Compile).
func Parse(file string, src []byte) (*RuleSet, error) {
	if len(src) > MaxRuleSetBytes {
		return nil, &CompileError{Problems: []Problem{{File: file, Msg: fmt.Sprintf("file is %d bytes, over the %d byte limit", len(src), MaxRuleSetBytes)}}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, &CompileError{Problems: []Problem{{File: file, Msg: "not valid YAML: " + err.Error()}}}
	}
	var rs RuleSet
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true) // a misspelt key is a mistake, not something to ignore
	if err := dec.Decode(&rs); err != nil {
		return nil, &CompileError{Problems: []Problem{{File: file, Msg: yamlMessage(err)}}}
	}
	sort.Ints(rs.FormVersions)
	for i := range rs.Rules {
		// No flags and an empty list mean the same; one spelling keeps outcomes and hashes stable.
		if rs.Rules[i].Then.Flags == nil {
			rs.Rules[i].Then.Flags = []string{}
		}
	}
	rs.File = file
	locate(&rs, &doc)
	if probs := rs.checkShape(); len(probs) > 0 {
		return nil, &CompileError{Problems: probs}
	}
	return &rs, nil
}

func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return "bad field: " + fmt.Sprint(te.Errors)
	}
	return err.Error()
}

// locate copies YAML positions onto rules and variables so compile errors can point at the file.
func locate(rs *RuleSet, doc *yaml.Node) {
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	seq := func(key string) *yaml.Node {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				return root.Content[i+1]
			}
		}
		return nil
	}
	if n := seq("rules"); n != nil {
		for i, item := range n.Content {
			if i >= len(rs.Rules) {
				break
			}
			rs.Rules[i].Pos = Pos{item.Line, item.Column}
			rs.Rules[i].WhenPos = rs.Rules[i].Pos
			for k := 0; k+1 < len(item.Content); k += 2 {
				if item.Content[k].Value == "when" {
					rs.Rules[i].WhenPos = valuePos(item.Content[k+1])
				}
			}
		}
	}
	if n := seq("tests"); n != nil {
		for i, item := range n.Content {
			if i < len(rs.Tests) {
				rs.Tests[i].Pos = Pos{item.Line, item.Column}
			}
		}
	}
	if n := seq("variables"); n != nil {
		for i, item := range n.Content {
			if i >= len(rs.Variables) {
				break
			}
			rs.Variables[i].Pos = Pos{item.Line, item.Column}
			for k := 0; k+1 < len(item.Content); k += 2 {
				if item.Content[k].Value == "expr" {
					rs.Variables[i].Pos = valuePos(item.Content[k+1])
				}
			}
		}
	}
}

// valuePos is where an expression's first character sits in the file; block scalars start a line below.
func valuePos(n *yaml.Node) Pos {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return Pos{n.Line + 1, n.Column + 2}
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return Pos{n.Line, n.Column + 1}
	}
	return Pos{n.Line, n.Column}
}

func (rs *RuleSet) checkShape() []Problem {
	var probs []Problem
	add := func(rule string, pos Pos, format string, args ...any) {
		probs = append(probs, Problem{File: rs.File, Rule: rule, Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf(format, args...)})
	}
	if !idPattern.MatchString(rs.ID) {
		add("", Pos{}, "id %q: want lower-case letters, digits, - or _, starting with a letter", rs.ID)
	}
	if rs.Version < 1 {
		add("", Pos{}, "version: want a whole number from 1, got %d", rs.Version)
	}
	if rs.Form == "" {
		add("", Pos{}, "form: missing; name the form this rule set applies to")
	}
	for name, v := range rs.Params {
		if !idPattern.MatchString(name) {
			add("", Pos{}, "params.%s: not a valid name", name)
		}
		switch x := v.(type) {
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				add("", Pos{}, "params.%s: want a finite number, got %v", name, x)
			}
		case int, int64, bool, string:
		default:
			add("", Pos{}, "params.%s: want a number, boolean or string, got %T", name, v)
		}
	}
	seenVar := map[string]bool{}
	for _, v := range rs.Variables {
		if !idPattern.MatchString(v.Name) {
			add("", v.Pos, "variables: name %q is not a valid name", v.Name)
		}
		if seenVar[v.Name] {
			add("", v.Pos, "variables: %q is defined twice", v.Name)
		}
		seenVar[v.Name] = true
		if v.Expr == "" {
			add("", v.Pos, "variables.%s: expr is empty", v.Name)
		}
	}
	if len(rs.Rules) == 0 {
		add("", Pos{}, "rules: a rule set needs at least one rule, ending in one that always matches")
	}
	seenRule := map[string]bool{}
	for _, r := range rs.Rules {
		if !idPattern.MatchString(r.ID) {
			add(r.ID, r.Pos, "id %q: want lower-case letters, digits, - or _, starting with a letter", r.ID)
		}
		if seenRule[r.ID] {
			add(r.ID, r.Pos, "id is used by an earlier rule")
		}
		seenRule[r.ID] = true
		if r.Then.Pathway == "" {
			add(r.ID, r.Pos, "then.pathway: missing")
		}
		if !r.Then.Priority.Valid() {
			add(r.ID, r.Pos, "then.priority %q: want emergency, urgent or routine", r.Then.Priority)
		}
		if _, err := ParseDuration(r.Then.RespondWithin); err != nil {
			add(r.ID, r.Pos, "then.respond_within: %v", err)
		}
		if r.Because == "" {
			add(r.ID, r.Pos, "because: missing; say in words why this rule decides")
		}
	}
	if rs.RequiredCoverage < 0 || rs.RequiredCoverage > 100 {
		add("", Pos{}, "required_coverage: want a percentage from 0 to 100, got %v", rs.RequiredCoverage)
	}
	seenTest := map[string]bool{}
	for _, tc := range rs.Tests {
		if tc.Name == "" {
			add("", tc.Pos, "tests: a test needs a name")
		} else if seenTest[tc.Name] {
			add("", tc.Pos, "tests.%s: the name is used by an earlier test", tc.Name)
		}
		seenTest[tc.Name] = true
		if tc.Expect.Pathway == "" {
			add("", tc.Pos, "tests.%s: expect.pathway: missing", tc.Name)
		}
		for _, part := range []struct {
			name string
			m    map[string]any
		}{{"answers", tc.Answers}, {"subject", tc.Subject}} {
			for _, key := range slices.Sorted(maps.Keys(part.m)) {
				if !plainScalar(part.m[key]) {
					add("", tc.Pos, "tests.%s: %s.%s: want a number, boolean or string, got %v", tc.Name, part.name, key, part.m[key])
				}
			}
		}
		if tc.Expect.Priority != "" && !tc.Expect.Priority.Valid() {
			add("", tc.Pos, "tests.%s: expect.priority %q: want emergency, urgent or routine", tc.Name, tc.Expect.Priority)
		}
		if tc.Expect.Rule != "" && !seenRule[tc.Expect.Rule] {
			add("", tc.Pos, "tests.%s: expect.rule %q is not a rule of this rule set", tc.Name, tc.Expect.Rule)
		}
	}
	if n := len(rs.Rules); n > 0 && rs.Rules[n-1].When != "" && rs.Rules[n-1].When != "true" {
		last := rs.Rules[n-1]
		add(last.ID, last.Pos, "the last rule must always match (no when, or when: true) so every input gets an outcome")
	}
	return probs
}

// Canonical returns the rule set's content as canonical JSON, independent of YAML layout and comments.
func (rs *RuleSet) Canonical() []byte {
	c := *rs
	c.Rules = append([]Rule(nil), rs.Rules...)
	for i := range c.Rules {
		if c.Rules[i].Then.Flags == nil {
			c.Rules[i].Then.Flags = []string{}
		}
	}
	c.Params = canonicalMap(rs.Params)
	c.Tests = append([]TestCase(nil), rs.Tests...)
	for i := range c.Tests {
		c.Tests[i].Answers = canonicalMap(c.Tests[i].Answers)
		c.Tests[i].Subject = canonicalMap(c.Tests[i].Subject)
	}
	b, err := json.Marshal(c)
	if err != nil {
		// Every field is a plain value checked by Parse, so marshalling cannot fail.
		panic(fmt.Sprintf("rules: canonical form of %s: %v", rs.ID, err))
	}
	return b
}

// canonicalMap copies m with every float written so that it reads back as a float: encoding/json
// writes 1e7 as 10000000, which would read back as an integer and change the rule set's meaning.
func canonicalMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = canonicalValue(v)
	}
	return out
}

// plainScalar reports whether a test value is one an answer or subject field can take: a finite
// number, a boolean or a string.
func plainScalar(v any) bool {
	switch x := v.(type) {
	case float64:
		return !math.IsInf(x, 0) && !math.IsNaN(x)
	case int, int64, bool, string:
		return true
	}
	return false
}

func canonicalValue(v any) any {
	x, ok := v.(float64)
	if !ok {
		return v
	}
	f := strconv.FormatFloat(x, 'g', -1, 64)
	if !strings.ContainsAny(f, ".eE") {
		f += ".0"
	}
	return json.Number(f)
}

// SHA256 is the hex SHA-256 of the canonical form: the rule set's content address.
func (rs *RuleSet) SHA256() string {
	sum := sha256.Sum256(rs.Canonical())
	return hex.EncodeToString(sum[:])
}

// AcceptsFormVersion reports whether the rule set declares it applies to that form version.
func (rs *RuleSet) AcceptsFormVersion(v int) bool {
	if len(rs.FormVersions) == 0 {
		return true
	}
	i := sort.SearchInts(rs.FormVersions, v)
	return i < len(rs.FormVersions) && rs.FormVersions[i] == v
}
