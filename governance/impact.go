package governance

import (
	"context"
	"fmt"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Impact is what a candidate version would change: stored decisions re-evaluated under it, and
// its own tests.
type Impact struct {
	RuleSet   string    `json:"ruleset"`
	Candidate int       `json:"candidate"`
	Since     time.Time `json:"since"`
	Evaluated int       `json:"evaluated"`
	Changed   int       `json:"changed"`
	Failed    int       `json:"failed"`
	Flows     []Flow    `json:"flows"`
	Tests     struct {
		Total  int `json:"total"`
		Failed int `json:"failed"`
	} `json:"tests"`
}

// PreviewImpact evaluates a candidate program against the stored decisions of its rule set
// authored since a time (at most limit of them, oldest first; 0 for all) and against its tests.
//
// The replay engine of issue 4 is meant to stream this evaluation; until its API exists this reads
// the decisions table directly. The lead may swap the loop for replay without changing the result.
func (s *Service) PreviewImpact(ctx context.Context, candidate *rules.Program, model FormModel, since time.Time, limit int) (*Impact, error) {
	rs := candidate.RuleSet
	imp := &Impact{RuleSet: rs.ID, Candidate: rs.Version, Since: since.UTC()}
	tests := rules.RunTests(candidate, model)
	imp.Tests.Total, imp.Tests.Failed = len(tests.Results), tests.Failed()
	q := `SELECT id, input, form_id, form_version, pathway, authored_at FROM decisions WHERE ruleset_id = ? AND authored_at >= ? ORDER BY seq`
	args := []any{rs.ID, database.NewTime(since)}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.DB.QueryxContext(ctx, s.DB.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("governance: unable to read stored decisions of %s: %w", rs.ID, err)
	}
	defer rows.Close()
	flows := newFlows()
	forms := map[[2]any]*triage.Form{}
	programs := map[*triage.Form]*rules.Program{}
	for rows.Next() {
		var row struct {
			ID          string        `db:"id"`
			Input       string        `db:"input"`
			Form        string        `db:"form_id"`
			FormVersion int           `db:"form_version"`
			Pathway     string        `db:"pathway"`
			Authored    database.Time `db:"authored_at"`
		}
		if err := rows.StructScan(&row); err != nil {
			return nil, fmt.Errorf("governance: unable to read a stored decision: %w", err)
		}
		imp.Evaluated++
		key := [2]any{row.Form, row.FormVersion}
		form, ok := forms[key]
		if !ok {
			form, err = s.Forms.Form(ctx, row.Form, row.FormVersion)
			if err != nil {
				return nil, err
			}
			forms[key] = form
		}
		p, ok := programs[form]
		if !ok {
			// The candidate was compiled against the latest form; older form versions need their own program.
			p = candidate
			if form.Version != candidate.Schema.Version {
				if p, err = rules.Compile(rs, form.Schema(), nil); err != nil {
					p = nil
				}
			}
			programs[form] = p
		}
		sub, err := triage.ParseSubmission([]byte(row.Input))
		if err != nil || p == nil {
			imp.Failed++
			continue
		}
		a, err := triage.Assess(form, sub, row.Authored.Time)
		if err != nil {
			imp.Failed++
			continue
		}
		r, err := p.Evaluate(a.Input())
		if err != nil {
			imp.Failed++
			continue
		}
		if to := r.Outcome().Pathway; to != row.Pathway {
			imp.Changed++
			flows.add(row.Pathway, to, row.ID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("governance: unable to read stored decisions of %s: %w", rs.ID, err)
	}
	imp.Flows = flows.list()
	return imp, nil
}
