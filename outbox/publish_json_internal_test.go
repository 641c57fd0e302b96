package outbox

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// TestDecisionDataMatchesEncodingJSON holds the hand-written decision.made data to json.Marshal's
// bytes, since subscribers verify signatures over them.
func TestDecisionDataMatchesEncodingJSON(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 9, 30, 0, 120000000, time.UTC)
	london, _ := time.LoadLocation("Europe/London")
	full := &triage.Decision{ID: "d-1", Form: "phq9", FormVersion: 3, SubjectRef: "nhs:<943>&\"x\"", Team: "central",
		Outcome: rules.Outcome{Pathway: "urgent", Priority: "p1", RespondWithin: "4h", Flags: []string{"risk", "\u2028"}},
		Rule:    "r1", RuleSet: triage.RuleSetRef{ID: "mh", Version: 2, SHA256: "abc"}, Authored: t0, Decided: t0.Add(time.Second),
		Services: []directory.Candidate{{ServiceID: "s1", ServiceName: "Talking \xff"}, {ServiceID: "s2"}},
		Assignment: &triage.Assignment{PractitionerID: "p1", PractitionerName: "Ann", ServiceID: "s1", TravelMinutes: 12.25,
			Appointment: triage.AppointmentSlot{ID: "a1", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}, Continuity: true, Why: "nearest"},
		UnassignedReason: "none", ManualAllocation: true}
	cases := map[string]*triage.Decision{
		"empty":          {},
		"full":           full,
		"no name":        {Assignment: &triage.Assignment{TravelMinutes: 1e-9}},
		"other zone":     {Decided: t0.In(london), Authored: t0},
		"year 10000":     {Decided: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"no services":    {Services: []directory.Candidate{}},
		"infinite trip":  {Assignment: &triage.Assignment{TravelMinutes: math.Inf(1)}},
		"negative zero":  {Assignment: &triage.Assignment{TravelMinutes: math.Copysign(0, -1)}},
		"zero time zone": {Decided: time.Time{}},
	}
	for name, d := range cases {
		data := NewDecisionData(d)
		want, wantErr := json.Marshal(data)
		got, err := encodeDecisionData(&data)
		if (err == nil) != (wantErr == nil) || string(got) != string(want) {
			t.Errorf("%s:\n got %s %v\nwant %s %v", name, got, err, want, wantErr)
		}
	}
}

// TestDecisionDataWriterKnowsEveryField fails when a field is added to the event's types, so that
// the hand writer is taught it before an event differs from json.Marshal's.
func TestDecisionDataWriterKnowsEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type]string{
		reflect.TypeFor[DecisionData]():           "Decision Form FormVersion SubjectRef Team Pathway Priority RespondWithin Flags Rule RuleSet Authored Decided Services Assignment UnassignedReason ManualAllocation",
		reflect.TypeFor[ServiceRef]():             "ID Name",
		reflect.TypeFor[triage.RuleSetRef]():      "ID Version SHA256",
		reflect.TypeFor[triage.Assignment]():      "PractitionerID PractitionerName ServiceID TravelMinutes Appointment Continuity Why",
		reflect.TypeFor[triage.AppointmentSlot](): "ID Start End",
	} {
		var names []string
		for i := range typ.NumField() {
			names = append(names, typ.Field(i).Name)
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%s has fields %q; the writer in publish_json.go knows %q", typ, got, want)
		}
	}
}
