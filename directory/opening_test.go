package directory

import (
	"testing"
	"time"
)

func TestOpenSpans(t *testing.T) {
	ldn := london(t)
	at := func(day, hour, minute int) time.Time { return time.Date(2025, 3, day, hour, minute, 0, 0, ldn) }
	overnight := Schedule{ID: "n", Freq: "WEEKLY", Byday: "FR,SA", OpensAt: "22:00", ClosesAt: "06:00"}
	monthly := Schedule{ID: "m", Freq: "MONTHLY", Bymonthday: "4", OpensAt: "13:00", ClosesAt: "15:00"}
	for _, tc := range []struct {
		name      string
		schedules []Schedule
		from, to  time.Time
		want      []Span
		always    bool
	}{
		{"no schedules is always open", nil, at(3, 0, 0), at(4, 0, 0), nil, true},
		{"two weekdays", []Schedule{weekdays9to5()}, at(3, 0, 0), at(5, 0, 0),
			[]Span{{at(3, 9, 0), at(3, 17, 0)}, {at(4, 9, 0), at(4, 17, 0)}}, false},
		{"clipped to the window", []Schedule{weekdays9to5()}, at(3, 12, 0), at(3, 15, 0), []Span{{at(3, 12, 0), at(3, 15, 0)}}, false},
		{"weekend closed", []Schedule{weekdays9to5()}, at(8, 0, 0), at(10, 0, 0), nil, false},
		{"overnight sessions run into the next day", []Schedule{overnight}, at(7, 12, 0), at(9, 12, 0),
			[]Span{{at(7, 22, 0), at(8, 6, 0)}, {at(8, 22, 0), at(9, 6, 0)}}, false},
		{"starting inside an overnight session", []Schedule{overnight}, at(8, 3, 0), at(8, 12, 0), []Span{{at(8, 3, 0), at(8, 6, 0)}}, false},
		{"a monthly rule", []Schedule{monthly}, at(3, 0, 0), at(6, 0, 0), []Span{{at(4, 13, 0), at(4, 15, 0)}}, false},
		{"schedules merge", []Schedule{weekdays9to5(), {ID: "e", Byday: "MO", OpensAt: "17:00", ClosesAt: "20:00"}}, at(3, 0, 0), at(4, 0, 0),
			[]Span{{at(3, 9, 0), at(3, 20, 0)}}, false},
		{"broken schedules never open", []Schedule{{ID: "b", OpensAt: "9am", ClosesAt: "17:00"}}, at(3, 0, 0), at(4, 0, 0), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, always := Service{ID: "s", Schedules: tc.schedules}.OpenSpans(tc.from, tc.to, ldn)
			if always != tc.always || len(got) != len(tc.want) {
				t.Fatalf("got %v always=%v, want %v always=%v", got, always, tc.want, tc.always)
			}
			for i := range got {
				if !got[i].From.Equal(tc.want[i].From) || !got[i].To.Equal(tc.want[i].To) {
					t.Errorf("span %d: %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
