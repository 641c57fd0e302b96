package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func baseRequest(loc *time.Location, ps []Practitioner, booked *Bookings) Request {
	return Request{
		CaseID: "case-1", CandidateServiceIDs: []string{"svc-a"}, RequiredSkills: []string{"nurse"},
		VisitDuration: 45 * time.Minute, Earliest: monday(loc, 9, 10), RespondWithin: 8 * time.Hour,
		Subject: at(0, 0), MaxTravelMinutes: 60, Practitioners: ps, Booked: booked,
		Travel: GreatCircle{}, Loc: loc,
	}
}

func booking(tb testing.TB, loc *time.Location, pid string, starts ...time.Time) []Visit {
	var vs []Visit
	for i, s := range starts {
		vs = append(vs, Visit{ID: fmt.Sprintf("%s-b%d", pid, i), PractitionerID: pid, Start: s, End: s.Add(30 * time.Minute)})
	}
	return vs
}

func TestAssignHardFilters(t *testing.T) {
	loc := londonLoc(t)
	near := at(2, 0)
	allDay := func() []time.Time {
		var ts []time.Time
		for h := 9; h < 17; h++ {
			ts = append(ts, monday(loc, h, 0))
		}
		return ts
	}
	tests := []struct {
		name       string
		p          Practitioner
		booked     []Visit
		edit       func(*Request)
		wantStart  time.Time // zero: unassigned
		wantReason string
	}{
		{name: "qualifies, first slot after earliest", p: prac("p1", near), wantStart: monday(loc, 10, 0)},
		{name: "earliest on a slot boundary takes that slot", p: prac("p1", near),
			edit: func(r *Request) { r.Earliest = monday(loc, 9, 0) }, wantStart: monday(loc, 9, 0)},
		{name: "not in service", p: prac("p1", near, func(p *Practitioner) { p.ServiceIDs = []string{"svc-b"} }),
			wantReason: "no practitioner: 1 not in service svc-a"},
		{name: "second candidate service accepted", p: prac("p1", near, func(p *Practitioner) { p.ServiceIDs = []string{"svc-b"} }),
			edit: func(r *Request) { r.CandidateServiceIDs = []string{"svc-a", "svc-b"} }, wantStart: monday(loc, 10, 0)},
		{name: "lacks skill", p: prac("p1", near), edit: func(r *Request) { r.RequiredSkills = []string{"nurse", "mental_health_nurse"} },
			wantReason: "no practitioner: 1 lack skill mental_health_nurse"},
		{name: "too far", p: prac("p1", at(60, 0)), wantReason: "no practitioner: 1 more than 60 min away"},
		{name: "no travel bound", p: prac("p1", at(60, 0)), edit: func(r *Request) { r.MaxTravelMinutes = 0 }, wantStart: monday(loc, 10, 0)},
		{name: "not working in window", p: prac("p1", near, func(p *Practitioner) { p.WorkingHours = []Shift{{time.Saturday, 540, 1020}} }),
			wantReason: "no practitioner: 1 not working before deadline"},
		{name: "at daily max", p: prac("p1", near, func(p *Practitioner) { p.MaxVisitsPerDay = 1 }),
			booked: booking(t, loc, "p1", monday(loc, 15, 0)), wantReason: "no practitioner: 1 fully booked before deadline"},
		{name: "every slot taken", p: prac("p1", near, func(p *Practitioner) { p.MaxVisitsPerDay = 20 }),
			booked: booking(t, loc, "p1", allDay()...), wantReason: "no practitioner: 1 fully booked before deadline"},
		{name: "taken slot skipped", p: prac("p1", near), booked: booking(t, loc, "p1", monday(loc, 10, 0), monday(loc, 11, 0)),
			wantStart: monday(loc, 12, 0)},
		{name: "full day rolls to next day", p: prac("p1", near, func(p *Practitioner) { p.MaxVisitsPerDay = 1 }),
			booked: booking(t, loc, "p1", monday(loc, 15, 0)), edit: func(r *Request) { r.RespondWithin = 48 * time.Hour },
			wantStart: time.Date(2026, 3, 3, 9, 0, 0, 0, loc)},
		{name: "visit must end by deadline", p: prac("p1", near),
			edit:       func(r *Request) { r.Earliest = monday(loc, 9, 0); r.RespondWithin = 44 * time.Minute },
			wantReason: "no practitioner: 1 not working before deadline"},
		{name: "visit ending exactly at deadline fits", p: prac("p1", near),
			edit: func(r *Request) { r.Earliest = monday(loc, 9, 0); r.RespondWithin = 45 * time.Minute }, wantStart: monday(loc, 9, 0)},
		{name: "last slot of the shift", p: prac("p1", near),
			edit: func(r *Request) { r.Earliest = monday(loc, 16, 0) }, wantStart: monday(loc, 16, 0)},
		{name: "after hours", p: prac("p1", near),
			edit:       func(r *Request) { r.Earliest = monday(loc, 16, 1); r.RespondWithin = 2 * time.Hour },
			wantReason: "no practitioner: 1 not working before deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBookings(loc, 0, tc.booked)
			if err != nil {
				t.Fatal(err)
			}
			req := baseRequest(loc, []Practitioner{tc.p}, b)
			if tc.edit != nil {
				tc.edit(&req)
			}
			a, err := Assign(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStart.IsZero() {
				if a.Appointment != nil {
					t.Fatalf("assigned %+v, want none", a.Appointment)
				}
				if a.UnassignedReason != tc.wantReason {
					t.Fatalf("reason %q, want %q", a.UnassignedReason, tc.wantReason)
				}
				return
			}
			if a.Appointment == nil {
				t.Fatalf("unassigned (%s), want slot %s", a.UnassignedReason, tc.wantStart)
			}
			if !a.Appointment.Start.Equal(tc.wantStart) || !a.Appointment.End.Equal(tc.wantStart.Add(req.VisitDuration)) {
				t.Fatalf("slot %s–%s, want start %s", a.Appointment.Start, a.Appointment.End, tc.wantStart)
			}
		})
	}
}

func TestAssignUnassignedReasonCountsEveryFilter(t *testing.T) {
	loc := londonLoc(t)
	near := at(1, 1)
	ps := []Practitioner{
		prac("a", near, func(p *Practitioner) { p.ServiceIDs = []string{"svc-x"} }),
		prac("b", near, func(p *Practitioner) { p.ServiceIDs = nil }),
		prac("c", near, func(p *Practitioner) { p.Skills = []string{"ot"} }),
		prac("d", near, func(p *Practitioner) { p.Skills = []string{"nurse"} }),
		prac("e", at(80, 0), func(p *Practitioner) { p.Skills = []string{"nurse", "mental_health_nurse"} }),
		prac("f", near, func(p *Practitioner) {
			p.Skills = []string{"nurse", "mental_health_nurse"}
			p.WorkingHours = []Shift{{time.Sunday, 600, 720}}
		}),
		prac("g", near, func(p *Practitioner) { p.Skills = []string{"nurse", "mental_health_nurse"}; p.MaxVisitsPerDay = 1 }),
	}
	b, err := NewBookings(loc, 0, booking(t, loc, "g", monday(loc, 16, 0)))
	if err != nil {
		t.Fatal(err)
	}
	req := baseRequest(loc, ps, b)
	req.RequiredSkills = []string{"mental_health_nurse", "nurse"}
	a, err := Assign(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "no practitioner: 2 not in service svc-a, 2 lack skill mental_health_nurse, 1 more than 60 min away, 1 not working before deadline, 1 fully booked before deadline"
	if a.Appointment != nil || a.UnassignedReason != want {
		t.Fatalf("got %+v / %q\nwant %q", a.Appointment, a.UnassignedReason, want)
	}
	if a.Considered != 7 || a.Qualified != 0 || a.Removed.LackSkill["mental_health_nurse"] != 2 {
		t.Fatalf("counts %+v", a)
	}
	a, err = Assign(context.Background(), baseRequest(loc, nil, nil))
	if err != nil || a.UnassignedReason != "no practitioner: none on the roster" {
		t.Fatalf("empty roster: %v %q", err, a.UnassignedReason)
	}
}

func TestAssignTieBreaksAreDeterministic(t *testing.T) {
	loc := londonLoc(t)
	same := at(3, 4)
	// Identical practitioners: the lower id wins, whatever the input order.
	ps := []Practitioner{prac("p-b", same), prac("p-c", same), prac("p-a", same)}
	var first []byte
	for i := 0; i < 6; i++ {
		perm := slices.Clone(ps)
		rand.New(rand.NewPCG(uint64(i), 1)).Shuffle(len(perm), func(x, y int) { perm[x], perm[y] = perm[y], perm[x] })
		a, err := Assign(context.Background(), baseRequest(loc, perm, nil))
		if err != nil {
			t.Fatal(err)
		}
		if a.Appointment.PractitionerID != "p-a" {
			t.Fatalf("chose %s, want p-a", a.Appointment.PractitionerID)
		}
		out, _ := json.Marshal(a)
		if first == nil {
			first = out
		} else if string(out) != string(first) {
			t.Fatalf("output differs with input order:\n%s\n%s", first, out)
		}
		if !strings.Contains(a.Why, "by practitioner id") {
			t.Fatalf("why %q does not name the id tie-break", a.Why)
		}
	}
	// Equal score but p-a's 10:00 slot is taken: the earlier slot (p-b at 10:00) wins.
	b, err := NewBookings(loc, 0, booking(t, loc, "p-a", monday(loc, 10, 0)))
	if err != nil {
		t.Fatal(err)
	}
	req := baseRequest(loc, []Practitioner{ps[2], ps[0]}, b)
	req.Weights = Weights{TravelPerMinute: 1}
	a, err := Assign(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Appointment.PractitionerID != "p-b" || !strings.Contains(a.Why, "earlier slot") {
		t.Fatalf("chose %s (%s), want p-b for the earlier slot", a.Appointment.PractitionerID, a.Why)
	}
}

func TestAssignScoring(t *testing.T) {
	loc := londonLoc(t)
	subject := at(0, 0)
	minutesAway := func(m float64) Point { // east offset giving m minutes of great-circle travel
		return at((m-DefaultOverheadMinutes)/60*DefaultSpeedKPH/DefaultDetourFactor, 0)
	}
	tests := []struct {
		name    string
		ps      []Practitioner
		last    string
		booked  []Visit
		want    string
		whyHas  string
		weights Weights
	}{
		{name: "nearest wins", ps: []Practitioner{prac("far", minutesAway(30)), prac("near", minutesAway(12))},
			want: "near", whyHas: "shorter travel (12.0 vs 30.0 min)"},
		{name: "continuity outweighs 10 extra minutes", ps: []Practitioner{prac("last", minutesAway(22)), prac("near", minutesAway(12))},
			last: "last", want: "last", whyHas: "continuity of care"},
		{name: "continuity does not outweigh 30 extra minutes", ps: []Practitioner{prac("last", minutesAway(42)), prac("near", minutesAway(12))},
			last: "last", want: "near", whyHas: "despite the other saw this person last time"},
		{name: "lighter caseload wins at equal travel", ps: []Practitioner{prac("busy", minutesAway(15)), prac("idle", minutesAway(15))},
			booked: booking(t, loc, "busy", monday(loc, 13, 0), monday(loc, 14, 0), monday(loc, 15, 0)),
			want:   "idle", whyHas: "lighter caseload that day (0/6 vs 3/6)"},
		{name: "caseload ignored with zero weight", ps: []Practitioner{prac("busy", minutesAway(14)), prac("idle", minutesAway(15))},
			booked:  booking(t, loc, "busy", monday(loc, 13, 0), monday(loc, 14, 0), monday(loc, 15, 0)),
			weights: Weights{TravelPerMinute: 1}, want: "busy", whyHas: "shorter travel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBookings(loc, 0, tc.booked)
			if err != nil {
				t.Fatal(err)
			}
			req := baseRequest(loc, tc.ps, b)
			req.Subject, req.LastPractitionerID, req.Weights = subject, tc.last, tc.weights
			a, err := Assign(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if a.Appointment == nil || a.Appointment.PractitionerID != tc.want {
				t.Fatalf("got %+v (%s), want %s", a.Appointment, a.UnassignedReason, tc.want)
			}
			if !strings.Contains(a.Why, tc.whyHas) {
				t.Fatalf("why %q lacks %q", a.Why, tc.whyHas)
			}
		})
	}
}

func TestAssignRejectsBadRequests(t *testing.T) {
	loc := londonLoc(t)
	tests := []struct {
		field string
		edit  func(*Request)
	}{
		{"travel", func(r *Request) { r.Travel = nil }},
		{"candidate_service_ids", func(r *Request) { r.CandidateServiceIDs = nil }},
		{"visit_duration", func(r *Request) { r.VisitDuration = 61 * time.Minute }},
		{"visit_duration", func(r *Request) { r.VisitDuration = 0 }},
		{"earliest", func(r *Request) { r.Earliest = time.Time{} }},
		{"respond_within", func(r *Request) { r.RespondWithin = 0 }},
		{"subject", func(r *Request) { r.Subject = Point{Lat: 91} }},
		{"max_travel_minutes", func(r *Request) { r.MaxTravelMinutes = -1 }},
		{"loc/slot_length", func(r *Request) { r.Loc = nil }},
		{"loc/slot_length", func(r *Request) { r.SlotLength = 7 * time.Minute }},
	}
	for _, tc := range tests {
		req := baseRequest(loc, []Practitioner{prac("p", at(0, 0))}, nil)
		tc.edit(&req)
		_, err := Assign(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), "field "+tc.field) || !strings.Contains(err.Error(), `case "case-1"`) {
			t.Errorf("%s: error %v does not name case and field", tc.field, err)
		}
	}
}

// TestAssignPropertyMatchesExhaustiveSearch checks Assign against an independent search: every
// practitioner, every slot of every day in the window, scored directly.
func TestAssignPropertyMatchesExhaustiveSearch(t *testing.T) {
	loc := londonLoc(t)
	rng := rand.New(rand.NewPCG(21, 22))
	assigned := 0
	const iters = 300
	for iter := 0; iter < iters; iter++ {
		var ps []Practitioner
		var visits []Visit
		for i := 0; i < 1+rng.IntN(6); i++ {
			p := prac(fmt.Sprintf("p%d", i), at(rng.Float64()*40-20, rng.Float64()*40-20), func(p *Practitioner) {
				p.MaxVisitsPerDay = 1 + rng.IntN(3)
				p.ServiceIDs = []string{[]string{"svc-a", "svc-b"}[rng.IntN(2)]}
				p.WorkingHours = []Shift{{time.Monday, 540 + 60*rng.IntN(3), 780}, {time.Tuesday, 600, 600 + 60*(1+rng.IntN(3))}}
			})
			ps = append(ps, p)
			for h := 9; h < 13; h++ {
				if rng.IntN(3) == 0 {
					visits = append(visits, booking(t, loc, p.ID, time.Date(2026, 3, 2+rng.IntN(2), h, 0, 0, 0, loc))...)
				}
			}
		}
		visits = slices.CompactFunc(visits, func(a, b Visit) bool { return a.PractitionerID == b.PractitionerID && a.Start.Equal(b.Start) })
		seen := map[string]bool{}
		visits = slices.DeleteFunc(visits, func(v Visit) bool {
			k := v.PractitionerID + v.Start.String()
			dup := seen[k]
			seen[k] = true
			return dup
		})
		b, err := NewBookings(loc, 0, visits)
		if err != nil {
			t.Fatal(err)
		}
		req := baseRequest(loc, ps, b)
		req.CandidateServiceIDs = []string{"svc-b", "svc-a"}[:1+rng.IntN(2)]
		req.Earliest = monday(loc, 8+rng.IntN(5), rng.IntN(60))
		req.RespondWithin = time.Duration(1+rng.IntN(40)) * time.Hour
		req.MaxTravelMinutes = 50
		if rng.IntN(2) == 0 {
			req.LastPractitionerID = ps[rng.IntN(len(ps))].ID
		}
		got, err := Assign(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		// Exhaustive: best (score, start, id) over every feasible (practitioner, slot).
		w := DefaultWeights()
		deadline := req.Earliest.Add(req.RespondWithin)
		var bestID string
		var bestStart time.Time
		bestCost := 0.0
		for _, p := range ps {
			if !slices.ContainsFunc(req.CandidateServiceIDs, func(s string) bool { return slices.Contains(p.ServiceIDs, s) }) {
				continue
			}
			tm := GreatCircle{}.Between(p.Base, req.Subject)
			if tm > req.MaxTravelMinutes {
				continue
			}
			for d := req.Earliest; !d.After(deadline.Add(24 * time.Hour)); d = d.AddDate(0, 0, 1) {
				slots, _ := p.Slots(d, loc, 0)
				for _, s := range slots {
					if s.Before(req.Earliest) || s.Add(req.VisitDuration).After(deadline) || b.Taken(p.ID, s) || b.CountOn(p.ID, s) >= p.MaxVisitsPerDay {
						continue
					}
					cost := tm + w.FullDay*float64(b.CountOn(p.ID, s))/float64(p.MaxVisitsPerDay)
					if p.ID == req.LastPractitionerID {
						cost -= w.Continuity
					}
					// Each practitioner offers only their earliest slot, as Assign does.
					if bestID == "" || cost < bestCost || cost == bestCost && (s.Before(bestStart) || s.Equal(bestStart) && p.ID < bestID) {
						bestID, bestStart, bestCost = p.ID, s, cost
					}
					goto nextPractitioner
				}
			}
		nextPractitioner:
		}
		switch {
		case bestID == "" && got.Appointment != nil:
			t.Fatalf("iter %d: assigned %+v, exhaustive search finds none", iter, got.Appointment)
		case bestID != "" && got.Appointment == nil:
			t.Fatalf("iter %d: unassigned (%s), exhaustive search finds %s at %s", iter, got.UnassignedReason, bestID, bestStart)
		case bestID != "" && (got.Appointment.PractitionerID != bestID || !got.Appointment.Start.Equal(bestStart)):
			t.Fatalf("iter %d: got %s at %s, want %s at %s", iter, got.Appointment.PractitionerID, got.Appointment.Start, bestID, bestStart)
		}
		if got.Appointment != nil {
			assigned++
		}
	}
	if assigned < iters/5 || assigned > iters*4/5 {
		t.Fatalf("generator is skewed: %d of %d assigned", assigned, iters)
	}
}

func TestAssignmentJSONRoundTrip(t *testing.T) {
	loc := londonLoc(t)
	a, err := Assign(context.Background(), baseRequest(loc, []Practitioner{prac("p1", at(1, 1)), prac("p2", at(5, 1))}, nil))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"practitioner_id":"p1"`, `"service_id":"svc-a"`, `"travel_minutes"`, `"unassigned_reason"`, `"why"`, `"start":"2026-03-02T10:00:00Z"`} {
		if key == `"unassigned_reason"` {
			if strings.Contains(string(data), key) {
				t.Errorf("assigned record carries %s", key)
			}
			continue
		}
		if !strings.Contains(string(data), key) {
			t.Errorf("%s missing from %s", key, data)
		}
	}
	var back Assignment
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(data) {
		t.Fatalf("round trip changed the record:\n%s\n%s", data, again)
	}
}
