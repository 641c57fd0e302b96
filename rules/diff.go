package rules

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Change is one difference between two versions of a rule set.
type Change struct {
	// Kind is one of added, removed, moved, condition, outcome, because, param, variable, tests, description.
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Diff lists what changed from a to b: params, variables, then rule by rule (added, removed,
// moved, condition, outcome or because changed), then tests; the order is deterministic.
func Diff(a, b *RuleSet) []Change {
	var out []Change
	add := func(kind, name, before, after string) {
		out = append(out, Change{Kind: kind, Name: name, Before: before, After: after})
	}
	if a.Description != b.Description {
		add("description", "description", a.Description, b.Description)
	}
	names := map[string]bool{}
	for k := range a.Params {
		names[k] = true
	}
	for k := range b.Params {
		names[k] = true
	}
	for _, k := range sortedKeys(names) {
		va, inA := a.Params[k]
		vb, inB := b.Params[k]
		switch {
		case !inA:
			add("param", "params."+k, "", valueText(vb))
		case !inB:
			add("param", "params."+k, valueText(va), "")
		case valueText(va) != valueText(vb):
			add("param", "params."+k, valueText(va), valueText(vb))
		}
	}
	varsA := map[string]string{}
	for _, v := range a.Variables {
		varsA[v.Name] = v.Expr
	}
	varsB := map[string]string{}
	for _, v := range b.Variables {
		varsB[v.Name] = v.Expr
		if ea, ok := varsA[v.Name]; !ok || ea != v.Expr {
			add("variable", "vars."+v.Name, ea, v.Expr)
		}
	}
	for _, v := range a.Variables {
		if _, ok := varsB[v.Name]; !ok {
			add("variable", "vars."+v.Name, v.Expr, "")
		}
	}

	posA := map[string]int{}
	for i, r := range a.Rules {
		posA[r.ID] = i
	}
	posB := map[string]int{}
	for i, r := range b.Rules {
		posB[r.ID] = i
	}
	// A rule has moved when its order relative to the other rules both versions keep has changed.
	var commonA, commonB []string
	for _, r := range a.Rules {
		if _, ok := posB[r.ID]; ok {
			commonA = append(commonA, r.ID)
		}
	}
	for _, r := range b.Rules {
		if _, ok := posA[r.ID]; ok {
			commonB = append(commonB, r.ID)
		}
	}
	rankA := map[string]int{}
	for i, id := range commonA {
		rankA[id] = i
	}
	for _, r := range a.Rules {
		if _, ok := posB[r.ID]; !ok {
			add("removed", r.ID, ruleText(r), "")
		}
	}
	for i, r := range b.Rules {
		ia, ok := posA[r.ID]
		if !ok {
			add("added", r.ID, "", ruleText(r))
			continue
		}
		old := a.Rules[ia]
		if rankA[r.ID] != indexOf(commonB, r.ID) {
			add("moved", r.ID, fmt.Sprintf("position %d", ia+1), fmt.Sprintf("position %d", i+1))
		}
		if whenText(old.When) != whenText(r.When) {
			add("condition", r.ID, whenText(old.When), whenText(r.When))
		}
		if !reflect.DeepEqual(normalFlags(old.Then), normalFlags(r.Then)) {
			add("outcome", r.ID, outcomeText(old.Then), outcomeText(r.Then))
		}
		if old.Because != r.Because {
			add("because", r.ID, old.Because, r.Because)
		}
	}
	testsA := map[string]string{}
	for _, t := range a.Tests {
		testsA[t.Name] = testText(t)
	}
	seen := map[string]bool{}
	inputsA := map[string]TestCase{}
	for _, t := range a.Tests {
		inputsA[t.Name] = t
	}
	for _, t := range b.Tests {
		seen[t.Name] = true
		before, ok := testsA[t.Name]
		switch {
		case !ok:
			add("tests", "tests."+t.Name, "", testText(t))
		case before == testText(t):
		case sameInputs(inputsA[t.Name], t):
			// The same answers with another expectation: the expectation is the change.
			add("tests", "tests."+t.Name, expectText(inputsA[t.Name].Expect), expectText(t.Expect))
		default:
			add("tests", "tests."+t.Name, before, testText(t))
		}
	}
	for _, t := range a.Tests {
		if !seen[t.Name] {
			add("tests", "tests."+t.Name, testText(t), "")
		}
	}
	return out
}

// sameInputs reports whether two tests give the same answers and subject.
func sameInputs(a, b TestCase) bool {
	return valueText(a.Answers) == valueText(b.Answers) && valueText(a.Subject) == valueText(b.Subject)
}

// DiffText formats changes one a line, like a review comment.
func DiffText(a, b *RuleSet, changes []Change) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "--- %s v%d\n+++ %s v%d\n", a.ID, a.Version, b.ID, b.Version)
	if len(changes) == 0 {
		buf.WriteString("no changes\n")
	}
	for _, c := range changes {
		if c.Name == c.Kind {
			// A change of the rule set as a whole, such as its description: the kind names it.
			c.Name = ""
		}
		label := fmt.Sprintf("%-11s %s:", c.Kind, c.Name)
		if c.Name == "" {
			label = c.Kind + ":"
		}
		switch {
		case c.Before == "":
			fmt.Fprintf(&buf, "%s + %s\n", label, c.After)
		case c.After == "":
			fmt.Fprintf(&buf, "%s - %s\n", label, c.Before)
		default:
			fmt.Fprintf(&buf, "%s %s -> %s\n", label, c.Before, c.After)
		}
	}
	return buf.Bytes()
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func whenText(w string) string {
	if w == "" {
		return "true"
	}
	return w
}

func normalFlags(o Outcome) Outcome {
	if o.Flags == nil {
		o.Flags = []string{}
	}
	return o
}

func outcomeText(o Outcome) string {
	s := fmt.Sprintf("%s, %s, within %s", o.Pathway, o.Priority, o.RespondWithin)
	if len(o.Flags) > 0 {
		s += ", flags " + strings.Join(o.Flags, ", ")
	}
	return s
}

func ruleText(r Rule) string {
	return fmt.Sprintf("when %s then %s", whenText(r.When), outcomeText(r.Then))
}

func testText(t TestCase) string {
	s := "answers " + valueText(t.Answers)
	if len(t.Subject) > 0 {
		s += ", subject " + valueText(t.Subject)
	}
	return s + "; " + expectText(t.Expect)
}

// expectText is what a test expects, naming only what it checks.
func expectText(e TestExpect) string {
	s := "expect " + e.Pathway
	if e.Rule != "" {
		s += ", rule " + e.Rule
	}
	if e.Priority != "" {
		s += ", priority " + string(e.Priority)
	}
	if len(e.Flags) > 0 {
		s += ", flags " + strings.Join(e.Flags, ", ")
	}
	return s
}

// valueText writes a parameter or an answer as it is written in a rule-set file: maps in YAML's
// flow style with sorted keys, lists in brackets.
func valueText(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + valueText(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = valueText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	default:
		return fmt.Sprint(x)
	}
}
