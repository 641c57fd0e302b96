package routing

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPractitionerSlots(t *testing.T) {
	loc := londonLoc(t)
	p := prac("p", at(0, 0), func(p *Practitioner) {
		p.WorkingHours = []Shift{{time.Monday, 8*60 + 30, 12 * 60}, {time.Monday, 13 * 60, 15*60 + 59}, {time.Sunday, 0, 4 * 60}}
	})
	tests := []struct {
		name string
		date time.Time
		slot time.Duration
		want []string
	}{
		{"partial hours cut to whole slots", monday(loc, 23, 0), 0, []string{"09:00", "10:00", "11:00", "13:00", "14:00"}},
		{"half-hour grid", monday(loc, 1, 0), 30 * time.Minute, []string{"08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "13:00", "13:30", "14:00", "14:30", "15:00"}},
		{"not working", time.Date(2026, 3, 3, 12, 0, 0, 0, loc), 0, nil},
		// 29 March 2026: clocks go forward at 01:00, so 01:00 local does not exist.
		{"spring-forward gap", time.Date(2026, 3, 29, 12, 0, 0, 0, loc), 0, []string{"00:00", "02:00", "03:00"}},
	}
	for _, tc := range tests {
		slots, err := p.Slots(tc.date, loc, tc.slot)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range slots {
			got = append(got, s.In(loc).Format("15:04"))
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []time.Duration{7 * time.Minute, 90 * time.Minute, 30 * time.Second} {
		if _, err := p.Slots(monday(loc, 9, 0), loc, bad); err == nil {
			t.Errorf("slot length %s accepted", bad)
		}
	}
}

func TestBookingsRefuseDoubleBooking(t *testing.T) {
	loc := londonLoc(t)
	v := Visit{ID: "v1", PractitionerID: "p", Start: monday(loc, 10, 0), End: monday(loc, 10, 45)}
	b, err := NewBookings(loc, 0, []Visit{v})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		v    Visit
		want string
		is   error
	}{
		{"same slot", Visit{ID: "v2", PractitionerID: "p", Start: monday(loc, 10, 0), End: monday(loc, 10, 30)}, `already has visit "v1"`, ErrSlotTaken},
		{"off grid", Visit{ID: "v3", PractitionerID: "p", Start: monday(loc, 10, 15), End: monday(loc, 10, 45)}, "field start: 2026-03-02T10:15:00Z is not on the 60-minute slot grid", nil},
		{"longer than a slot", Visit{ID: "v4", PractitionerID: "p", Start: monday(loc, 11, 0), End: monday(loc, 12, 30)}, "field end", nil},
		{"no practitioner", Visit{ID: "v5", Start: monday(loc, 11, 0), End: monday(loc, 11, 30)}, "field practitioner_id: missing", nil},
	}
	for _, tc := range tests {
		err := b.Add(tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.v.ID) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v is not %v", tc.name, err, tc.is)
		}
	}
	if err := b.Add(Visit{ID: "v6", PractitionerID: "q", Start: monday(loc, 10, 0), End: monday(loc, 11, 0)}); err != nil {
		t.Errorf("another practitioner's slot: %v", err)
	}
	if b.CountOn("p", monday(loc, 23, 59)) != 1 || b.CountOn("p", monday(loc, 0, 0).AddDate(0, 0, 1)) != 0 || !b.Taken("p", monday(loc, 10, 0)) {
		t.Error("counts or taken slots wrong")
	}
}
