package directory

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// baseQuery asks for step 2 for a 30-year-old in central Leeds on Monday 3 March 2025 at 10:00.
func baseQuery(t testing.TB) Query {
	ldn := london(t)
	return Query{
		Pathway:         pathwayStep2,
		Priority:        "routine",
		RespondWithin:   4 * time.Hour,
		Age:             YearsOld(30),
		Postcode:        "LS1 5HD",
		Lat:             leedsLat,
		Lon:             leedsLon,
		At:              time.Date(2025, 3, 3, 10, 0, 0, 0, ldn),
		Loc:             ldn,
		Travel:          greatCircleMinutes,
		IncludeRejected: true,
	}
}

func mustIndex(t testing.TB, services []Service) *Index {
	t.Helper()
	ix, err := NewIndex(services)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestMatchReasons(t *testing.T) {
	nan := math.NaN()
	weekend := Schedule{ID: "we", Byday: "SA,SU", OpensAt: "10:00", ClosesAt: "16:00"}
	tests := []struct {
		name       string
		service    Service
		query      func(*Query)
		wantReason ReasonCode // "" means kept
		wantDetail string
	}{
		{name: "plain service kept", service: newService("s")},
		{name: "inactive", service: newService("s", withStatus(StatusInactive)), wantReason: ReasonInactive, wantDetail: "status is inactive"},
		{name: "defunct counts as inactive", service: newService("s", withStatus(StatusDefunct)), wantReason: ReasonInactive, wantDetail: "defunct"},
		{name: "temporarily closed", service: newService("s", withStatus(StatusTemporarilyClosed)), wantReason: ReasonClosed, wantDetail: "temporarily closed"},
		{name: "out of area", service: newService("s", withArea(boxExtent(-1.2, 53.7, -1.0, 53.9))), wantReason: ReasonOutOfArea, wantDetail: `"custom"`},
		{name: "in the area's hole", service: newService("s", withArea(`{"type":"Polygon","coordinates":[[[-1.8,53.7],[-1.3,53.7],[-1.3,53.95],[-1.8,53.95],[-1.8,53.7]],[[-1.6,53.75],[-1.5,53.75],[-1.5,53.85],[-1.6,53.85],[-1.6,53.75]]]}`)), wantReason: ReasonOutOfArea},
		{name: "inside the bounding box between multipolygon parts", service: newService("s", withArea(`{"type":"MultiPolygon","coordinates":[[[[-1.8,53.7],[-1.7,53.7],[-1.7,53.95],[-1.8,53.95],[-1.8,53.7]]],[[[-1.4,53.7],[-1.3,53.7],[-1.3,53.95],[-1.4,53.95],[-1.4,53.7]]]]}`)), wantReason: ReasonOutOfArea},
		{name: "second multipolygon part covers", service: newService("s", withArea(`{"type":"MultiPolygon","coordinates":[[[[-1.8,53.7],[-1.7,53.7],[-1.7,53.95],[-1.8,53.95],[-1.8,53.7]]],[[[-1.6,53.7],[-1.5,53.7],[-1.5,53.95],[-1.6,53.95],[-1.6,53.7]]]]}`))},
		{name: "no service area covers everywhere", service: newService("s", withoutArea())},
		{name: "too young", service: newService("s", withAges(40, nan)), wantReason: ReasonAge, wantDetail: "age 30 is outside 40 and over"},
		{name: "too old", service: newService("s", withAges(nan, 17)), wantReason: ReasonAge, wantDetail: "outside up to 17"},
		{name: "age at the limits", service: newService("s", withAges(30, 30))},
		{name: "unknown age keeps age-limited service", service: newService("s", withAges(40, 50)), query: func(q *Query) { q.Age = Age{} }},
		{name: "eligibility false on flags", service: newService("s", withEligibility("!('active-risk' in outcome.flags)")), query: func(q *Query) { q.Flags = []string{"carer", "active-risk"} }, wantReason: ReasonEligibility, wantDetail: "does not meet eligibility"},
		{name: "eligibility true on flags", service: newService("s", withEligibility("!('active-risk' in outcome.flags)")), query: func(q *Query) { q.Flags = []string{"carer"} }},
		{name: "eligibility on priority", service: newService("s", withEligibility("outcome.priority == 'urgent'")), wantReason: ReasonEligibility},
		{name: "eligibility on postcode and pathway", service: newService("s", withEligibility("subject.postcode.startsWith('LS') && outcome.pathway == '"+pathwayStep2+"'"))},
		{name: "eligibility needing an unknown age", service: newService("s", withEligibility("subject.age >= 18")), query: func(q *Query) { q.Age = Age{} }, wantReason: ReasonEligibility, wantDetail: "cannot evaluate"},
		{name: "eligibility guarding an unknown age", service: newService("s", withEligibility("!subject.age_known || subject.age >= 18")), query: func(q *Query) { q.Age = Age{} }},
		{name: "no capacity", service: newService("s", withCapacity(0)), wantReason: ReasonNoCapacity},
		{name: "one exhausted unit blocks", service: newService("s", withCapacity(5, 0)), wantReason: ReasonNoCapacity},
		{name: "capacity available", service: newService("s", withCapacity(1))},
		{name: "closed in the respond window", service: newService("s", withSchedule(weekend)), wantReason: ReasonClosed, wantDetail: "not open between 2025-03-03T10:00:00Z and 2025-03-03T14:00:00Z"},
		{name: "opens later in a longer window", service: newService("s", withSchedule(weekend)), query: func(q *Query) { q.RespondWithin = 7 * 24 * time.Hour }},
		{name: "first failing check wins", service: newService("s", withAges(40, nan), withCapacity(0), withSchedule(weekend)), wantReason: ReasonAge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			other := newService("other", withPathways("discharge-p1"), withStatus(StatusInactive))
			ix := mustIndex(t, []Service{tc.service, other})
			q := baseQuery(t)
			if tc.query != nil {
				tc.query(&q)
			}
			res := ix.Match(q)
			if tc.wantReason == "" {
				if len(res.Candidates) != 1 || res.Candidates[0].ServiceID != "s" || len(res.Rejected) != 0 {
					t.Fatalf("want s kept, got %+v", res)
				}
				if res.Reason != "" || len(res.Candidates[0].Reasons) == 0 {
					t.Errorf("kept candidate needs reasons and no failure reason: %+v", res)
				}
				return
			}
			if len(res.Candidates) != 0 || len(res.Rejected) != 1 {
				t.Fatalf("want s rejected, got %+v", res)
			}
			r := res.Rejected[0]
			if r.ServiceID != "s" || r.Reason != tc.wantReason || !strings.Contains(r.Detail, tc.wantDetail) {
				t.Errorf("rejection = %+v, want %s with detail containing %q", r, tc.wantReason, tc.wantDetail)
			}
			if res.RejectedCounts[tc.wantReason] != 1 || res.Reason == "" || !strings.Contains(res.Reason, string(tc.wantReason)) {
				t.Errorf("empty result must explain itself: %+v", res)
			}
		})
	}
}

func TestMatchRanking(t *testing.T) {
	near, far := [2]float64{53.80, -1.55}, [2]float64{53.90, -1.40}
	services := []Service{
		newService("far", withLocation("l-far", far[0], far[1]), withCapacity(50)),
		newService("near-b", withLocation("l-near", near[0], near[1]), withCapacity(2)),
		newService("near-a", withLocation("l-near", near[0], near[1]), withCapacity(2)),
		newService("near-more", withLocation("l-near", near[0], near[1]), withCapacity(9)),
		newService("near-unlimited", withLocation("l-near", near[0], near[1])),
		newService("nearest-of-two", withLocation("l-far", far[0], far[1]), withLocation("l-exact", leedsLat, leedsLon)),
		newService("visiting-team", withCapacity(100)),
	}
	tests := []struct {
		name   string
		travel func(float64, float64, float64, float64) float64
		want   []string
	}{
		{"travel then capacity then id", greatCircleMinutes,
			[]string{"nearest-of-two", "near-unlimited", "near-more", "near-a", "near-b", "far", "visiting-team"}},
		{"no travel model ranks by capacity then id", nil,
			[]string{"near-unlimited", "nearest-of-two", "visiting-team", "far", "near-more", "near-a", "near-b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := baseQuery(t)
			q.Travel = tc.travel
			res := mustIndex(t, services).Match(q)
			var got []string
			for _, c := range res.Candidates {
				got = append(got, c.ServiceID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("order = %v\nwant    %v", got, tc.want)
			}
		})
	}
	res := mustIndex(t, services).Match(baseQuery(t))
	if c := res.Candidates[0]; c.LocationID != "l-exact" || c.TravelMinutes == nil || *c.TravelMinutes != 0 {
		t.Errorf("nearest location not chosen: %+v", c)
	}
}

func TestMatchNoService(t *testing.T) {
	ix := mustIndex(t, []Service{newService("a")})
	q := baseQuery(t)
	q.Pathway = "crisis"
	res := ix.Match(q)
	if res.Candidates == nil || len(res.Candidates) != 0 || !strings.Contains(res.Reason, `delivers pathway "crisis"`) {
		t.Errorf("got %+v", res)
	}
	data, err := json.Marshal(res)
	if err != nil || !bytes.Contains(data, []byte(`"candidates":[]`)) {
		t.Errorf("empty candidates must serialise as []: %s %v", data, err)
	}
}

func TestMatchWithoutRejectedStillCounts(t *testing.T) {
	ix := mustIndex(t, []Service{newService("a", withCapacity(0)), newService("b", withStatus(StatusDefunct)), newService("c")})
	q := baseQuery(t)
	q.IncludeRejected = false
	res := ix.Match(q)
	want := map[ReasonCode]int{ReasonNoCapacity: 1, ReasonInactive: 1}
	if res.Rejected != nil || !reflect.DeepEqual(res.RejectedCounts, want) || len(res.Candidates) != 1 {
		t.Errorf("got %+v", res)
	}
}

// TestMatchGolden pins the stored decision-record shape of a result built from the testdata
// directory, and that matching twice gives the same bytes.
func TestMatchGolden(t *testing.T) {
	services, err := ParseHSDS(readTestdata(t, "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	ix := mustIndex(t, services)
	queries := []Query{baseQuery(t), baseQuery(t), baseQuery(t), baseQuery(t)}
	queries[1].Pathway, queries[1].Priority, queries[1].RespondWithin = "crisis-home-treatment", "emergency", 4*time.Hour
	queries[2].Flags = []string{"active-risk"}
	queries[2].Pathway = "talking-therapies-step3"
	queries[2].At = time.Date(2025, 3, 8, 12, 0, 0, 0, queries[2].Loc) // a Saturday
	queries[3].At = queries[2].At
	var results []Result
	for _, q := range queries {
		results = append(results, ix.Match(q))
	}
	got, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "match.golden.json", append(got, '\n'))
	again, _ := json.MarshalIndent([]Result{ix.Match(queries[0]), ix.Match(queries[1]), ix.Match(queries[2]), ix.Match(queries[3])}, "", "  ")
	if !bytes.Equal(again, got) {
		t.Errorf("Match is not deterministic")
	}
}

// TestMatchInvariants checks, over a generated directory and random queries, that every service
// delivering the pathway is either kept or rejected exactly once, that kept services satisfy
// every hard rule, and that candidates are ranked.
func TestMatchInvariants(t *testing.T) {
	services := generateServices(3000, 7)
	ix := mustIndex(t, services)
	byID := map[string]Service{}
	for _, s := range services {
		byID[s.ID] = s
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ldn := london(t)
	for i := range 40 {
		q := Query{
			Pathway:         generatedPathway(rng.IntN(12)),
			Priority:        []string{"emergency", "urgent", "routine"}[rng.IntN(3)],
			RespondWithin:   time.Duration(rng.IntN(96)) * time.Hour,
			Lat:             53.5 + rng.Float64()*0.5,
			Lon:             -2.2 + rng.Float64(),
			At:              time.Date(2025, 3, 3, 0, 0, 0, 0, ldn).Add(time.Duration(rng.IntN(7*24*60)) * time.Minute),
			Loc:             ldn,
			Travel:          greatCircleMinutes,
			IncludeRejected: true,
		}
		if rng.IntN(4) > 0 {
			q.Age = YearsOld(rng.IntN(100))
		}
		res := ix.Match(q)
		seen := map[string]bool{}
		for _, c := range res.Candidates {
			seen[c.ServiceID] = true
			s := byID[c.ServiceID]
			if s.Status != StatusActive || !slices.Contains(s.Pathways(), q.Pathway) {
				t.Fatalf("query %d: kept %s with status %q pathways %v", i, s.ID, s.Status, s.Pathways())
			}
			if q.Age.Known && (s.MinimumAge != nil && float64(q.Age.Years) < *s.MinimumAge || s.MaximumAge != nil && float64(q.Age.Years) > *s.MaximumAge) {
				t.Fatalf("query %d: kept %s outside its age range", i, s.ID)
			}
			if !s.OpensWithin(q.At, q.At.Add(q.RespondWithin), ldn) {
				t.Fatalf("query %d: kept %s closed in the window", i, s.ID)
			}
			for _, capacity := range s.Capacities {
				if capacity.Available <= 0 {
					t.Fatalf("query %d: kept %s without capacity", i, s.ID)
				}
			}
		}
		for _, r := range res.Rejected {
			if seen[r.ServiceID] {
				t.Fatalf("query %d: %s both kept and rejected", i, r.ServiceID)
			}
			seen[r.ServiceID] = true
		}
		delivering := 0
		for _, s := range services {
			if slices.Contains(s.Pathways(), q.Pathway) {
				delivering++
			}
		}
		if len(seen) != delivering {
			t.Fatalf("query %d: %d services accounted for, %d deliver the pathway", i, len(seen), delivering)
		}
		for j := 1; j < len(res.Candidates); j++ {
			a, b := res.Candidates[j-1], res.Candidates[j]
			if a.TravelMinutes != nil && b.TravelMinutes != nil && *a.TravelMinutes > *b.TravelMinutes {
				t.Fatalf("query %d: candidates not ranked by travel", i)
			}
		}
	}
}

func TestReasonIndexFollowsOrder(t *testing.T) {
	for i, code := range reasonOrder() {
		if reasonIndex(code) != i {
			t.Errorf("reasonIndex(%s) = %d, want %d", code, reasonIndex(code), i)
		}
	}
}

// TestMatchConcurrent shares one index between goroutines, as the HTTP server will; run it
// under -race.
func TestMatchConcurrent(t *testing.T) {
	services, err := ParseHSDS(readTestdata(t, "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	ix := mustIndex(t, services)
	q := baseQuery(t)
	want, _ := json.Marshal(ix.Match(q))
	done := make(chan []byte)
	for range 4 {
		go func() {
			got, _ := json.Marshal(ix.Match(q))
			done <- got
		}()
	}
	for range 4 {
		if got := <-done; !bytes.Equal(got, want) {
			t.Errorf("concurrent Match differs")
		}
	}
}
