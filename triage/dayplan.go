package triage

import (
	"context"
	"fmt"
	"time"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
)

// Zone is the council time zone slots are in, or the configuration fault that left none.
func (p *Placement) Zone() (*time.Location, error) {
	if p.setup != nil {
		return nil, p.setup
	}
	return p.Loc, nil
}

// MinDiaryYear and MaxDiaryYear bound the dates a diary may be asked about.
const (
	MinDiaryYear = 1900
	MaxDiaryYear = 9999
)

// DayBounds is the local day named by date (YYYY-MM-DD) as the instants [from, to); a day is 23 or
// 25 hours long when the clocks change.
func (p *Placement) DayBounds(date string) (from, to time.Time, err error) {
	loc, err := p.Zone()
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	d, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return time.Time{}, time.Time{}, failure.Errorf(failure.Invalid, "date: %q is not a date YYYY-MM-DD", date)
	}
	// Storage holds fewer years than Go (PostgreSQL refuses year 0); no diary is kept outside these.
	if y := d.Year(); y < MinDiaryYear || y > MaxDiaryYear {
		return time.Time{}, time.Time{}, failure.Errorf(failure.Invalid, "date: %s is outside the years %d to %d", date, MinDiaryYear, MaxDiaryYear)
	}
	y, m, dd := d.Date()
	return d, time.Date(y, m, dd+1, 0, 0, 0, 0, loc), nil
}

// DayVisits lists the booked visits of a local day, all practitioners' or one's, by start then id.
func (p *Placement) DayVisits(ctx context.Context, date, practitionerID string) ([]routing.StoredVisit, error) {
	from, to, err := p.DayBounds(date)
	if err != nil {
		return nil, err
	}
	if practitionerID != "" {
		if _, err := p.Routing.Practitioner(ctx, practitionerID); err != nil {
			return nil, err
		}
	}
	all, err := p.Routing.Booked(ctx, nil, from, to)
	if err != nil {
		return nil, err
	}
	if practitionerID == "" {
		return all, nil
	}
	out := []routing.StoredVisit{}
	for _, v := range all {
		if v.PractitionerID == practitionerID {
			out = append(out, v)
		}
	}
	return out, nil
}

// ExportDay writes a day's visits and their practitioners' bases as GeoJSON.
func (p *Placement) ExportDay(ctx context.Context, date string) ([]byte, error) {
	visits, err := p.DayVisits(ctx, date, "")
	if err != nil {
		return nil, err
	}
	roster, err := p.Routing.Practitioners(ctx)
	if err != nil {
		return nil, err
	}
	return routing.DayGeoJSON(visits, roster, p.Loc)
}

// OptimiseReport is what batch optimisation of a day found and whether it was applied.
type OptimiseReport struct {
	Date    string `json:"date"`
	Applied bool   `json:"applied"`
	routing.Plan
	// SavedMinutes is the travel the plan saves over the day as booked one at a time.
	SavedMinutes float64 `json:"saved_minutes"`
}

// Optimise re-assigns the day's visits that have not started, keeping pinned ones, to minimise
// total travel, and applies the moves in one transaction unless dryRun.
func (p *Placement) Optimise(ctx context.Context, date string, now time.Time, dryRun bool) (OptimiseReport, error) {
	visits, err := p.DayVisits(ctx, date, "")
	if err != nil {
		return OptimiseReport{}, err
	}
	roster, err := p.Routing.Practitioners(ctx)
	if err != nil {
		return OptimiseReport{}, err
	}
	from, _, err := p.DayBounds(date)
	if err != nil {
		return OptimiseReport{}, err
	}
	// The slot-grid optimiser cannot see visits placed on routes off the grid, so the
	// practitioners who have any that day take no part: nothing is moved onto or off them.
	onGrid := func(t time.Time) bool {
		slot := p.SlotLength
		if slot == 0 {
			slot = routing.DefaultSlotLength
		}
		lt := t.In(p.Loc)
		return (lt.Hour()*60+lt.Minute())%int(slot/time.Minute) == 0 && lt.Second() == 0 && lt.Nanosecond() == 0
	}
	offGrid := map[string]bool{}
	byID := make(map[string]*routing.Practitioner, len(roster))
	for i := range roster {
		byID[roster[i].ID] = &roster[i]
	}
	for _, v := range visits {
		if onGrid(v.Start) {
			continue
		}
		offGrid[v.PractitionerID] = true
		// Still, a route visit its practitioner no longer works at is for a coordinator to resolve.
		y, m, dd := v.Start.In(p.Loc).Date()
		pr, ok := byID[v.PractitionerID]
		var r *routing.DayRoute
		if ok {
			r, ok = routing.BuildRoute(pr, p.Loc, y, m, dd, nil)
		}
		if !ok || v.Start.Before(r.From) || v.End.After(r.To) {
			return OptimiseReport{}, failure.Errorf(failure.Conflict, "visit %q at %s: no practitioner on the roster meets every hard constraint for its time (working hours of %s)",
				v.ID, v.Start.In(p.Loc).Format("15:04"), v.PractitionerID)
		}
	}
	day := routing.Day{Date: from, Now: now, Loc: p.Loc, SlotLength: p.SlotLength, MaxTravelMinutes: p.MaxTravelMinutes, Travel: p.Travel}
	for _, pr := range roster {
		if !offGrid[pr.ID] {
			day.Practitioners = append(day.Practitioners, pr)
		}
	}
	for _, v := range visits {
		if !offGrid[v.PractitionerID] {
			day.Visits = append(day.Visits, v.Visit)
		}
	}
	plan, err := routing.Optimise(ctx, day)
	if err != nil {
		return OptimiseReport{}, fmt.Errorf("triage: unable to optimise %s: %w", date, err)
	}
	report := OptimiseReport{Date: date, Plan: plan, SavedMinutes: plan.TravelBefore - plan.TravelAfter}
	if dryRun || len(plan.Moves) == 0 {
		return report, nil
	}
	if err := p.Routing.ApplyPlan(ctx, plan, now); err != nil {
		return OptimiseReport{}, err
	}
	report.Applied = true
	return report, nil
}
