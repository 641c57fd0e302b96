package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/rules"
)

// DecisionFilter selects stored decisions for streaming; zero fields select everything.
type DecisionFilter struct {
	RuleSet string    // only decisions made by this rule set
	Since   time.Time // authored at or after
	Until   time.Time // authored before
}

func (f DecisionFilter) where() (string, []any) {
	var conds []string
	var args []any
	if f.RuleSet != "" {
		conds = append(conds, "ruleset_id = ?")
		args = append(args, f.RuleSet)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "authored_at >= ?")
		args = append(args, database.NewTime(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "authored_at < ?")
		args = append(args, database.NewTime(f.Until))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(conds, " AND "), args
}

// StoredCase is what a replay needs of a stored decision: its canonical input and what was decided.
// It leaves out the explanation, the largest column, which a replay recomputes when it needs it.
type StoredCase struct {
	Seq         int64
	ID          string
	Form        string
	FormVersion int
	SubjectRef  string
	RuleSet     RuleSetRef
	Outcome     rules.Outcome
	Rule        string
	Authored    time.Time
	Input       []byte
	InputSHA256 string
}

// CountDecisions counts the stored decisions a filter selects.
func (s *SQLStore) CountDecisions(ctx context.Context, f DecisionFilter) (int64, error) {
	where, args := f.where()
	var n int64
	if err := s.DB.GetContext(ctx, &n, s.DB.Rebind(`SELECT COUNT(*) FROM decisions WHERE 1 = 1`+where), args...); err != nil {
		return 0, fmt.Errorf("triage: unable to count decisions: %w", err)
	}
	return n, nil
}

// StreamDecisions calls fn with pages of the stored decisions a filter selects, in seq order (the
// order they were stored). It runs one query and reads its rows as they come, so memory stays flat
// and the database plans the scan once (a query per page would have it find its place again each
// time, which a stale planner can make quadratic); fn owns each page it is given.
func (s *SQLStore) StreamDecisions(ctx context.Context, f DecisionFilter, pageSize int, fn func([]StoredCase) error) error {
	if pageSize <= 0 {
		pageSize = 1000
	}
	where, args := f.where()
	order := " ORDER BY seq"
	if f.RuleSet != "" {
		order = " ORDER BY ruleset_id, seq" // the order of the decisions_ruleset_seq index: no sort
	}
	rows, err := s.DB.QueryContext(ctx, s.DB.Rebind(`SELECT seq, id, form_id, form_version, subject_ref, ruleset_id,
		ruleset_version, ruleset_sha256, pathway, priority, respond_within, flags, rule_id, authored_at, input, input_sha256
		FROM decisions WHERE 1 = 1`+where+order), args...)
	if err != nil {
		return fmt.Errorf("triage: unable to read decisions: %w", err)
	}
	defer rows.Close()
	page := make([]StoredCase, 0, pageSize)
	var (
		priority, flags string
		authored        database.Time
		input           []byte
	)
	for rows.Next() {
		var c StoredCase
		if err := rows.Scan(&c.Seq, &c.ID, &c.Form, &c.FormVersion, &c.SubjectRef, &c.RuleSet.ID, &c.RuleSet.Version,
			&c.RuleSet.SHA256, &c.Outcome.Pathway, &priority, &c.Outcome.RespondWithin, &flags, &c.Rule, &authored,
			&input, &c.InputSHA256); err != nil {
			return fmt.Errorf("triage: unable to read decisions: %w", err)
		}
		c.Outcome.Priority = rules.Priority(priority)
		c.Authored = authored.Time
		c.Input = bytes.Clone(input) // the driver may reuse its buffer on the next row
		if flags != "[]" {
			if err := json.Unmarshal([]byte(flags), &c.Outcome.Flags); err != nil {
				// Kept, not failed: a replay then reports the case as changed, with the reason visible.
				c.Outcome.Flags = []string{"<undecodable flags: " + err.Error() + ">"}
			}
		}
		page = append(page, c)
		if len(page) == pageSize {
			if err := fn(page); err != nil {
				return err
			}
			page = make([]StoredCase, 0, pageSize)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("triage: unable to read decisions: %w", err)
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}
