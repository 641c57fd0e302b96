package routing

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const goodRoster = `[
 {"id":"p1","name":"Ada","skills":["nurse","wound_care"],"service_ids":["svc-a"],
  "base":{"lat":52.63,"lon":-1.13},"max_visits_per_day":6,
  "working_hours":[{"day":"tue","start":"09:00","end":"17:00"},{"day":"mon","start":"13:00","end":"17:00"},{"day":"mon","start":"08:30","end":"12:00"}]},
 {"id":"p2","skills":[],"service_ids":["svc-b"],"base":{"lat":-33.9,"lon":151.2},"max_visits_per_day":1,
  "working_hours":[{"day":"sun","start":"00:00","end":"24:00"}]}
]`

func TestParsePractitioners(t *testing.T) {
	ps, err := ParsePractitioners([]byte(goodRoster))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].ID != "p1" || ps[0].Name != "Ada" || ps[1].MaxVisitsPerDay != 1 {
		t.Fatalf("parsed %+v", ps)
	}
	wantShifts := []Shift{{time.Monday, 510, 720}, {time.Monday, 780, 1020}, {time.Tuesday, 540, 1020}}
	for i, s := range ps[0].WorkingHours {
		if s != wantShifts[i] {
			t.Errorf("shift %d = %+v, want %+v (sorted by day then start)", i, s, wantShifts[i])
		}
	}
	if ps[1].WorkingHours[0] != (Shift{time.Sunday, 0, 1440}) {
		t.Errorf("all-day shift %+v", ps[1].WorkingHours[0])
	}
	// Round trip through the same shape.
	data, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParsePractitioners(data)
	if err != nil {
		t.Fatal(err)
	}
	data2, _ := json.Marshal(again)
	if string(data) != string(data2) {
		t.Fatalf("round trip changed:\n%s\n%s", data, data2)
	}
	var direct []Practitioner
	if err := json.Unmarshal(data, &direct); err != nil || direct[0].WorkingHours[0] != wantShifts[0] {
		t.Fatalf("json.Unmarshal: %v %+v", err, direct)
	}
}

func TestParsePractitionersListsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // each must appear as record / field / reason
	}{
		{"missing id", `[{"base":{"lat":1,"lon":1},"max_visits_per_day":1}]`, []string{"practitioner 0: field id: missing"}},
		{"blank id", `[{"id":"  ","base":{"lat":1,"lon":1},"max_visits_per_day":1}]`, []string{"practitioner 0: field id: missing"}},
		{"duplicate id", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1},{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1}]`,
			[]string{`practitioner 1 (id "a"): field id: duplicate of practitioner 0`}},
		{"bad day", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1,"working_hours":[{"day":"Monday","start":"09:00","end":"10:00"}]}]`,
			[]string{`practitioner 0 (id "a"): field working_hours[0].day: "Monday" is not one of mon`}},
		{"end before start", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1,"working_hours":[{"day":"mon","start":"17:00","end":"09:00"}]}]`,
			[]string{`field working_hours[0].end: 09:00 is not after start 17:00`}},
		{"bad clock", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1,"working_hours":[{"day":"mon","start":"9:00","end":"24:30"}]}]`,
			[]string{`field working_hours[0].start: "9:00" is not a time`, `field working_hours[0].end: "24:30" is not a time`}},
		{"overlap", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1,"working_hours":[{"day":"mon","start":"09:00","end":"12:00"},{"day":"mon","start":"11:00","end":"13:00"}]}]`,
			[]string{`field working_hours: mon 09:00-12:00 overlaps 11:00-13:00`}},
		{"bad coordinates", `[{"id":"a","base":{"lat":91,"lon":1},"max_visits_per_day":1}]`, []string{`field base: coordinates 91.000000,1.000000 out of range`}},
		{"missing base", `[{"id":"a","max_visits_per_day":1}]`, []string{`field base: missing`}},
		{"max visits < 1", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":0}]`, []string{`field max_visits_per_day: 0 is less than 1`}},
		{"max visits missing", `[{"id":"a","base":{"lat":1,"lon":1}}]`, []string{`field max_visits_per_day: missing`}},
		{"empty skill", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1,"skills":["nurse",""]}]`, []string{`field skills[1]: empty`}},
		{"wrong type", `[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":"six"}]`, []string{`practitioner 0: field (record): not a valid practitioner object`}},
		{"several records, several problems",
			`[{"id":"a","base":{"lat":1,"lon":200},"max_visits_per_day":-1},{"base":{"lat":1,"lon":1},"max_visits_per_day":2,"working_hours":[{"day":"xyz","start":"10:00","end":"10:00"}]}]`,
			[]string{`practitioner 0 (id "a"): field base`, `practitioner 0 (id "a"): field max_visits_per_day`, `practitioner 1: field id: missing`,
				`practitioner 1: field working_hours[0].day`, `practitioner 1: field working_hours[0].end: 10:00 is not after start 10:00`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePractitioners([]byte(tc.doc))
			var pe *PractitionersError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want *PractitionersError", err)
			}
			if len(pe.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", len(pe.Problems), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
		})
	}
	if _, err := ParsePractitioners([]byte(`{"id":"a"}`)); err == nil || !strings.Contains(err.Error(), "JSON array") {
		t.Errorf("object instead of array: %v", err)
	}
}

func FuzzParsePractitioners(f *testing.F) {
	f.Add([]byte(goodRoster))
	f.Add([]byte(`[{"id":"a","base":{"lat":1,"lon":1},"max_visits_per_day":1,"working_hours":[{"day":"mon","start":"23:59","end":"24:00"}]}]`))
	f.Add([]byte(`[{"id":"a"},{"id":"a"},null,7]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParsePractitioners(data)
		if err != nil {
			var pe *PractitionersError
			if errors.As(err, &pe) && len(pe.Problems) == 0 {
				t.Fatal("validation error without problems")
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range ps {
			if p.ID == "" || seen[p.ID] || p.MaxVisitsPerDay < 1 || !p.Base.Valid() {
				t.Fatalf("accepted invalid practitioner %+v", p)
			}
			seen[p.ID] = true
			for i, s := range p.WorkingHours {
				if s.StartMinute < 0 || s.EndMinute > 1440 || s.EndMinute <= s.StartMinute {
					t.Fatalf("accepted shift %+v", s)
				}
				if i > 0 && p.WorkingHours[i-1].Day == s.Day && p.WorkingHours[i-1].EndMinute > s.StartMinute {
					t.Fatalf("accepted overlapping shifts %+v", p.WorkingHours)
				}
			}
		}
		// Whatever parses must survive a round trip unchanged.
		data2, err := json.Marshal(ps)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParsePractitioners(data2)
		if err != nil {
			t.Fatalf("re-parse of own output: %v", err)
		}
		data3, _ := json.Marshal(again)
		if string(data2) != string(data3) {
			t.Fatalf("round trip changed output")
		}
	})
}
