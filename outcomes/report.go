package outcomes

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/privacy"
)

// The groupings a report may use.
const (
	ByPathway        = "pathway"
	ByRule           = "rule"
	ByRuleSetVersion = "ruleset-version"
	ByTeam           = "team"
)

// Groupings lists the groupings, as the command line names them.
var Groupings = []string{ByPathway, ByRule, ByRuleSetVersion, ByTeam}

// The report formats, the same as replay's.
const (
	FormatText = "text"
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// MaxListed bounds how many reliably deteriorated cases a group lists by pseudonym.
const MaxListed = 50

// Source counts and streams the cases a report reads; *cases.Store meets it.
type Source interface {
	OutcomeCounts(ctx context.Context, f cases.OutcomeFilter, by string) ([]cases.OutcomeCount, error)
	OutcomePairs(ctx context.Context, f cases.OutcomeFilter, by string, fn func(key []byte, version int, id, form, start, end []byte) error) error
}

// Config is one outcome report.
type Config struct {
	Source     Source
	Filter     cases.OutcomeFilter
	By         string
	Thresholds Thresholds
	// Discharge reports whether a form's cases are discharge cases, whose outcome is where the
	// person is 91 days after discharge.
	Discharge func(form string) bool
	// Pseudonymiser names listed cases; the report never holds a decision id or subject.
	Pseudonymiser *privacy.Pseudonymiser
}

// Group is the tally of one group of cases.
type Group struct {
	Key    string           `json:"group"`
	Cases  int64            `json:"cases"`
	Status map[string]int64 `json:"status"`
	// Mental-health measures, over cases with a follow-up assessment ("finished").
	Finished              int64 `json:"finished"`
	CasenessAtStart       int64 `json:"caseness_at_start"`
	Recovered             int64 `json:"recovered"`
	ReliableImprovement   int64 `json:"reliable_improvement"`
	ReliableRecovery      int64 `json:"reliable_recovery"`
	ReliableDeterioration int64 `json:"reliable_deterioration"`
	// Discharge cases whose outcome at 91 days is recorded, and of them those still at home.
	DischargeRecorded int64 `json:"discharge_recorded"`
	AtHome            int64 `json:"at_home_91_days"`
	// Deteriorated lists up to MaxListed reliably deteriorated cases by pseudonym, for review.
	Deteriorated []string `json:"deteriorated,omitempty"`
}

// RecoveryRate is recovered over finished cases at caseness at the start, as NHS Talking Therapies
// reports it.
func (g *Group) RecoveryRate() float64 { return ratio(g.Recovered, g.CasenessAtStart) }

// ReliableRecoveryRate is reliably recovered over finished cases at caseness at the start.
func (g *Group) ReliableRecoveryRate() float64 { return ratio(g.ReliableRecovery, g.CasenessAtStart) }

// ImprovementRate is reliably improved over all finished cases.
func (g *Group) ImprovementRate() float64 { return ratio(g.ReliableImprovement, g.Finished) }

// AtHomeRate is the discharge cases still at home at 91 days over those whose outcome is recorded.
func (g *Group) AtHomeRate() float64 { return ratio(g.AtHome, g.DischargeRecorded) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Report is the outcome report: one group per key, sorted by key, and the whole.
type Report struct {
	By         string     `json:"by"`
	Thresholds Thresholds `json:"thresholds"`
	Total      Group      `json:"total"`
	Groups     []*Group   `json:"groups"`
	// Unreadable counts cases whose stored scores could not be read, rather than guess them.
	Unreadable int64 `json:"unreadable"`
}

// Run reads the cases and tallies the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if !slices.Contains(Groupings, cfg.By) {
		return nil, fmt.Errorf("outcomes: --by %q: want one of %s", cfg.By, strings.Join(Groupings, ", "))
	}
	if cfg.Pseudonymiser == nil {
		return nil, fmt.Errorf("outcomes: a report needs the pseudonymiser, so that no case is named by its id")
	}
	th := cfg.Thresholds
	discharge := cfg.Discharge
	if discharge == nil {
		discharge = func(form string) bool { return form == "discharge" }
	}
	rep := &Report{By: cfg.By, Thresholds: th, Total: Group{Key: "all", Status: map[string]int64{}}}
	groups := map[string]*Group{}
	group := func(key []byte, version int) *Group {
		if cfg.By != ByRuleSetVersion {
			if g := groups[string(key)]; g != nil {
				return g
			}
		}
		k := string(key)
		if cfg.By == ByRuleSetVersion {
			k += " v" + strconv.Itoa(version)
		}
		g := groups[k]
		if g == nil {
			g = &Group{Key: k, Status: map[string]int64{}}
			groups[k] = g
		}
		return g
	}
	// Statuses and discharge outcomes are counted by the database, beside the read of the cases
	// with a follow-up assessment, one by one, for their scores.
	var counts []cases.OutcomeCount
	countErr := make(chan error, 1)
	go func() {
		var err error
		counts, err = cfg.Source.OutcomeCounts(ctx, cfg.Filter, cfg.By)
		countErr <- err
	}()
	var last *Group
	var lastKey []byte
	lastVersion := -1
	err := cfg.Source.OutcomePairs(ctx, cfg.Filter, cfg.By, func(key []byte, version int, id, form, start, end []byte) error {
		if discharge(string(form)) {
			return nil
		}
		g := last
		if g == nil || version != lastVersion || string(key) != string(lastKey) {
			g = group(key, version)
			last, lastKey, lastVersion = g, append(lastKey[:0], key...), version
		}
		first, ok1 := th.scores(start)
		final, ok2 := th.scores(end)
		if !ok1 && !ok2 && !bytes.Contains(start, []byte(th.PHQ9Score)) && !bytes.Contains(start, []byte(th.GAD7Score)) {
			return nil // a form without these instruments has no such measures
		}
		if !ok1 || !ok2 {
			rep.Unreadable++
			return nil
		}
		m := th.Measure(first, final)
		for _, g := range []*Group{g, &rep.Total} {
			g.Finished++
			g.CasenessAtStart += b2i(m.CasenessAtStart)
			g.Recovered += b2i(m.Recovery)
			g.ReliableImprovement += b2i(m.ReliableImprovement)
			g.ReliableRecovery += b2i(m.ReliableRecovery)
			g.ReliableDeterioration += b2i(m.ReliableDeterioration)
			if m.ReliableDeterioration && len(g.Deteriorated) < MaxListed {
				g.Deteriorated = append(g.Deteriorated, cfg.Pseudonymiser.Case(string(id)))
			}
		}
		return nil
	})
	if cerr := <-countErr; err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		g := group([]byte(c.Key), c.Version)
		for _, g := range []*Group{g, &rep.Total} {
			g.Cases += c.N
			g.Status[c.Status] += c.N
			if discharge(c.Form) && c.AtHome.Valid {
				g.DischargeRecorded += c.N
				if c.AtHome.Bool {
					g.AtHome += c.N
				}
			}
		}
	}
	for _, g := range groups {
		rep.Groups = append(rep.Groups, g)
	}
	slices.SortFunc(rep.Groups, func(a, b *Group) int { return strings.Compare(a.Key, b.Key) })
	if rep.Groups == nil {
		rep.Groups = []*Group{}
	}
	return rep, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scores reads the PHQ-9 and GAD-7 totals from a stored scores object; both must be there.
func (t Thresholds) scores(stored []byte) (Scores, bool) {
	p, ok1 := wholeNumber(stored, t.PHQ9Score)
	g, ok2 := wholeNumber(stored, t.GAD7Score)
	return Scores{PHQ9: p, GAD7: g}, ok1 && ok2
}

// wholeNumber finds "name": N in a flat JSON object of scores, as stored by encoding/json, without
// decoding the whole object: the report reads a million of them.
func wholeNumber(obj []byte, name string) (int, bool) {
	i := 0
	for {
		j := bytes.Index(obj[i:], []byte(name))
		if j < 0 {
			return 0, false
		}
		at := i + j
		end := at + len(name)
		i = end
		if at == 0 || obj[at-1] != '"' || end+1 >= len(obj) || obj[end] != '"' || obj[end+1] != ':' {
			continue
		}
		k := end + 2
		for k < len(obj) && obj[k] == ' ' {
			k++
		}
		n, neg, digits := 0, false, 0
		if k < len(obj) && obj[k] == '-' {
			neg, k = true, k+1
		}
		for ; k < len(obj) && obj[k] >= '0' && obj[k] <= '9'; k++ {
			n = n*10 + int(obj[k]-'0')
			digits++
		}
		if digits == 0 || digits > 9 || (k < len(obj) && obj[k] != ',' && obj[k] != '}' && obj[k] != ' ') {
			return 0, false
		}
		if neg {
			n = -n
		}
		return n, true
	}
}

// Write writes the report as text, JSON or CSV.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatCSV:
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{r.By, "cases", "finished", "caseness_at_start", "recovered", "recovery_rate", "reliable_improvement",
			"reliable_recovery", "reliable_recovery_rate", "reliable_deterioration", "discharge_recorded", "at_home_91_days", "at_home_rate"})
		for _, g := range append(slices.Clone(r.Groups), &r.Total) {
			_ = cw.Write([]string{g.Key, itoa(g.Cases), itoa(g.Finished), itoa(g.CasenessAtStart), itoa(g.Recovered), pct(g.RecoveryRate()),
				itoa(g.ReliableImprovement), itoa(g.ReliableRecovery), pct(g.ReliableRecoveryRate()), itoa(g.ReliableDeterioration),
				itoa(g.DischargeRecorded), itoa(g.AtHome), pct(g.AtHomeRate())})
		}
		cw.Flush()
		return cw.Error()
	case FormatText:
		fmt.Fprintf(w, "Outcomes by %s (caseness PHQ-9 >= %d or GAD-7 >= %d; reliable change %d and %d points)\n\n",
			r.By, r.Thresholds.PHQ9Caseness, r.Thresholds.GAD7Caseness, r.Thresholds.PHQ9Reliable, r.Thresholds.GAD7Reliable)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.ToUpper(r.By)+"\tCASES\tFINISHED\tCASENESS\tRECOVERY\tRELIABLE IMPR.\tRELIABLE REC.\tDETERIORATED\tAT HOME 91D")
		for _, g := range append(slices.Clone(r.Groups), &r.Total) {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d (%s)\t%d (%s)\t%d (%s)\t%d\t%d/%d (%s)\n", g.Key, g.Cases, g.Finished, g.CasenessAtStart,
				g.Recovered, pct(g.RecoveryRate()), g.ReliableImprovement, pct(g.ImprovementRate()), g.ReliableRecovery, pct(g.ReliableRecoveryRate()),
				g.ReliableDeterioration, g.AtHome, g.DischargeRecorded, pct(g.AtHomeRate()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if r.Unreadable > 0 {
			fmt.Fprintf(w, "\n%d cases left out: their stored scores could not be read\n", r.Unreadable)
		}
		return nil
	}
	return fmt.Errorf("outcomes: format %q: want text, json or csv", format)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }
