package rules

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
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
			add("param", "params."+k, "", fmt.Sprint(vb))
		case !inB:
			add("param", "params."+k, fmt.Sprint(va), "")
		case fmt.Sprint(va) != fmt.Sprint(vb):
			add("param", "params."+k, fmt.Sprint(va), fmt.Sprint(vb))
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
	for _, t := range b.Tests {
		seen[t.Name] = true
		if before, ok := testsA[t.Name]; !ok || before != testText(t) {
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

// DiffText formats changes one a line, like a review comment.
func DiffText(a, b *RuleSet, changes []Change) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "--- %s v%d\n+++ %s v%d\n", a.ID, a.Version, b.ID, b.Version)
	if len(changes) == 0 {
		buf.WriteString("no changes\n")
	}
	for _, c := range changes {
		switch {
		case c.Before == "":
			fmt.Fprintf(&buf, "%-11s %s: + %s\n", c.Kind, c.Name, c.After)
		case c.After == "":
			fmt.Fprintf(&buf, "%-11s %s: - %s\n", c.Kind, c.Name, c.Before)
		default:
			fmt.Fprintf(&buf, "%-11s %s: %s -> %s\n", c.Kind, c.Name, c.Before, c.After)
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
	return fmt.Sprintf("%s %s within %s flags %v", o.Pathway, o.Priority, o.RespondWithin, normalFlags(o).Flags)
}

func ruleText(r Rule) string {
	return fmt.Sprintf("when %s then %s", whenText(r.When), outcomeText(r.Then))
}

func testText(t TestCase) string {
	e := t.Expect
	return fmt.Sprintf("answers %v subject %v expect %s %s %s %v", t.Answers, t.Subject, e.Pathway, e.Rule, e.Priority, e.Flags)
}
