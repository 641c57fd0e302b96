package triage

import (
	"testing"
	"time"

	"github.com/carepath/carepath/routing"
)

func TestTeamCaseState(t *testing.T) {
	decided := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	respondBy := decided.Add(7 * 24 * time.Hour)
	appt := func(status string, start time.Time) CaseAppointment {
		return CaseAppointment{ID: "a", Status: status, Start: start}
	}
	for _, tc := range []struct {
		name                                          string
		manual                                        bool
		appts                                         []CaseAppointment
		now                                           time.Time
		overdue, dueSoon, unbooked, cancelled, booked bool
	}{
		{name: "unbooked, early", now: decided, unbooked: true},
		{name: "unbooked, due soon", now: respondBy.Add(-time.Hour), unbooked: true, dueSoon: true},
		{name: "unbooked, overdue", now: respondBy, unbooked: true, overdue: true},
		{name: "manual, overdue", manual: true, now: respondBy.Add(time.Hour), overdue: true},
		{name: "booked in time, after respond-by", appts: []CaseAppointment{appt(routing.StatusBooked, respondBy.Add(-time.Hour))}, now: respondBy.Add(time.Hour), booked: true},
		{name: "booked late", appts: []CaseAppointment{appt(routing.StatusBooked, respondBy.Add(time.Hour))}, now: respondBy.Add(-time.Hour), booked: true, dueSoon: true},
		{name: "cancelled", appts: []CaseAppointment{appt(routing.StatusCancelled, decided)}, now: decided, cancelled: true},
		{name: "cancelled then rebooked", appts: []CaseAppointment{appt(routing.StatusCancelled, decided), appt(routing.StatusBooked, decided)}, now: decided, booked: true},
	} {
		d := &Decision{ID: "d", Decided: decided, ManualAllocation: tc.manual}
		d.Outcome.RespondWithin = "P7D"
		st := TeamCase{Decision: d, Appointments: tc.appts}.State(tc.now, 24*time.Hour)
		if st.Overdue != tc.overdue || st.DueSoon != tc.dueSoon || st.Unbooked != tc.unbooked || st.Cancelled != tc.cancelled || (st.Booked != nil) != tc.booked || !st.RespondBy.Equal(respondBy) {
			t.Errorf("%s: %+v", tc.name, st)
		}
	}
	d := &Decision{ID: "d", Decided: decided}
	if st := (TeamCase{Decision: d}).State(decided.AddDate(1, 0, 0), time.Hour); !st.RespondBy.IsZero() || st.Overdue || st.DueSoon {
		t.Errorf("without respond_within: %+v", st)
	}
}
