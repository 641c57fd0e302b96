package triage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
)

// MaxTeamCases bounds how many of a team's most recent cases one worklist reads.
const MaxTeamCases = 500

// TeamCase is one case of a team's worklist: its decision and every appointment made for it.
type TeamCase struct {
	Decision     *Decision
	Appointments []CaseAppointment // oldest first
}

// CaseAppointment is an appointment of a case, booked or cancelled.
type CaseAppointment struct {
	ID             string
	PractitionerID string
	Status         string
	Start          time.Time
	End            time.Time
}

type caseAppointmentRow struct {
	ID             string        `db:"id"`
	DecisionID     string        `db:"decision_id"`
	PractitionerID string        `db:"practitioner_id"`
	Status         string        `db:"status"`
	StartAt        database.Time `db:"start_at"`
	EndAt          database.Time `db:"end_at"`
}

// TeamCases lists the decisions filed under any of teams, newest first and at most limit (at
// most MaxTeamCases), each with its appointments.
func (s *SQLStore) TeamCases(ctx context.Context, teams []string, limit int) ([]TeamCase, error) {
	if len(teams) == 0 {
		return []TeamCase{}, nil
	}
	if limit <= 0 || limit > MaxTeamCases {
		limit = MaxTeamCases
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(teams)), ", ")
	args := make([]any, 0, len(teams)+1)
	for _, t := range teams {
		args = append(args, t)
	}
	var rows []decisionRow
	err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(`SELECT `+decisionColumns+` FROM decisions
		WHERE team_id IN (`+marks+`) ORDER BY decided_at DESC, id LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("triage: unable to list the cases of teams %s: %w", strings.Join(teams, ", "), err)
	}
	out := make([]TeamCase, len(rows))
	byID := make(map[string]*TeamCase, len(rows))
	ids := make([]any, len(rows))
	for i := range rows {
		d, err := rows[i].decision()
		if err != nil {
			return nil, err
		}
		out[i] = TeamCase{Decision: d}
		byID[d.ID] = &out[i]
		ids[i] = d.ID
	}
	if len(ids) == 0 {
		return out, nil
	}
	var appts []caseAppointmentRow
	err = s.DB.SelectContext(ctx, &appts, s.DB.Rebind(`SELECT id, decision_id, practitioner_id, status, start_at, end_at
		FROM appointments WHERE decision_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`)
		ORDER BY created_at, id`), ids...)
	if err != nil {
		return nil, fmt.Errorf("triage: unable to list the appointments of teams %s: %w", strings.Join(teams, ", "), err)
	}
	for _, a := range appts {
		if c := byID[a.DecisionID]; c != nil {
			c.Appointments = append(c.Appointments, CaseAppointment{ID: a.ID, PractitionerID: a.PractitionerID,
				Status: a.Status, Start: a.StartAt.Time, End: a.EndAt.Time})
		}
	}
	return out, nil
}

// CaseState is what a case needs from its team at a moment.
type CaseState struct {
	// RespondBy is when the pathway must have responded: decided plus respond_within; zero when
	// the decision's respond_within does not parse.
	RespondBy time.Time
	// Booked is the appointment that stands, if any.
	Booked *CaseAppointment
	// Manual says a person must allocate the case; Reason says why.
	Manual bool
	Reason string
	// Escalated: nobody, on call included, could be booked before the deadline (see
	// Decision.Escalated); Reason is then the escalation's reason.
	Escalated bool
	// Cancelled: every appointment the case had is cancelled. Unbooked: it never had one and
	// does not wait for manual allocation.
	Cancelled bool
	Unbooked  bool
	// Overdue and DueSoon compare RespondBy with the moment, for a case whose standing
	// appointment (if any) is not in time: DueSoon within the soon window, Overdue after it.
	Overdue bool
	DueSoon bool
}

// State reports what the case needs at now; soon is how close to respond-by a case is due soon.
func (c TeamCase) State(now time.Time, soon time.Duration) CaseState {
	d := c.Decision
	st := CaseState{Manual: d.ManualAllocation, Reason: d.UnassignedReason}
	if reason, ok := d.Escalated(); ok {
		st.Escalated, st.Reason = true, reason
	}
	if within, err := rules.ParseDuration(d.Outcome.RespondWithin); err == nil {
		st.RespondBy = d.Decided.Add(within)
	}
	for i := range c.Appointments {
		if c.Appointments[i].Status == routing.StatusBooked {
			st.Booked = &c.Appointments[i]
		}
	}
	if st.Booked == nil && !st.Manual {
		st.Cancelled = len(c.Appointments) > 0
		st.Unbooked = len(c.Appointments) == 0
	}
	inTime := st.Booked != nil && !st.Booked.Start.After(st.RespondBy)
	if !st.RespondBy.IsZero() && !inTime {
		st.Overdue = !now.Before(st.RespondBy)
		st.DueSoon = !st.Overdue && st.RespondBy.Sub(now) <= soon
	}
	return st
}
