package routing

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Weights set how Assign trades travel against caseload balance and continuity of carer. The
// score is in minutes of travel: lower is better.
type Weights struct {
	// TravelPerMinute multiplies travel minutes from the practitioner's base.
	TravelPerMinute float64 `json:"travel_per_minute"`
	// FullDay is added in proportion to how full the practitioner's day already is
	// (booked/max_visits_per_day): 30 means a nearly full day counts like 30 more minutes of travel.
	FullDay float64 `json:"full_day"`
	// Continuity is subtracted for the practitioner who last saw the person: how many extra minutes
	// of travel are worth keeping the same face.
	Continuity float64 `json:"continuity"`
	// WaitPerDay is added for each day a visit waits after its earliest start, so that route
	// insertion prefers sooner visits; zero means DefaultWaitPerDay. Assign books the earliest
	// slot and does not use it.
	WaitPerDay float64 `json:"wait_per_day,omitempty"`
}

// DefaultWeights are used when Request.Weights is the zero value.
func DefaultWeights() Weights {
	return Weights{TravelPerMinute: 1, FullDay: 30, Continuity: 20}
}

// Request is everything Assign needs to place one case; nothing is read from elsewhere.
type Request struct {
	CaseID string
	// CandidateServiceIDs are the services that can deliver the pathway, best first.
	CandidateServiceIDs []string
	RequiredSkills      []string
	// VisitDuration is the pathway's visit length; it must fit in one slot.
	VisitDuration time.Duration
	// Earliest is the decision time: no appointment starts before it.
	Earliest time.Time
	// RespondWithin sets the deadline (Earliest+RespondWithin) by which the visit must end.
	RespondWithin time.Duration
	// Subject is where the visit happens.
	Subject Point
	// LastPractitionerID is who last saw this person, for continuity; empty if nobody.
	LastPractitionerID string
	// MaxTravelMinutes bounds travel from a practitioner's base; zero means no bound.
	MaxTravelMinutes float64
	Practitioners    []Practitioner
	// Booked holds existing visits; nil means none. It must use the same Loc and SlotLength.
	Booked *Bookings
	Travel Travel
	// Loc is the council's time zone, which the slot grid and working hours are in.
	Loc *time.Location
	// SlotLength is the appointment grid; zero means DefaultSlotLength.
	SlotLength time.Duration
	// Weights scores survivors of the hard filters; the zero value means DefaultWeights.
	Weights Weights
}

// Appointment is the practitioner and slot Assign chose.
type Appointment struct {
	PractitionerID   string    `json:"practitioner_id"`
	PractitionerName string    `json:"practitioner_name,omitempty"`
	ServiceID        string    `json:"service_id"`
	TravelMinutes    float64   `json:"travel_minutes"`
	Start            time.Time `json:"start"`
	End              time.Time `json:"end"`
	// BookedThatDay counts visits the practitioner already had that day, before this one.
	BookedThatDay   int     `json:"booked_that_day"`
	MaxVisitsPerDay int     `json:"max_visits_per_day"`
	Continuity      bool    `json:"continuity"`
	Score           float64 `json:"score"`
}

// Removed counts practitioners removed by each hard filter, applied in this order.
type Removed struct {
	NotInService int `json:"not_in_service"`
	// LackSkill is keyed by the first required skill the practitioner lacks.
	LackSkill   map[string]int `json:"lack_skill,omitempty"`
	TooFar      int            `json:"too_far"`
	NotWorking  int            `json:"not_working"`
	FullyBooked int            `json:"fully_booked"`
}

// Assignment is the outcome of Assign, stored with the decision so it stays explainable.
type Assignment struct {
	// Appointment is nil when no practitioner passed the hard filters.
	Appointment *Appointment `json:"appointment"`
	// Why names the deciding factors of the choice.
	Why string `json:"why,omitempty"`
	// UnassignedReason summarises how many practitioners each hard filter removed.
	UnassignedReason string  `json:"unassigned_reason,omitempty"`
	Considered       int     `json:"considered"`
	Qualified        int     `json:"qualified"`
	Removed          Removed `json:"removed"`
	Weights          Weights `json:"weights"`
	// Moved lists visits an urgent insertion pushed later, each still inside its own window.
	Moved []Shifted `json:"moved,omitempty"`
}

// maxWindowDays bounds the search so a mistaken respond_within cannot spin for years.
const maxWindowDays = 366

type searchDay struct {
	y   int
	m   time.Month
	d   int
	wd  time.Weekday
	key int
}

type candidate struct {
	p      *Practitioner
	rank   int
	travel float64
	start  time.Time
	booked int
	cont   bool
	cost   float64
}

// better is the total order of candidates: score, then earlier slot, then practitioner id, so
// that equal inputs always give the same choice.
func better(a, b *candidate) bool {
	if a.cost != b.cost {
		return a.cost < b.cost
	}
	if !a.start.Equal(b.start) {
		return a.start.Before(b.start)
	}
	return a.p.ID < b.p.ID
}

// Assign picks a practitioner and the earliest suitable slot for one case: hard filters first
// (service, skills, travel, a free slot before the deadline under the daily maximum), then the
// lowest weighted score.
func Assign(ctx context.Context, req Request) (Assignment, error) {
	fail := func(field, format string, args ...any) (Assignment, error) {
		return Assignment{}, fmt.Errorf("routing: unable to assign case %q: field %s: %s", req.CaseID, field, fmt.Sprintf(format, args...))
	}
	g, err := newGrid(req.Loc, req.SlotLength)
	if err != nil {
		return fail("loc/slot_length", "%v", err)
	}
	switch {
	case req.Travel == nil:
		return fail("travel", "missing")
	case len(req.CandidateServiceIDs) == 0:
		return fail("candidate_service_ids", "empty")
	case req.VisitDuration <= 0:
		return fail("visit_duration", "%s must be positive", req.VisitDuration)
	case req.VisitDuration > g.slotLength():
		return fail("visit_duration", "%s does not fit in a %s slot", req.VisitDuration, g.slotLength())
	case req.Earliest.IsZero():
		return fail("earliest", "missing")
	case req.RespondWithin <= 0:
		return fail("respond_within", "%s must be positive", req.RespondWithin)
	case req.RespondWithin > maxWindowDays*24*time.Hour:
		return fail("respond_within", "%s is longer than %d days", req.RespondWithin, maxWindowDays)
	case !req.Subject.Valid():
		return fail("subject", "coordinates %s out of range", req.Subject)
	case req.MaxTravelMinutes < 0 || math.IsNaN(req.MaxTravelMinutes):
		return fail("max_travel_minutes", "%g must be zero (no bound) or positive", req.MaxTravelMinutes)
	case req.Booked != nil && (req.Booked.g.slotMin != g.slotMin || req.Booked.g.loc.String() != g.loc.String()):
		return fail("booked", "indexed on a different slot grid or time zone")
	}
	w := req.Weights
	if w == (Weights{}) {
		w = DefaultWeights()
	}
	out := Assignment{Considered: len(req.Practitioners), Weights: w}

	// Cheap filters first: membership and skills are string compares on short lists.
	survivors := make([]candidate, 0, 64)
	for i := range req.Practitioners {
		p := &req.Practitioners[i]
		rank, ok := serves(req.CandidateServiceIDs, req.RequiredSkills, p, &out.Removed)
		if !ok {
			continue
		}
		survivors = append(survivors, candidate{p: p, rank: rank, cont: req.LastPractitionerID != "" && p.ID == req.LastPractitionerID})
	}

	// One matrix call for every survivor, so a routing server sees a single table request.
	if len(survivors) > 0 {
		bases := make([]Point, len(survivors))
		for i := range survivors {
			bases[i] = survivors[i].p.Base
		}
		m, err := req.Travel.Matrix(ctx, bases, []Point{req.Subject})
		if err != nil {
			return Assignment{}, fmt.Errorf("routing: unable to assign case %q: %w", req.CaseID, err)
		}
		if len(m) != len(bases) {
			return Assignment{}, fmt.Errorf("routing: unable to assign case %q: travel matrix has %d rows, want %d", req.CaseID, len(m), len(bases))
		}
		for i := range survivors {
			if len(m[i]) != 1 {
				return Assignment{}, fmt.Errorf("routing: unable to assign case %q: travel matrix row %d has %d columns, want 1", req.CaseID, i, len(m[i]))
			}
			survivors[i].travel = m[i][0]
		}
	}

	deadline := req.Earliest.Add(req.RespondWithin)
	days := windowDays(g, req.Earliest, deadline)
	var best, second *candidate
	qualified := survivors[:0]
	for i := range survivors {
		c := survivors[i]
		if req.MaxTravelMinutes > 0 && c.travel > req.MaxTravelMinutes {
			out.Removed.TooFar++
			continue
		}
		start, booked, outcome := earliestSlot(g, req.Booked, c.p, days, req.Earliest, deadline, req.VisitDuration)
		switch outcome {
		case slotNotWorking:
			out.Removed.NotWorking++
			continue
		case slotFullyBooked:
			out.Removed.FullyBooked++
			continue
		}
		c.start, c.booked = start, booked
		c.cost = w.TravelPerMinute*c.travel + w.FullDay*float64(booked)/float64(max(c.p.MaxVisitsPerDay, 1))
		if c.cont {
			c.cost -= w.Continuity
		}
		qualified = append(qualified, c)
	}
	out.Qualified = len(qualified)
	for i := range qualified {
		c := &qualified[i]
		switch {
		case best == nil || better(c, best):
			best, second = c, best
		case second == nil || better(c, second):
			second = c
		}
	}
	if best == nil {
		out.UnassignedReason = "no practitioner: " + removedSummary(out.Removed, req)
		return out, nil
	}
	sid := req.CandidateServiceIDs[best.rank]
	out.Appointment = &Appointment{
		PractitionerID:   best.p.ID,
		PractitionerName: best.p.Name,
		ServiceID:        sid,
		TravelMinutes:    best.travel,
		Start:            best.start,
		End:              best.start.Add(req.VisitDuration),
		BookedThatDay:    best.booked,
		MaxVisitsPerDay:  best.p.MaxVisitsPerDay,
		Continuity:       best.cont,
		Score:            best.cost,
	}
	out.Why = explain(g, w, best, second, sid, out, req)
	return out, nil
}

func windowDays(g grid, earliest, deadline time.Time) []searchDay {
	y0, m0, d0 := earliest.In(g.loc).Date()
	last := g.dayKey(deadline)
	var days []searchDay
	for off := 0; ; off++ {
		u := time.Date(y0, m0, d0+off, 12, 0, 0, 0, time.UTC)
		y, m, d := u.Date()
		key := civilDay(y, m, d)
		if key > last {
			return days
		}
		days = append(days, searchDay{y: y, m: m, d: d, wd: u.Weekday(), key: key})
	}
}

const (
	slotFound = iota
	slotNotWorking
	slotFullyBooked
)

// earliestSlot finds p's first free slot that starts at or after earliest and whose visit ends by
// deadline, on a day where p is under max_visits_per_day. It tells "never working in the window"
// apart from "working but full" for the unassigned reason.
func earliestSlot(g grid, b *Bookings, p *Practitioner, days []searchDay, earliest, deadline time.Time, dur time.Duration) (time.Time, int, int) {
	working := false
	for _, day := range days {
		dayCount := -1
		for _, s := range p.WorkingHours {
			if s.Day != day.wd {
				continue
			}
			for min := g.firstSlotMinute(s.StartMinute); min+g.slotMin <= s.EndMinute; min += g.slotMin {
				t, ok := g.at(day.y, day.m, day.d, min)
				if !ok || t.Before(earliest) {
					continue
				}
				if t.Add(dur).After(deadline) {
					return finish(working)
				}
				working = true
				if b == nil {
					return t, 0, slotFound
				}
				if dayCount < 0 {
					dayCount = b.perDay[practitionerDay{p.ID, day.key}]
				}
				if dayCount >= p.MaxVisitsPerDay {
					break
				}
				if b.Taken(p.ID, t) {
					continue
				}
				return t, dayCount, slotFound
			}
		}
	}
	return finish(working)
}

func finish(working bool) (time.Time, int, int) {
	if working {
		return time.Time{}, 0, slotFullyBooked
	}
	return time.Time{}, 0, slotNotWorking
}

func removedSummary(r Removed, req Request) string {
	var parts []string
	if len(req.Practitioners) == 0 {
		return "none on the roster"
	}
	if r.NotInService > 0 {
		parts = append(parts, fmt.Sprintf("%d not in service %s", r.NotInService, strings.Join(req.CandidateServiceIDs, " or ")))
	}
	for _, sk := range req.RequiredSkills {
		if n := r.LackSkill[sk]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d lack skill %s", n, sk))
		}
	}
	if r.TooFar > 0 {
		parts = append(parts, fmt.Sprintf("%d more than %g min away", r.TooFar, req.MaxTravelMinutes))
	}
	if r.NotWorking > 0 {
		parts = append(parts, fmt.Sprintf("%d not working before deadline", r.NotWorking))
	}
	if r.FullyBooked > 0 {
		parts = append(parts, fmt.Sprintf("%d fully booked before deadline", r.FullyBooked))
	}
	return strings.Join(parts, ", ")
}

type factor struct {
	gain float64
	text string
}

// explain names the winner's situation and, against the runner-up, the factors that decided it,
// largest weighted difference first.
func explain(g grid, w Weights, best, second *candidate, sid string, a Assignment, req Request) string {
	var b strings.Builder
	name := best.p.ID
	if best.p.Name != "" {
		name = fmt.Sprintf("%s (%s)", best.p.ID, best.p.Name)
	}
	fmt.Fprintf(&b, "Assigned %s of service %s: %.1f min travel from base, %d of %d visits already booked that day",
		name, sid, best.travel, best.booked, best.p.MaxVisitsPerDay)
	if best.cont {
		b.WriteString(", saw this person last time")
	}
	fmt.Fprintf(&b, "; earliest free slot %s.", best.start.In(g.loc).Format("Mon 2 Jan 2006 15:04"))
	if second == nil {
		fmt.Fprintf(&b, " The only one of %d practitioners to qualify", a.Considered)
		if s := removedSummary(a.Removed, req); s != "" {
			fmt.Fprintf(&b, " (%s)", s)
		}
		b.WriteString(".")
		return b.String()
	}
	fmt.Fprintf(&b, " %d of %d practitioners qualified; chosen over %s", a.Qualified, a.Considered, second.p.ID)
	var pro, con []factor
	add := func(gain float64, better, worse string) {
		switch {
		case gain > 0:
			pro = append(pro, factor{gain, better})
		case gain < 0:
			con = append(con, factor{-gain, worse})
		}
	}
	add(w.TravelPerMinute*(second.travel-best.travel),
		fmt.Sprintf("shorter travel (%.1f vs %.1f min)", best.travel, second.travel),
		fmt.Sprintf("longer travel (%.1f vs %.1f min)", best.travel, second.travel))
	loadBest := float64(best.booked) / float64(max(best.p.MaxVisitsPerDay, 1))
	loadSecond := float64(second.booked) / float64(max(second.p.MaxVisitsPerDay, 1))
	add(w.FullDay*(loadSecond-loadBest),
		fmt.Sprintf("lighter caseload that day (%d/%d vs %d/%d)", best.booked, best.p.MaxVisitsPerDay, second.booked, second.p.MaxVisitsPerDay),
		fmt.Sprintf("heavier caseload that day (%d/%d vs %d/%d)", best.booked, best.p.MaxVisitsPerDay, second.booked, second.p.MaxVisitsPerDay))
	contGain := 0.0
	if best.cont {
		contGain = w.Continuity
	} else if second.cont {
		contGain = -w.Continuity
	}
	add(contGain, "continuity of care (saw this person last time)", "the other saw this person last time")
	byGain := func(fs []factor) {
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].gain > fs[j].gain })
	}
	byGain(pro)
	byGain(con)
	switch {
	case best.cost == second.cost && !best.start.Equal(second.start):
		fmt.Fprintf(&b, " on an equal score (%.1f) for the earlier slot (%s vs %s)", best.cost,
			best.start.In(g.loc).Format("Mon 15:04"), second.start.In(g.loc).Format("Mon 15:04"))
	case best.cost == second.cost:
		fmt.Fprintf(&b, " on an equal score (%.1f) and slot, by practitioner id", best.cost)
	default:
		fmt.Fprintf(&b, " (score %.1f vs %.1f) for ", best.cost, second.cost)
		for i, f := range pro {
			if i > 0 {
				b.WriteString(" and ")
			}
			b.WriteString(f.text)
		}
		for i, f := range con {
			if i == 0 {
				b.WriteString(", despite ")
			} else {
				b.WriteString(" and ")
			}
			b.WriteString(f.text)
		}
	}
	b.WriteString(".")
	return b.String()
}

// serves reports whether p belongs to one of the candidate services, and has every required
// skill, with the rank of its best service; when not, it counts why in removed. These are the
// cheap filters, string compares on short lists, run before any travel is measured.
func serves(services, skills []string, p *Practitioner, removed *Removed) (rank int, ok bool) {
	rank = -1
	for r, sid := range services {
		if has(p.ServiceIDs, sid) {
			rank = r
			break
		}
	}
	if rank < 0 {
		removed.NotInService++
		return -1, false
	}
	for _, sk := range skills {
		if !has(p.Skills, sk) {
			if removed.LackSkill == nil {
				removed.LackSkill = make(map[string]int)
			}
			removed.LackSkill[sk]++
			return -1, false
		}
	}
	return rank, true
}
