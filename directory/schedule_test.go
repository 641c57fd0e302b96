package directory

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the machine's zoneinfo
)

func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func weekdays9to5() Schedule {
	return Schedule{ID: "wk", Freq: "WEEKLY", Byday: "MO,TU,WE,TH,FR", OpensAt: "09:00", ClosesAt: "17:00"}
}

func TestOpenAt(t *testing.T) {
	ldn := london(t)
	// 2025-03-03 is a Monday, in GMT; 2025-04-07 is a Monday in BST.
	at := func(day, hour, minute int) time.Time { return time.Date(2025, 3, day, hour, minute, 0, 0, ldn) }
	overnight := Schedule{ID: "n", Freq: "WEEKLY", Byday: "FR,SA", OpensAt: "22:00", ClosesAt: "06:00"}
	tests := []struct {
		name      string
		schedules []Schedule
		t         time.Time
		loc       *time.Location
		want      bool
	}{
		{"weekday at opening", []Schedule{weekdays9to5()}, at(3, 9, 0), ldn, true},
		{"weekday just before opening", []Schedule{weekdays9to5()}, at(3, 8, 59), ldn, false},
		{"weekday last minute", []Schedule{weekdays9to5()}, at(3, 16, 59), ldn, true},
		{"weekday at closing is closed", []Schedule{weekdays9to5()}, at(3, 17, 0), ldn, false},
		{"saturday closed", []Schedule{weekdays9to5()}, at(8, 12, 0), ldn, false},
		{"friday night session", []Schedule{overnight}, at(7, 23, 0), ldn, true},
		{"friday session runs into saturday", []Schedule{overnight}, at(8, 3, 0), ldn, true},
		{"saturday session runs into sunday", []Schedule{overnight}, at(9, 5, 59), ldn, true},
		{"sunday night not scheduled", []Schedule{overnight}, at(10, 3, 0), ldn, false},
		{"friday before the session", []Schedule{overnight}, at(7, 21, 59), ldn, false},
		{"thursday night not scheduled", []Schedule{overnight}, at(6, 23, 0), ldn, false},
		{"before valid_from", []Schedule{{ID: "v", Byday: "MO,WE", OpensAt: "09:00", ClosesAt: "17:00", ValidFrom: "2025-03-05"}}, at(3, 10, 0), ldn, false},
		{"on valid_from", []Schedule{{ID: "v", Byday: "MO,WE", OpensAt: "09:00", ClosesAt: "17:00", ValidFrom: "2025-03-05"}}, at(5, 10, 0), ldn, true},
		{"on valid_to", []Schedule{{ID: "v", Byday: "MO,WE", OpensAt: "09:00", ClosesAt: "17:00", ValidTo: "2025-03-03"}}, at(3, 10, 0), ldn, true},
		{"after valid_to", []Schedule{{ID: "v", Byday: "MO,WE", OpensAt: "09:00", ClosesAt: "17:00", ValidTo: "2025-03-04"}}, at(5, 10, 0), ldn, false},
		{"no schedules is always open", nil, at(9, 3, 0), ldn, true},
		{"only broken schedules is never open", []Schedule{{ID: "b", OpensAt: "9am", ClosesAt: "17:00"}}, at(3, 10, 0), ldn, false},
		{"all day without times", []Schedule{{ID: "a", Byday: "SA"}}, at(8, 0, 0), ldn, true},
		{"all day ends at midnight", []Schedule{{ID: "a", Byday: "SA"}}, at(9, 0, 0), ldn, false},
		{"closes at 24:00", []Schedule{{ID: "e", Byday: "SU", OpensAt: "20:00", ClosesAt: "24:00"}}, at(9, 23, 59), ldn, true},
		{"24:00 is exclusive", []Schedule{{ID: "e", Byday: "SU", OpensAt: "20:00", ClosesAt: "24:00"}}, at(10, 0, 0), ldn, false},
		{"any of several schedules", []Schedule{weekdays9to5(), {ID: "s", Byday: "SA", OpensAt: "10:00", ClosesAt: "12:00"}}, at(8, 11, 0), ldn, true},
		{"seconds accepted", []Schedule{{ID: "s", Byday: "MO", OpensAt: "09:00:00", ClosesAt: "10:00:00"}}, at(3, 9, 30), ldn, true},
		{"summer time read in London", []Schedule{weekdays9to5()}, time.Date(2025, 4, 7, 8, 30, 0, 0, time.UTC), ldn, true},
		{"summer time read in UTC", []Schedule{weekdays9to5()}, time.Date(2025, 4, 7, 8, 30, 0, 0, time.UTC), time.UTC, false},
		{"nil location is UTC", []Schedule{weekdays9to5()}, time.Date(2025, 4, 7, 8, 30, 0, 0, time.UTC), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Service{ID: "s", Schedules: tc.schedules}
			if got := s.OpenAt(tc.t, tc.loc); got != tc.want {
				t.Errorf("OpenAt(%s) = %v, want %v", tc.t, got, tc.want)
			}
		})
	}
}

func TestOpensWithin(t *testing.T) {
	ldn := london(t)
	sat10 := time.Date(2025, 3, 8, 10, 0, 0, 0, ldn)
	tests := []struct {
		name      string
		schedules []Schedule
		from      time.Time
		within    time.Duration
		want      bool
	}{
		{"weekend, four hours", []Schedule{weekdays9to5()}, sat10, 4 * time.Hour, false},
		{"weekend, reaches monday opening", []Schedule{weekdays9to5()}, sat10, 47*time.Hour + time.Minute, true},
		{"window ends exactly at opening", []Schedule{weekdays9to5()}, sat10, 47 * time.Hour, false},
		{"starts mid-session", []Schedule{weekdays9to5()}, time.Date(2025, 3, 3, 16, 0, 0, 0, ldn), time.Minute, true},
		{"empty window asks about the instant", []Schedule{weekdays9to5()}, time.Date(2025, 3, 3, 16, 0, 0, 0, ldn), 0, true},
		{"empty window when closed", []Schedule{weekdays9to5()}, sat10, 0, false},
		{"schedule expired before window", []Schedule{{ID: "x", Byday: "MO", OpensAt: "09:00", ClosesAt: "10:00", ValidTo: "2025-03-07"}}, sat10, 28 * 24 * time.Hour, false},
		{"schedule starts in 20 days", []Schedule{{ID: "x", Byday: "MO", OpensAt: "09:00", ClosesAt: "10:00", ValidFrom: "2025-03-28"}}, sat10, 28 * 24 * time.Hour, true},
		{"schedule starts after window", []Schedule{{ID: "x", Byday: "MO", OpensAt: "09:00", ClosesAt: "10:00", ValidFrom: "2025-04-28"}}, sat10, 28 * 24 * time.Hour, false},
		{"yesterday's overnight session", []Schedule{{ID: "n", Byday: "FR", OpensAt: "22:00", ClosesAt: "11:00"}}, sat10, time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Service{ID: "s", Schedules: tc.schedules}
			if got := s.OpensWithin(tc.from, tc.from.Add(tc.within), ldn); got != tc.want {
				t.Errorf("OpensWithin = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFirstOpeningMatchesMinuteScan is a property test: the first opening found by day arithmetic
// equals a brute-force scan of every minute of the window, across DST changes and validity dates.
func TestFirstOpeningMatchesMinuteScan(t *testing.T) {
	ldn := london(t)
	rng := rand.New(rand.NewPCG(7, 11))
	days := []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
	clock := func() string {
		h, m := rng.IntN(24), []int{0, 15, 30, 45}[rng.IntN(4)]
		return time.Date(2000, 1, 1, h, m, 0, 0, time.UTC).Format("15:04")
	}
	base := time.Date(2025, 3, 24, 0, 0, 0, 0, ldn) // the week BST starts
	for i := range 150 {
		var byday []string
		for _, d := range days {
			if rng.IntN(3) == 0 {
				byday = append(byday, d)
			}
		}
		sc := Schedule{ID: "r", Byday: strings.Join(byday, ","), OpensAt: clock(), ClosesAt: clock()}
		if rng.IntN(3) == 0 {
			sc.ValidFrom = base.AddDate(0, 0, rng.IntN(10)).Format(time.DateOnly)
		}
		if rng.IntN(3) == 0 {
			sc.ValidTo = base.AddDate(0, 0, 3+rng.IntN(10)).Format(time.DateOnly)
		}
		w, problems := parseSchedule(sc)
		if len(problems) > 0 {
			continue // equal open and close times
		}
		from := base.Add(time.Duration(rng.IntN(10*24*60)) * time.Minute)
		to := from.Add(time.Duration(rng.IntN(3*24*60)) * time.Minute)
		svc := Service{Schedules: []Schedule{sc}}
		var want time.Time
		found := false
		for m := from; m.Before(to); m = m.Add(time.Minute) {
			if svc.OpenAt(m, ldn) {
				want, found = m, true
				break
			}
		}
		got, ok := w.firstOpen(from, to, ldn)
		if to.After(from) && (ok != found || ok && !got.Equal(want)) {
			t.Fatalf("case %d %+v window %s..%s: got %v %v, minute scan %v %v", i, sc, from, to, got, ok, want, found)
		}
	}
}

func TestParseScheduleProblems(t *testing.T) {
	tests := []struct {
		name      string
		schedule  Schedule
		wantField string // "" means valid
	}{
		{"valid", weekdays9to5(), ""},
		{"monthly without a day", Schedule{Freq: "MONTHLY"}, "freq"},
		{"bad day", Schedule{Byday: "MO,XX"}, "byday"},
		{"bad opens_at", Schedule{OpensAt: "9", ClosesAt: "17:00"}, "opens_at"},
		{"hour out of range", Schedule{OpensAt: "25:00", ClosesAt: "17:00"}, "opens_at"},
		{"24:00 only closes", Schedule{OpensAt: "24:00", ClosesAt: "17:00"}, "opens_at"},
		{"bad closes_at", Schedule{OpensAt: "09:00", ClosesAt: "17:60"}, "closes_at"},
		{"closes without opens", Schedule{ClosesAt: "17:00"}, "opens_at"},
		{"opens without closes", Schedule{OpensAt: "09:00"}, "closes_at"},
		{"zero length", Schedule{OpensAt: "09:00", ClosesAt: "09:00"}, "closes_at"},
		{"bad valid_from", Schedule{ValidFrom: "01/02/2025"}, "valid_from"},
		{"valid_to before valid_from", Schedule{ValidFrom: "2025-02-01", ValidTo: "2025-01-01"}, "valid_to"},
		{"freq DAILY is not HSDS", Schedule{Freq: "DAILY"}, "freq"},
		{"interval 0", Schedule{Interval: num(0), DTStart: "2025-01-01"}, "interval"},
		{"interval not whole", Schedule{Interval: num(1.5), DTStart: "2025-01-01"}, "interval"},
		{"interval 2 without a start", Schedule{Interval: num(2), Byday: "MO"}, "interval"},
		{"count without dtstart", Schedule{Count: num(3), Byday: "MO"}, "count"},
		{"count too large", Schedule{Count: num(maxCount + 1), DTStart: "2025-01-01"}, "count"},
		{"ordinal on a weekly rule", Schedule{Freq: "WEEKLY", Byday: "2MO"}, "byday"},
		{"ordinal out of range", Schedule{Freq: "MONTHLY", Byday: "6MO"}, "byday"},
		{"bymonthday out of range", Schedule{Freq: "MONTHLY", Bymonthday: "32"}, "bymonthday"},
		{"byweekno not a number", Schedule{Byweekno: "ten"}, "byweekno"},
		{"byyearday zero", Schedule{Byyearday: "0"}, "byyearday"},
		{"unknown wkst", Schedule{Wkst: "XX"}, "wkst"},
		{"bad dtstart", Schedule{DTStart: "March"}, "dtstart"},
		{"bad until", Schedule{Until: "2025-13-01"}, "until"},
		{"zones differ", Schedule{OpensAt: "09:00+01:00", ClosesAt: "17:00+02:00"}, "closes_at"},
		{"malformed zone", Schedule{OpensAt: "09:00+1", ClosesAt: "17:00+1"}, "opens_at"},
		{"timezone out of range", Schedule{Timezone: num(20)}, "timezone"},
		{"valid: date-time until and zoned times", Schedule{Until: "2025-06-30T17:00:00+01:00", OpensAt: "09:00:00+01:00", ClosesAt: "17:00:00+01:00"}, ""},
		{"valid: the specification's example", Schedule{ValidFrom: "2005-01-01", ValidTo: "2005-01-01", DTStart: "2005-01-01", Timezone: num(3), Until: "2005-01-01",
			Count: num(3), Wkst: "TU", Freq: "WEEKLY", Interval: num(1), Byday: "TH,FR", Byweekno: "41,42", Bymonthday: "2,3,4", Byyearday: "2,3,4", OpensAt: "10:00:00", ClosesAt: "18:00:00"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := parseSchedule(tc.schedule)
			if tc.wantField == "" {
				if len(problems) > 0 {
					t.Fatalf("unexpected problems %v", problems)
				}
				return
			}
			if len(problems) == 0 || problems[0].field != tc.wantField {
				t.Fatalf("problems = %v, want one on %s", problems, tc.wantField)
			}
		})
	}
}
