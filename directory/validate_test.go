package directory

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	nan := math.NaN()
	known := func(id string) bool { return id == pathwayStep2 || id == "crisis" }
	type want struct{ record, field, reason string }
	tests := []struct {
		name     string
		services []Service
		want     []want
	}{
		{name: "valid", services: []Service{newService("a"), newService("b", withAges(16, 65), withEligibility("subject.age >= 16"))}},
		{name: "missing id named by index", services: []Service{newService("a"), newService("")},
			want: []want{{"[1]", "id", "missing"}}},
		{name: "duplicate id", services: []Service{newService("a"), newService("b"), newService("a")},
			want: []want{{`"a"`, "id", "duplicate: also used by service [0]"}}},
		{name: "missing name and status", services: []Service{func() Service { s := newService("a"); s.Name, s.Status = "", ""; return s }()},
			want: []want{{`"a"`, "name", "missing"}, {`"a"`, "status", "missing"}}},
		{name: "unknown status", services: []Service{newService("a", withStatus("closed"))},
			want: []want{{`"a"`, "status", `unknown status "closed"`}}},
		{name: "polygon not closed", services: []Service{newService("a", withArea(`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`))},
			want: []want{{`"a"`, "service_areas[0].extent", "not closed"}}},
		{name: "polygon too few points", services: []Service{newService("a", withArea(`{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`))},
			want: []want{{`"a"`, "service_areas[0].extent", "need at least 4"}}},
		{name: "coordinates out of range", services: []Service{newService("a", withArea(boxExtent(-1, 53, 200, 54)))},
			want: []want{{`"a"`, "service_areas[0].extent", "out of range"}}},
		{name: "unparsable geojson", services: []Service{newService("a", withArea(`{"type":`))},
			want: []want{{`"a"`, "service_areas[0].extent", "unparsable GeoJSON"}}},
		{name: "unsupported extent_type", services: []Service{func() Service {
			s := newService("a")
			s.ServiceAreas[0].ExtentType = "kml"
			return s
		}()}, want: []want{{`"a"`, "service_areas[0].extent_type", `unsupported extent_type "kml"`}}},
		{name: "unknown pathway", services: []Service{newService("a", withPathways(pathwayStep2, "step9"))},
			want: []want{{`"a"`, "attributes[1].taxonomy_term.code", `unknown pathway "step9"`}}},
		{name: "pathway term without code", services: []Service{newService("a", withPathways(""))},
			want: []want{{`"a"`, "attributes[0].taxonomy_term.code", "missing"}}},
		{name: "bad schedule times", services: []Service{newService("a", withSchedule(Schedule{ID: "s", OpensAt: "9am", ClosesAt: "25:00"}))},
			want: []want{{`"a"`, "schedules[0].opens_at", "want HH:MM"}, {`"a"`, "schedules[0].closes_at", "out of range"}}},
		{name: "min age above max age", services: []Service{newService("a", withAges(65, 18))},
			want: []want{{`"a"`, "minimum_age", "greater than maximum_age"}}},
		{name: "negative age", services: []Service{newService("a", withAges(-1, nan))},
			want: []want{{`"a"`, "minimum_age", "negative"}}},
		{name: "eligibility syntax error", services: []Service{newService("a", withEligibility("subject.age >="))},
			want: []want{{`"a"`, "carepath_eligibility", "does not compile"}}},
		{name: "eligibility unknown variable", services: []Service{newService("a", withEligibility("subject.weight > 3"))},
			want: []want{{`"a"`, "carepath_eligibility", "undeclared reference"}}},
		{name: "eligibility type error", services: []Service{newService("a", withEligibility("subject.age == 'old'"))},
			want: []want{{`"a"`, "carepath_eligibility", "does not compile"}}},
		{name: "eligibility not boolean", services: []Service{newService("a", withEligibility("subject.age + 1"))},
			want: []want{{`"a"`, "carepath_eligibility", "want bool"}}},
		{name: "location out of range", services: []Service{newService("a", withLocation("l", 91, 0))},
			want: []want{{`"a"`, "service_at_locations[0].location.latitude", "out of range"}}},
		{name: "negative capacity", services: []Service{newService("a", withCapacity(-2))},
			want: []want{{`"a"`, "capacities[0].available", "negative"}}},
		{name: "last_modified not a date-time", services: []Service{func() Service { s := newService("a"); s.LastModified = "yesterday"; return s }()},
			want: []want{{`"a"`, "last_modified", "RFC 3339"}}},
		{name: "two services under one code", services: []Service{
			func() Service { s := newService(RecordUUID("x")); s.Code = "x"; return s }(),
			func() Service { s := newService(RecordUUID("y")); s.Code = "x"; return s }(),
		}, want: []want{{`"x"`, "attributes", `duplicate service code "x"`}}},
		{name: "a second eligibility attribute", services: []Service{func() Service {
			s := newService("a")
			s.Attributes = append(s.Attributes, eligibilityAttribute("a", "a", "true"))
			return s
		}()}, want: []want{{`"a"`, "attributes[1].taxonomy_term.taxonomy", "a second carepath-eligibility attribute"}}},
		{name: "zoned schedule with a fortnightly rule", services: []Service{newService("a", withSchedule(Schedule{ID: "s", Interval: num(2), Byday: "MO", OpensAt: "09:00+01:00", ClosesAt: "17:00+01:00"}))},
			want: []want{{`"a"`, "schedules[0].interval", "needs dtstart"}}},
		{name: "every problem listed across services", services: []Service{
			newService("a", withAges(9, 3)),
			newService("", withEligibility("nope(")),
			newService("a"),
		}, want: []want{
			{`"a"`, "minimum_age", "greater"},
			{"[1]", "id", "missing"},
			{"[1]", "carepath_eligibility", "does not compile"},
			{`"a"`, "id", "duplicate"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.services, known)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(tc.want), err)
			}
			for i, w := range tc.want {
				p := ve.Problems[i]
				if p.Record != w.record || p.Field != w.field || !strings.Contains(p.Reason, w.reason) {
					t.Errorf("problem %d = %+v, want record %s field %s reason containing %q", i, p, w.record, w.field, w.reason)
				}
			}
			if !strings.Contains(err.Error(), tc.want[0].field) {
				t.Errorf("error text does not name the field: %v", err)
			}
		})
	}
}

func TestValidateNilPathwayCheck(t *testing.T) {
	if err := Validate([]Service{newService("a", withPathways("anything"))}, nil); err != nil {
		t.Errorf("nil knownPathway should skip the check: %v", err)
	}
}

func TestNewIndexRejectsInvalid(t *testing.T) {
	_, err := NewIndex([]Service{newService("good"), newService("bad", withEligibility("subject.age >"))})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Record != `"bad"` {
		t.Fatalf("NewIndex error = %v, want one problem naming service \"bad\"", err)
	}
	if !strings.HasPrefix(err.Error(), "directory: unable to build index") {
		t.Errorf("error lacks context: %v", err)
	}
}
