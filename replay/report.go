package replay

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
)

// Report is the outcome of a replay. Its JSON form is the documented machine-readable schema; every
// list is in a stable order (transitions and rules by name, groups by key, cases in source order).
type Report struct {
	RuleSet            string              `json:"ruleset"`
	Baseline           string              `json:"baseline"`
	Candidate          string              `json:"candidate"`
	Where              string              `json:"where,omitempty"`
	GroupBy            string              `json:"group_by,omitempty"`
	Read               int64               `json:"read"`           // cases streamed from the source
	Filtered           int64               `json:"filtered_out"`   // replayed but left out by --where
	Replayed           int64               `json:"replayed"`       // replayed and kept
	Changed            int64               `json:"changed"`        // kept, with a different outcome or rule
	Unchanged          int64               `json:"unchanged"`      // kept, the same
	NotReplayable      int64               `json:"not_replayable"` // could not be replayed; see not_replayable_cases
	Transitions        []Transition        `json:"transitions"`
	Rules              []RuleCount         `json:"rules"`
	Groups             []Group             `json:"groups,omitempty"`
	ChangedCases       []ChangedCase       `json:"changed_cases"`
	NotReplayableCases []NotReplayableCase `json:"not_replayable_cases"`
}

// Transition counts kept cases that went from one pathway under the baseline to one under the candidate.
type Transition struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Cases int64  `json:"cases"`
}

// RuleCount counts the kept cases a rule matched under each side.
type RuleCount struct {
	Rule      string `json:"rule"`
	Baseline  int64  `json:"baseline"`
	Candidate int64  `json:"candidate"`
}

// Group is the report restricted to the cases whose --group-by value is Key.
type Group struct {
	Key         string       `json:"key"`
	Replayed    int64        `json:"replayed"`
	Changed     int64        `json:"changed"`
	Unchanged   int64        `json:"unchanged"`
	Transitions []Transition `json:"transitions"`
	Rules       []RuleCount  `json:"rules"`
}

// ChangedCase is one case whose outcome or matching rule differs between the sides, named by
// pseudonyms: reports are for analysts, who never see a decision id or a subject reference.
type ChangedCase struct {
	Case          string `json:"case"`    // the keyed pseudonym of the decision id, such as "case_81d2…"
	Subject       string `json:"subject"` // the keyed pseudonym of the subject reference, such as "psn_3f9c…"
	Group         string `json:"group,omitempty"`
	From          string `json:"from"`
	To            string `json:"to"`
	BaselineRule  string `json:"baseline_rule"`
	CandidateRule string `json:"candidate_rule"`
}

// NotReplayableCase is one case that could not be replayed, with why (the reason never quotes the
// stored input's values).
type NotReplayableCase struct {
	Case    string `json:"case"`
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
}

// tally counts one worker's cases; tallies add up, so merging them in any order gives one result.
type tally struct {
	read, filtered, notReplayable int64
	groups                        map[string]*groupTally
}

type groupTally struct {
	replayed, changed, unchanged int64
	transitions                  map[[2]string]int64
	baseRules, candRules         map[string]int64
}

func newTally() *tally { return &tally{groups: map[string]*groupTally{}} }

func newGroupTally() *groupTally {
	return &groupTally{transitions: map[[2]string]int64{}, baseRules: map[string]int64{}, candRules: map[string]int64{}}
}

func (t *tally) add(group string, b, c *Side, changed bool) {
	g, ok := t.groups[group]
	if !ok {
		g = newGroupTally()
		t.groups[group] = g
	}
	g.replayed++
	if changed {
		g.changed++
	} else {
		g.unchanged++
	}
	g.transitions[[2]string{b.Pathway, c.Pathway}]++
	g.baseRules[b.Rule]++
	g.candRules[c.Rule]++
}

func (t *tally) merge(o *tally) {
	t.read += o.read
	t.filtered += o.filtered
	t.notReplayable += o.notReplayable
	for k, og := range o.groups {
		g, ok := t.groups[k]
		if !ok {
			g = newGroupTally()
			t.groups[k] = g
		}
		g.merge(og)
	}
}

func (g *groupTally) merge(o *groupTally) {
	g.replayed += o.replayed
	g.changed += o.changed
	g.unchanged += o.unchanged
	for k, n := range o.transitions {
		g.transitions[k] += n
	}
	for k, n := range o.baseRules {
		g.baseRules[k] += n
	}
	for k, n := range o.candRules {
		g.candRules[k] += n
	}
}

func (g *groupTally) lists() ([]Transition, []RuleCount) {
	ts := make([]Transition, 0, len(g.transitions))
	for k, n := range g.transitions {
		ts = append(ts, Transition{From: k[0], To: k[1], Cases: n})
	}
	slices.SortFunc(ts, func(a, b Transition) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	names := map[string]bool{}
	for k := range g.baseRules {
		names[k] = true
	}
	for k := range g.candRules {
		names[k] = true
	}
	rs := make([]RuleCount, 0, len(names))
	for k := range names {
		rs = append(rs, RuleCount{Rule: k, Baseline: g.baseRules[k], Candidate: g.candRules[k]})
	}
	slices.SortFunc(rs, func(a, b RuleCount) int { return cmp.Compare(a.Rule, b.Rule) })
	return ts, rs
}

func (t *tally) fill(rep *Report) {
	rep.Read, rep.Filtered, rep.NotReplayable = t.read, t.filtered, t.notReplayable
	all := newGroupTally()
	keys := make([]string, 0, len(t.groups))
	for k, g := range t.groups {
		all.merge(g)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rep.Replayed, rep.Changed, rep.Unchanged = all.replayed, all.changed, all.unchanged
	rep.Transitions, rep.Rules = all.lists()
	if rep.GroupBy != "" {
		for _, k := range keys {
			g := t.groups[k]
			ts, rs := g.lists()
			rep.Groups = append(rep.Groups, Group{Key: k, Replayed: g.replayed, Changed: g.changed, Unchanged: g.unchanged, Transitions: ts, Rules: rs})
		}
	}
	if rep.ChangedCases == nil {
		rep.ChangedCases = []ChangedCase{}
	}
	if rep.NotReplayableCases == nil {
		rep.NotReplayableCases = []NotReplayableCase{}
	}
}

// Formats the report can be written in.
const (
	FormatText = "text"
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// TextCaseLimit is how many changed and not-replayable cases the text format lists.
const TextCaseLimit = 20

// Write renders the report in a format: text (aligned tables for a person), json or csv.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case FormatText, "":
		return r.writeText(w)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	case FormatCSV:
		return r.writeCSV(w)
	}
	return fmt.Errorf("replay: unable to write the report: unknown format %q (want text, json or csv)", format)
}

func (r *Report) writeText(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Replay of %s: candidate %s against baseline %s\n", r.RuleSet, r.Candidate, r.Baseline)
	if r.Where != "" {
		p("where:    %s\n", r.Where)
	}
	if r.GroupBy != "" {
		p("group by: %s\n", r.GroupBy)
	}
	p("\n")
	for _, row := range []struct {
		name string
		n    int64
	}{{"read", r.Read}, {"left out by --where", r.Filtered}, {"replayed", r.Replayed}, {"changed", r.Changed},
		{"unchanged", r.Unchanged}, {"not replayable", r.NotReplayable}} {
		p("%s\t%d\t\n", row.name, row.n)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	writeTables(out, "", r.Transitions, r.Rules)
	for _, g := range r.Groups {
		fmt.Fprintf(out, "\nGroup %s: replayed %d, changed %d, unchanged %d\n", g.Key, g.Replayed, g.Changed, g.Unchanged)
		writeTables(out, "  ", g.Transitions, g.Rules)
	}
	if len(r.ChangedCases) > 0 {
		fmt.Fprintf(out, "\nChanged cases (%d", len(r.ChangedCases))
		if len(r.ChangedCases) > TextCaseLimit {
			fmt.Fprintf(out, ", first %d; --format json or csv lists all", TextCaseLimit)
		}
		fmt.Fprintln(out, "):")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, c := range r.ChangedCases[:min(len(r.ChangedCases), TextCaseLimit)] {
			fmt.Fprintf(tw, "  %s\t%s\t%s -> %s\t(%s -> %s)\n", c.Case, c.Subject, c.From, c.To, c.BaselineRule, c.CandidateRule)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.NotReplayableCases) > 0 {
		fmt.Fprintf(out, "\nNot replayable (%d", len(r.NotReplayableCases))
		if len(r.NotReplayableCases) > TextCaseLimit {
			fmt.Fprintf(out, ", first %d; --format json or csv lists all", TextCaseLimit)
		}
		fmt.Fprintln(out, "):")
		for _, c := range r.NotReplayableCases[:min(len(r.NotReplayableCases), TextCaseLimit)] {
			fmt.Fprintf(out, "  %s %s: %s\n", c.Case, c.Subject, c.Reason)
		}
	}
	return nil
}

func writeTables(out io.Writer, indent string, ts []Transition, rs []RuleCount) {
	fmt.Fprintf(out, "\n%sPathway, baseline -> candidate:\n", indent)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range ts {
		mark := ""
		if t.From != t.To {
			mark = "  (changed)"
		}
		fmt.Fprintf(w, "%s  %s\t-> %s\t%d%s\n", indent, t.From, t.To, t.Cases, mark)
	}
	w.Flush()
	fmt.Fprintf(out, "\n%sRule matches:\n", indent)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "%s  rule\tbaseline\tcandidate\n", indent)
	for _, r := range rs {
		fmt.Fprintf(w, "%s  %s\t%d\t%d\n", indent, r.Rule, r.Baseline, r.Candidate)
	}
	w.Flush()
}

// CSVHeader is the header of the csv format. Each row is one record:
//
//	summary         group, key=read|filtered_out|replayed|changed|unchanged|not_replayable, count (groups: the last three)
//	transition      group, baseline=from pathway, candidate=to pathway, count
//	rule            group, key=rule id, baseline=matches, candidate=matches
//	changed         group, key=case pseudonym, baseline=from pathway, candidate=to pathway, reason="baseline rule -> candidate rule", subject
//	not_replayable  key=case pseudonym, reason, subject
//
// group is empty for the whole replay and names the group otherwise; subject is the subject's
// pseudonym, on case rows only.
var CSVHeader = []string{"record", "group", "key", "baseline", "candidate", "count", "reason", "subject"}

func (r *Report) writeCSV(out io.Writer) error {
	w := csv.NewWriter(out)
	n := func(x int64) string { return strconv.FormatInt(x, 10) }
	rows := [][]string{CSVHeader}
	for _, s := range []struct {
		k string
		v int64
	}{{"read", r.Read}, {"filtered_out", r.Filtered}, {"replayed", r.Replayed}, {"changed", r.Changed}, {"unchanged", r.Unchanged}, {"not_replayable", r.NotReplayable}} {
		rows = append(rows, []string{"summary", "", s.k, "", "", n(s.v), "", ""})
	}
	tables := func(group string, ts []Transition, rs []RuleCount) {
		for _, t := range ts {
			rows = append(rows, []string{"transition", group, "", t.From, t.To, n(t.Cases), "", ""})
		}
		for _, x := range rs {
			rows = append(rows, []string{"rule", group, x.Rule, n(x.Baseline), n(x.Candidate), "", "", ""})
		}
	}
	tables("", r.Transitions, r.Rules)
	for _, g := range r.Groups {
		for _, s := range []struct {
			k string
			v int64
		}{{"replayed", g.Replayed}, {"changed", g.Changed}, {"unchanged", g.Unchanged}} {
			rows = append(rows, []string{"summary", g.Key, s.k, "", "", n(s.v), "", ""})
		}
		tables(g.Key, g.Transitions, g.Rules)
	}
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	for _, c := range r.ChangedCases {
		if err := w.Write([]string{"changed", c.Group, c.Case, c.From, c.To, "", c.BaselineRule + " -> " + c.CandidateRule, c.Subject}); err != nil {
			return err
		}
	}
	for _, c := range r.NotReplayableCases {
		if err := w.Write([]string{"not_replayable", "", c.Case, "", "", "", c.Reason, c.Subject}); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
