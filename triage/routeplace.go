package triage

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
)

// SameDayReviewFlag is the outcome flag that asks for a clinician the same day: such a case is
// seen before the local day ends, or escalated; it is never booked for a later day.
const SameDayReviewFlag = "same_day_clinician_review"

// UrgentWithin is the longest respond-within that counts as urgent: such visits go into today's
// routes and may move routine visits later.
const UrgentWithin = 24 * time.Hour

// escalatedPrefix starts the unassigned reason of an escalated decision.
const escalatedPrefix = "escalated: "

// Escalated reports whether the decision was escalated because nobody, on call included, could
// visit before its deadline, and why. It is the hook for announcing escalations: the same case
// is listed by routing.SQLStore.Escalations for the coordinator's worklist.
func (d *Decision) Escalated() (reason string, ok bool) {
	if r, ok := strings.CutPrefix(d.UnassignedReason, escalatedPrefix); ok {
		return r, true
	}
	return "", false
}

// window is when a decision's visit may happen and whether it may move routine visits.
func (p *Placement) window(pl *placing, at time.Time) (earliest, latest time.Time, urgent, sameDay bool) {
	earliest, latest = at, at.Add(pl.within)
	// The visit starts no sooner than the soonest of the services opens (OpensAt, within the window).
	var soonest time.Time
	for _, c := range pl.match.Candidates {
		o := c.OpensAt
		if o.IsZero() || !o.After(at) {
			soonest = at
			break
		}
		if soonest.IsZero() || o.Before(soonest) {
			soonest = o
		}
	}
	if !soonest.IsZero() && soonest.Before(latest) {
		earliest = soonest
	}
	for _, f := range pl.flags {
		if f == SameDayReviewFlag {
			sameDay = true
		}
	}
	if sameDay {
		y, m, dd := at.In(p.Loc).Date()
		if eod := time.Date(y, m, dd+1, 0, 0, 0, 0, p.Loc); eod.Before(latest) {
			latest = eod
		}
	}
	urgent = pl.priority == string(rules.Emergency) || pl.priority == string(rules.Urgent) || pl.within <= UrgentWithin
	return earliest, latest, urgent, sameDay
}

// place inserts the decision's visit into the best practitioner's route (leaving out exclude), or
// the on-call practitioner's, or escalates; with book it writes the result on ex, which is then
// the decision's transaction.
func (p *Placement) place(ctx context.Context, ex database.Querier, pl *placing, d *Decision, at time.Time, newID func() string, book bool, exclude string) error {
	d.Assignment, d.UnassignedReason, d.ManualAllocation = nil, "", false
	earliest, latest, urgent, sameDay := p.window(pl, at)
	if !latest.After(earliest) {
		latest = earliest.Add(time.Minute)
	}
	var view *routing.RouteView
	var err error
	if pl.claim {
		view, err = p.Routes.Cached(ctx, ex, earliest, latest)
	} else {
		view, err = p.Routes.View(ctx, ex, earliest, latest)
	}
	if err != nil {
		return err
	}
	roster := view.Roster
	if exclude != "" {
		roster = make([]routing.Practitioner, 0, len(view.Roster))
		for _, pr := range view.Roster {
			if pr.ID != exclude {
				roster = append(roster, pr)
			}
		}
	}
	last := pl.last
	if !pl.claim {
		if last, err = p.Routing.LastPractitioner(ctx, ex, pl.subject, at); err != nil {
			return err
		}
	}
	ids := make([]string, len(pl.match.Candidates))
	for i, c := range pl.match.Candidates {
		ids[i] = c.ServiceID
	}
	open, err := p.openings(ctx, pl.ix, ids, earliest, latest)
	if err != nil {
		return err
	}
	req := routing.RouteRequest{
		CaseID: pl.decision, CandidateServiceIDs: ids, RequiredSkills: pl.pathway.Skills, Open: open,
		Duration: time.Duration(pl.pathway.VisitMinutes) * time.Minute, Earliest: earliest, Latest: latest, Now: at,
		Subject: pl.where, LastPractitionerID: last, MaxTravelMinutes: p.MaxTravelMinutes, MayMove: urgent,
		Practitioners: roster, Routes: view, Travel: p.Travel, Loc: p.Loc, Weights: p.Weights,
	}
	ins, err := routing.InsertVisit(ctx, req)
	if err == nil {
		err = view.Err()
	}
	if err != nil {
		// A failing travel service must not lose an accepted decision: a person allocates it.
		d.UnassignedReason, d.ManualAllocation = "assignment failed: "+err.Error(), true
		return nil
	}
	if ins.Appointment != nil {
		pr, _ := view.Practitioner(ins.Appointment.PractitionerID)
		if pl.claim && !book && len(ins.Moved) == 0 {
			pl.plan = &planned{req: req, ins: ins, pr: pr, seen: view.Seq(pr.ID)}
		}
		return p.commit(ctx, ex, pl, d, req, ins, pr, nil, at, newID, book)
	}
	reason := ins.UnassignedReason
	onCall, why, err := p.onCall(ctx, ex, pl, d, req, view, at, newID, book, exclude)
	if err != nil || onCall {
		return err
	}
	reason += "; " + why
	if sameDay {
		reason += "; a same-day review is never booked for a later day"
	}
	if pl.claim && !book {
		// Planned before the transaction: it only has to write the escalation.
		pl.plan = &planned{escalate: reason}
	}
	return p.escalate(ctx, ex, pl, d, reason, at, book)
}

// openings lists, per service with opening hours, when it is open in [from, to): a visit for it
// starts once the service opens and ends by the time it closes. Services without schedules are
// left out, which means always open.
// ix is the directory as the decision matched it; nil reads it (outside a transaction).
func (p *Placement) openings(ctx context.Context, ix *directory.Index, serviceIDs []string, from, to time.Time) (map[string][]routing.Interval, error) {
	if ix == nil {
		if p.Directory == nil {
			return nil, nil
		}
		var err error
		if ix, err = p.Directory.Index(ctx); err != nil {
			return nil, err
		}
	}
	var out map[string][]routing.Interval
	for _, id := range serviceIDs {
		svc, ok := ix.Service(id)
		if !ok {
			continue
		}
		spans, always := svc.OpenSpans(from, to, p.Loc)
		if always {
			continue
		}
		if out == nil {
			out = make(map[string][]routing.Interval, len(serviceIDs))
		}
		iv := make([]routing.Interval, len(spans))
		for i, sp := range spans {
			iv[i] = routing.Interval{From: sp.From, To: sp.To}
		}
		out[id] = iv
	}
	return out, nil
}

// escalate flags the decision for the coordinator with reason and, when booking, records it in
// the escalations the worklist reads, in the decision's transaction.
func (p *Placement) escalate(ctx context.Context, ex database.Querier, pl *placing, d *Decision, reason string, at time.Time, book bool) error {
	_, latest, _, _ := p.window(pl, at)
	d.Assignment, d.UnassignedReason, d.ManualAllocation = nil, escalatedPrefix+reason, true
	store, ok := p.Routing.(*routing.SQLStore)
	if !book || !ok {
		return nil
	}
	return store.Escalate(ctx, ex, routing.Escalation{DecisionID: d.ID, Team: d.Team,
		Pathway: d.Outcome.Pathway, Priority: pl.priority, Reason: reason, Deadline: latest, CreatedAt: at})
}

// onCall tries the rota's practitioners for the decision's services in the window: the one who
// arrives soonest takes the visit. why says what was found when nobody could.
func (p *Placement) onCall(ctx context.Context, ex database.Querier, pl *placing, d *Decision, req routing.RouteRequest,
	view *routing.RouteView, at time.Time, newID func() string, book bool, exclude string) (bool, string, error) {
	store, ok := p.Routing.(*routing.SQLStore)
	if !ok {
		return false, "no on-call rota", nil
	}
	// The rota is when a service answers out of hours, so its opening hours do not apply.
	req.Open = nil
	entries, err := store.OnCallBetween(ctx, ex, req.Earliest, req.Latest, req.CandidateServiceIDs...)
	if err != nil {
		return false, "", err
	}
	if len(entries) == 0 {
		return false, "nobody on call for " + strings.Join(req.CandidateServiceIDs, " or ") + " before the deadline", nil
	}
	var (
		best      routing.Inserted
		bestEntry routing.OnCall
		bestPr    *routing.Practitioner
	)
	tried := 0
	for _, e := range entries {
		pr, ok := view.Practitioner(e.PractitionerID)
		if !ok || pr.ID == exclude || !hasAll(pr.Skills, req.RequiredSkills) {
			continue
		}
		tried++
		r, err := p.onCallRoute(ctx, ex, pr, e, at, false)
		if err != nil {
			return false, "", err
		}
		ins, err := p.insertInto(ctx, r, req, pr, e.ServiceID)
		if err != nil {
			return false, "", err
		}
		if ins.Appointment != nil && (best.Appointment == nil || ins.Appointment.Start.Before(best.Appointment.Start)) {
			best, bestEntry, bestPr = ins, e, pr
		}
	}
	if best.Appointment == nil {
		return false, fmt.Sprintf("%d on call for %s, none with the skills and time to arrive before the deadline", tried,
			strings.Join(req.CandidateServiceIDs, " or ")), nil
	}
	best.Why = fmt.Sprintf("On call: no working practitioner could arrive before the deadline (%s); %s of service %s is on call until %s and arrives %s.",
		strings.TrimPrefix(best.UnassignedReason, "no practitioner: "), bestPr.ID, bestEntry.ServiceID,
		bestEntry.Ends.In(p.Loc).Format("Mon 15:04"), best.Appointment.Start.In(p.Loc).Format("Mon 2 Jan 15:04"))
	return true, "", p.commit(ctx, ex, pl, d, req, best, bestPr, &bestEntry, at, newID, book)
}

// onCallRoute is an on-call span as a route: from the practitioner's base, from the later of
// the span's start and now, with their visits in the span as stops.
func (p *Placement) onCallRoute(ctx context.Context, ex database.Querier, pr *routing.Practitioner, e routing.OnCall, at time.Time, lock bool) (*routing.DayRoute, error) {
	store := p.Routing.(*routing.SQLStore)
	if lock {
		if tx, ok := ex.(*database.Tx); ok {
			if err := store.LockRoute(ctx, tx, pr.ID); err != nil {
				return nil, err
			}
		}
	}
	vs, err := store.BookedOf(ctx, ex, pr.ID, e.Starts.Add(-24*time.Hour), e.Ends)
	if err != nil {
		return nil, err
	}
	r := &routing.DayRoute{PractitionerID: pr.ID, From: e.Starts, To: e.Ends, StartPoint: pr.Base, EndPoint: pr.Base}
	if r.From.Before(at) {
		r.From = at
	}
	for _, v := range vs {
		if v.End.After(e.Starts) {
			r.Stops = append(r.Stops, routing.Stop{VisitID: v.ID, Loc: v.Loc, Start: v.Start, Duration: v.End.Sub(v.Start),
				Earliest: v.Start, Latest: v.End, Pinned: true})
		}
	}
	if len(r.Stops) > 0 && r.Stops[0].Start.Before(r.From) {
		r.From = r.Stops[0].Start
	}
	if err := routing.FillLegs(ctx, p.Travel, r); err != nil {
		return nil, err
	}
	return r, nil
}

// single is a Routes of one prepared route.
type single struct{ r *routing.DayRoute }

func (s single) Route(*routing.Practitioner, int, time.Month, int) (*routing.DayRoute, bool) {
	return s.r, true
}

// insertInto places req's visit into the one route r of practitioner pr, for service sid.
func (p *Placement) insertInto(ctx context.Context, r *routing.DayRoute, req routing.RouteRequest, pr *routing.Practitioner, sid string) (routing.Inserted, error) {
	one := req
	one.Practitioners = []routing.Practitioner{*pr}
	one.Practitioners[0].ServiceIDs = []string{sid}
	one.CandidateServiceIDs = []string{sid}
	one.Routes = single{r}
	// The whole window lies in one route here, whatever its local days.
	one.Earliest, one.Latest = maxTime(req.Earliest, r.From), req.Latest
	if !one.Latest.After(one.Earliest) {
		return routing.Inserted{}, nil
	}
	return routing.InsertVisit(ctx, one)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// commit re-checks the chosen insertion against the route as the database holds it now, under
// the route's lock, and books it with any moves; a route changed by a concurrent booking so that
// no position fits any more is reported as a lost slot, which retries the whole transaction.
func (p *Placement) commit(ctx context.Context, ex database.Querier, pl *placing, d *Decision, req routing.RouteRequest,
	ins routing.Inserted, pr *routing.Practitioner, onCall *routing.OnCall, at time.Time, newID func() string, book bool) error {
	ap := ins.Appointment
	if book && pl.claim && onCall == nil && len(ins.Moved) == 0 {
		return p.commitClaimed(ctx, ex, pl, d, req, ins, pr, at, newID)
	}
	if book {
		tx, ok := ex.(*database.Tx)
		if !ok {
			return fmt.Errorf("triage: unable to book decision %s: booking needs the decision's transaction", d.ID)
		}
		var fresh *routing.DayRoute
		var err error
		if onCall != nil {
			fresh, err = p.onCallRoute(ctx, tx, pr, *onCall, at, true)
		} else {
			var working bool
			fresh, working, err = p.Routes.FreshRoute(ctx, tx, pr, ap.Start)
			if err == nil && !working {
				err = failure.Errorf(failure.Conflict, "practitioner %s no longer works that day: %w", pr.ID, routing.ErrSlotTaken)
			}
		}
		if err != nil {
			return err
		}
		again, err := p.insertInto(ctx, fresh, req, pr, ap.ServiceID)
		if err != nil {
			return err
		}
		if again.Appointment == nil {
			p.Routes.Invalidate()
			return failure.Errorf(failure.Conflict, "route of %s changed by a concurrent booking: %w", pr.ID, routing.ErrSlotTaken)
		}
		why := ins.Why
		ins = again
		ins.Why = why
		ap = ins.Appointment
		ap.PractitionerName = pr.Name
		store := p.Routing.(*routing.SQLStore)
		if err := store.Reschedule(ctx, tx, d.ID, ins.Moved, at); err != nil {
			return err
		}
	}
	visitID := newID()
	if book {
		if err := p.Routing.Book(ctx, ex, p.visit(pl, d, req, ap, visitID, at)); err != nil {
			return err
		}
		// This process changed the route without claiming it: the book reads it again.
		p.Routes.Forget(ap.PractitionerID)
	}
	p.assigned(d, ins, visitID)
	return nil
}

// visit is the appointment a decision books.
func (p *Placement) visit(pl *placing, d *Decision, req routing.RouteRequest, ap *routing.Appointment, id string, at time.Time) routing.StoredVisit {
	return routing.StoredVisit{
		Visit: routing.Visit{ID: id, CaseID: d.ID, PractitionerID: ap.PractitionerID, ServiceID: ap.ServiceID,
			Pathway: pl.pathway.ID, Start: ap.Start, End: ap.End, Loc: pl.where,
			RequiredSkills: pl.pathway.Skills, CandidateServiceIDs: req.CandidateServiceIDs,
			Earliest: req.Earliest, Latest: req.Latest},
		SubjectRef: d.SubjectRef, CreatedAt: at, UpdatedAt: at,
	}
}

// commitClaimed books an insertion planned on the route book's cached route: it claims the route
// at the version it was planned on, which fails when another booking changed the route since (the
// caller then retries with the route read again), and defers the appointment's INSERT to the
// decision's own statement.
func (p *Placement) commitClaimed(ctx context.Context, ex database.Querier, pl *placing, d *Decision, req routing.RouteRequest,
	ins routing.Inserted, pr *routing.Practitioner, at time.Time, newID func() string) error {
	tx, ok := ex.(*database.Tx)
	if !ok {
		return fmt.Errorf("triage: unable to book decision %s: booking needs the decision's transaction", d.ID)
	}
	var seen int64
	if v, ok := req.Routes.(*routing.RouteView); ok {
		seen = v.Seq(pr.ID)
	}
	store := p.Routing.(*routing.SQLStore)
	now, ok, err := store.ClaimRoute(ctx, tx, pr.ID, seen)
	if err != nil {
		return err
	}
	if !ok {
		p.Routes.Stale(pr.ID, seen)
		return failure.Errorf(failure.Conflict, "route of %s changed by a concurrent booking: %w", pr.ID, routing.ErrSlotTaken)
	}
	ap := ins.Appointment
	ap.PractitionerName = pr.Name
	visitID := newID()
	v := p.visit(pl, d, req, ap, visitID, at)
	if err := store.BookClaimed(ctx, tx, v); err != nil {
		return err
	}
	pl.booked = &claimed{visit: v.Visit, seen: seen, now: now}
	p.assigned(d, ins, visitID)
	return nil
}

// assigned records the booked insertion on the decision.
func (p *Placement) assigned(d *Decision, ins routing.Inserted, visitID string) {
	ap := ins.Appointment
	why := ins.Why
	if len(ins.Moved) > 0 && !strings.Contains(why, "Moved later") {
		var b strings.Builder
		b.WriteString(" Moved later to make room (each within its own window):")
		for i, m := range ins.Moved {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s %s→%s", m.VisitID, m.From.In(p.Loc).Format("15:04"), m.To.In(p.Loc).Format("15:04"))
		}
		why += b.String() + "."
	}
	d.Assignment = &Assignment{
		PractitionerID: ap.PractitionerID, PractitionerName: ap.PractitionerName, ServiceID: ap.ServiceID,
		TravelMinutes: math.Round(ap.TravelMinutes*10) / 10, Continuity: ap.Continuity, Why: why,
		Appointment: AppointmentSlot{ID: visitID, Start: ap.Start.In(p.Loc), End: ap.End.In(p.Loc)},
	}
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
