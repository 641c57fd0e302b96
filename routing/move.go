package routing

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// MoveRequest is a coordinator's move of one booked visit to a new start on its practitioner's
// route. Any minute will do; what decides is whether the route still works.
type MoveRequest struct {
	VisitID string
	Start   time.Time
	// Now is when the move is made: neither the visit nor its new start may have begun.
	Now time.Time
	// Loc is the council's time zone, in which working hours and days are read.
	Loc *time.Location
	// Travel measures the legs around the new position; nil uses great-circle travel.
	Travel Travel
	// OverrideWindow lets the visit leave its own window (earliest start, latest end) when a
	// coordinator says so; the move is recorded as an override.
	OverrideWindow bool
	// Open, when not nil, lists when the visit's service is open around the new start: the
	// visit must lie inside one opening. Nil leaves opening hours unchecked.
	Open []Interval
}

// MoveCauseOverride starts the cause recorded for a move that took a visit outside its window;
// MoveCauseCoordinator for any other coordinator's move. The rest of the cause is the move time.
const (
	MoveCauseCoordinator = "coordinator:"
	MoveCauseOverride    = "coordinator-override:"
)

// Move puts a booked visit at another start on its practitioner's route, in ex (its own
// transaction when ex is nil): the visit must not have started, the new start must be in the
// future, inside the practitioner's working hours and outside breaks, reachable from the visit
// before and in time for the one after (travel included), inside the service's opening hours
// when given, and inside the visit's own window unless OverrideWindow. It takes the same
// per-practitioner lock a booking does, records the move with its cause in visit_moves and moves
// the change marker. Refusals are Invalid (hours, window, the start itself) or Conflict (other
// visits), naming the reason, and change nothing.
func (s *SQLStore) Move(ctx context.Context, ex database.Querier, req MoveRequest) (StoredVisit, error) {
	if ex == nil {
		var out StoredVisit
		err := s.DB.InTx(ctx, func(tx *database.Tx) error {
			var err error
			out, err = s.Move(ctx, tx, req)
			return err
		})
		return out, err
	}
	if req.Loc == nil {
		return StoredVisit{}, fmt.Errorf("routing: unable to move appointment %s: no time zone", req.VisitID)
	}
	tr := req.Travel
	if tr == nil {
		tr = GreatCircle{}
	}
	v, err := s.visitOn(ctx, ex, req.VisitID)
	if err != nil {
		return StoredVisit{}, err
	}
	if v.Status != StatusBooked {
		return StoredVisit{}, failure.Errorf(failure.Conflict, "appointment %s is %s and cannot move", v.ID, v.Status)
	}
	// The lock comes before reading the route, so no booking slips in between.
	if err := lockRows(ctx, ex, []string{v.PractitionerID}); err != nil {
		return StoredVisit{}, err
	}
	loc, start := req.Loc, req.Start
	dur := v.End.Sub(v.Start)
	end := start.Add(dur)
	clock := func(t time.Time) string { return t.In(loc).Format("15:04") }
	when := start.In(loc).Format("Mon 2 Jan 2006 15:04")
	switch {
	case !v.Start.After(req.Now):
		return StoredVisit{}, failure.Errorf(failure.Conflict, "appointment %s started at %s and can no longer move", v.ID, v.Start.In(loc).Format(time.RFC3339))
	case !start.After(req.Now):
		return StoredVisit{}, failure.Errorf(failure.Invalid, "start: %s is not in the future", start.In(loc).Format(time.RFC3339))
	}
	p, err := s.practitionerOn(ctx, ex, v.PractitionerID)
	if err != nil {
		return StoredVisit{}, err
	}
	y, m, d := start.In(loc).Date()
	others, err := s.BookedOf(ctx, ex, p.ID, time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc))
	if err != nil {
		return StoredVisit{}, err
	}
	stops := make([]Stop, 0, len(others))
	for _, o := range others {
		if o.ID != v.ID {
			stops = append(stops, stopOf(o.Visit))
		}
	}
	r, works := BuildRoute(&p, loc, y, m, d, stops)
	switch {
	case !works:
		return StoredVisit{}, failure.Errorf(failure.Invalid, "start: practitioner %s does not work on %s", p.ID, start.In(loc).Format("Mon 2 Jan 2006"))
	case start.Before(r.From) || end.After(r.To):
		return StoredVisit{}, failure.Errorf(failure.Invalid, "start: %s to %s is outside practitioner %s's working hours, %s to %s", when, clock(end), p.ID, clock(r.From), clock(r.To))
	case r.MaxVisits > 0 && len(r.Stops) >= r.MaxVisits:
		return StoredVisit{}, failure.Errorf(failure.Conflict, "start: practitioner %s already has %d visits on %s, their most", p.ID, len(r.Stops), start.In(loc).Format("Mon 2 Jan"))
	}
	for _, b := range r.Breaks {
		if start.Before(b.To) && end.After(b.From) {
			return StoredVisit{}, failure.Errorf(failure.Invalid, "start: %s to %s overlaps practitioner %s's break, %s to %s", when, clock(end), p.ID, clock(b.From), clock(b.To))
		}
	}
	// The neighbours on the route: the last stop starting before the new start, and the next.
	k := 0
	for k < len(r.Stops) && r.Stops[k].Start.Before(start) {
		k++
	}
	prevLoc, prevEnd, prevName := r.StartPoint, r.From, "the start of their day"
	if k > 0 {
		ps := r.Stops[k-1]
		prevLoc, prevEnd, prevName = ps.Loc, ps.End(), "visit "+ps.VisitID
	}
	nextLoc, nextStart, nextName := r.EndPoint, r.To, "the end of their day"
	if k < len(r.Stops) {
		ns := r.Stops[k]
		nextLoc, nextStart, nextName = ns.Loc, ns.Start, "visit "+ns.VisitID
	}
	legs, err := tr.Matrix(ctx, []Point{prevLoc, v.Loc}, []Point{v.Loc, nextLoc})
	if err != nil {
		return StoredVisit{}, fmt.Errorf("routing: unable to move appointment %s: %w", v.ID, err)
	}
	if len(legs) != 2 || len(legs[0]) != 2 || len(legs[1]) != 2 {
		return StoredVisit{}, fmt.Errorf("routing: unable to move appointment %s: travel matrix has the wrong shape", v.ID)
	}
	travelIn, travelOut := minutesOf(legs[0][0]), minutesOf(legs[1][1])
	code := func(name string) failure.Code {
		if name == "the start of their day" || name == "the end of their day" {
			return failure.Invalid
		}
		return failure.Conflict
	}
	if arrive := prevEnd.Add(travelIn); arrive.After(start) {
		return StoredVisit{}, failure.Errorf(code(prevName), "start: practitioner %s cannot arrive by %s: after %s (until %s) and %s of travel, the earliest is %s",
			p.ID, clock(start), prevName, clock(prevEnd), travelIn, clock(arrive))
	}
	if leave := end.Add(travelOut); leave.After(nextStart) {
		return StoredVisit{}, failure.Errorf(code(nextName), "start: ending at %s leaves practitioner %s %s of travel to %s at %s; they would arrive at %s",
			clock(end), p.ID, travelOut, nextName, clock(nextStart), clock(leave))
	}
	// The visit's own window and the service's hours come last: when the route itself refuses
	// the time, overriding the window would not help, so that is the reason to give.
	if !req.OverrideWindow {
		if !v.Earliest.IsZero() && start.Before(v.Earliest) {
			return StoredVisit{}, failure.Errorf(failure.Invalid, "start: %s is before the visit's window opens at %s; override the window to move it anyway",
				when, v.Earliest.In(loc).Format("Mon 2 Jan 15:04"))
		}
		if !v.Latest.IsZero() && end.After(v.Latest) {
			return StoredVisit{}, failure.Errorf(failure.Invalid, "start: the visit would end at %s, after its window closes at %s; override the window to move it anyway",
				clock(end), v.Latest.In(loc).Format("Mon 2 Jan 15:04"))
		}
	}
	if req.Open != nil && !within(req.Open, start, end) {
		return StoredVisit{}, failure.Errorf(failure.Invalid, "start: service %s is not open for the whole visit from %s to %s", v.ServiceID, when, clock(end))
	}
	from := v.Start
	_, err = ex.ExecContext(ctx, ex.Rebind(`UPDATE appointments SET start_at = ?, end_at = ?, updated_at = ? WHERE id = ?`),
		database.NewTime(start), database.NewTime(end), database.NewTime(req.Now), v.ID)
	if database.IsUniqueViolation(err) {
		return StoredVisit{}, failure.Errorf(failure.Conflict, "start: practitioner %s already has a visit at %s: %w", p.ID, when, ErrSlotTaken)
	} else if err != nil {
		return StoredVisit{}, fmt.Errorf("routing: unable to move appointment %s: %w", v.ID, err)
	}
	cause := MoveCauseCoordinator
	if req.OverrideWindow && (!v.Earliest.IsZero() && start.Before(v.Earliest) || !v.Latest.IsZero() && end.After(v.Latest)) {
		cause = MoveCauseOverride
	}
	cause += database.NewTime(req.Now).UTC().Format(time.RFC3339Nano)
	if _, err := ex.ExecContext(ctx, ex.Rebind(`INSERT INTO visit_moves (visit_id, decision_id, from_start, to_start, moved_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (visit_id, decision_id) DO UPDATE SET to_start = excluded.to_start`),
		v.ID, cause, database.NewTime(from), database.NewTime(start), database.NewTime(req.Now)); err != nil {
		return StoredVisit{}, fmt.Errorf("routing: unable to record the move of appointment %s: %w", v.ID, err)
	}
	if err := touch(ctx, ex, p.ID); err != nil {
		return StoredVisit{}, err
	}
	v.Start, v.End, v.UpdatedAt = database.NewTime(start).Time, database.NewTime(end).Time, database.NewTime(req.Now).Time
	return v, nil
}

// MovesOfVisit lists the recorded moves of one visit, oldest first: those urgent insertions
// caused (the cause is their decision id) and coordinators' (MoveCauseCoordinator or
// MoveCauseOverride and the time).
func (s *SQLStore) MovesOfVisit(ctx context.Context, ex database.Querier, visitID string) ([]VisitMove, error) {
	if ex == nil {
		ex = s.DB
	}
	var rows []struct {
		VisitID    string        `db:"visit_id"`
		DecisionID string        `db:"decision_id"`
		From       database.Time `db:"from_start"`
		To         database.Time `db:"to_start"`
		MovedAt    database.Time `db:"moved_at"`
	}
	if err := ex.SelectContext(ctx, &rows, ex.Rebind(`SELECT visit_id, decision_id, from_start, to_start, moved_at FROM visit_moves
		WHERE visit_id = ? ORDER BY moved_at, decision_id`), visitID); err != nil {
		return nil, fmt.Errorf("routing: unable to list moves of appointment %s: %w", visitID, err)
	}
	out := make([]VisitMove, len(rows))
	for i, r := range rows {
		out[i] = VisitMove{VisitID: r.VisitID, DecisionID: r.DecisionID, From: r.From.Time, To: r.To.Time, MovedAt: r.MovedAt.Time}
	}
	return out, nil
}

// within reports whether [from, to) lies inside one of the spans.
func within(spans []Interval, from, to time.Time) bool {
	for _, sp := range spans {
		if !from.Before(sp.From) && !to.After(sp.To) {
			return true
		}
	}
	return false
}

// minutesOf is travel of m minutes as a duration, rounded up to the minute as routes count it.
func minutesOf(m float64) time.Duration {
	return time.Duration(math.Ceil(m)) * time.Minute
}
