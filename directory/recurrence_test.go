package directory

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
)

func num(v float64) *float64 { return &v }

// TestRecurrenceParts checks each RFC 5545 part HSDS carries changes when a service is open.
// 2025-03-03 is a Monday (GMT); 2025-03-30 is the day British Summer Time starts.
func TestRecurrenceParts(t *testing.T) {
	ldn := london(t)
	at := func(month, day, hour, minute int) time.Time {
		return time.Date(2025, time.Month(month), day, hour, minute, 0, 0, ldn)
	}
	fortnightly := Schedule{ID: "f", Freq: "WEEKLY", Interval: num(2), Byday: "MO", DTStart: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}
	tests := []struct {
		name     string
		schedule Schedule
		t        time.Time
		want     bool
	}{
		{"interval 2: the first week", fortnightly, at(3, 3, 10, 0), true},
		{"interval 2: not the second week", fortnightly, at(3, 10, 10, 0), false},
		{"interval 2: the third week", fortnightly, at(3, 17, 10, 0), true},
		{"interval 2: a year on, in phase", fortnightly, at(3, 3, 10, 0).AddDate(0, 0, 7*52), true},
		{"interval 2: a year on, out of phase", fortnightly, at(3, 3, 10, 0).AddDate(0, 0, 7*53), false},
		{"interval 2 with valid_from as the start", Schedule{ID: "v", Interval: num(2), Byday: "MO", ValidFrom: "2025-03-10", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 24, 10, 0), true},
		{"interval 2 with valid_from, off week", Schedule{ID: "v", Interval: num(2), Byday: "MO", ValidFrom: "2025-03-10", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 17, 10, 0), false},
		{"wkst MO: the Sunday ends dtstart's week", Schedule{ID: "w", Interval: num(2), Byday: "SU,MO", Wkst: "MO", DTStart: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 9, 10, 0), true},
		{"wkst SU: the Sunday starts the week off", Schedule{ID: "w", Interval: num(2), Byday: "SU,MO", Wkst: "SU", DTStart: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 9, 10, 0), false},
		{"wkst SU: open the Sunday a fortnight on", Schedule{ID: "w", Interval: num(2), Byday: "SU,MO", Wkst: "SU", DTStart: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 16, 10, 0), true},
		{"until: open on its last day", Schedule{ID: "u", Byday: "MO", Until: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 3, 10, 0), true},
		{"until: an ended schedule is closed", Schedule{ID: "u", Byday: "MO", Until: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 10, 10, 0), false},
		{"until as a date-time", Schedule{ID: "u", Byday: "MO", Until: "2025-03-10T08:00:00Z", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 10, 10, 0), false},
		{"count: the third session", Schedule{ID: "c", Byday: "MO", Count: num(3), DTStart: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 17, 10, 0), true},
		{"count: no fourth session", Schedule{ID: "c", Byday: "MO", Count: num(3), DTStart: "2025-03-03", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 24, 10, 0), false},
		{"dtstart: nothing before it", Schedule{ID: "d", Byday: "MO", DTStart: "2025-03-10", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 3, 10, 0), false},
		{"dtstart alone gives the weekday", Schedule{ID: "d", Freq: "WEEKLY", DTStart: "2025-03-05", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 12, 10, 0), true},
		{"dtstart alone: other days closed", Schedule{ID: "d", Freq: "WEEKLY", DTStart: "2025-03-05", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 13, 10, 0), false},
		{"byweekno: in week 10", Schedule{ID: "n", Byday: "MO", Byweekno: "10", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 3, 10, 0), true},
		{"byweekno: not week 11", Schedule{ID: "n", Byday: "MO", Byweekno: "10", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 10, 10, 0), false},
		{"bymonthday monthly", Schedule{ID: "m", Freq: "MONTHLY", Bymonthday: "3,17", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 17, 10, 0), true},
		{"bymonthday monthly, other day", Schedule{ID: "m", Freq: "MONTHLY", Bymonthday: "3,17", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 18, 10, 0), false},
		{"last day of the month", Schedule{ID: "m", Freq: "MONTHLY", Bymonthday: "-1", OpensAt: "09:00", ClosesAt: "17:00"}, at(2, 28, 10, 0), true},
		{"first Monday monthly", Schedule{ID: "o", Freq: "MONTHLY", Byday: "1MO", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 3, 10, 0), true},
		{"first Monday monthly, second Monday", Schedule{ID: "o", Freq: "MONTHLY", Byday: "1MO", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 10, 10, 0), false},
		{"last Friday every other month", Schedule{ID: "o", Freq: "MONTHLY", Interval: num(2), Byday: "-1FR", DTStart: "2025-01-01", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 28, 10, 0), true},
		{"last Friday every other month, off month", Schedule{ID: "o", Freq: "MONTHLY", Interval: num(2), Byday: "-1FR", DTStart: "2025-01-01", OpensAt: "09:00", ClosesAt: "17:00"}, at(4, 25, 10, 0), false},
		{"monthly from dtstart's day", Schedule{ID: "o", Freq: "MONTHLY", DTStart: "2025-01-17", OpensAt: "09:00", ClosesAt: "17:00"}, at(3, 17, 10, 0), true},
		{"zone on opens_at: 09:00+01:00 is 08:00 GMT", Schedule{ID: "z", Byday: "MO", OpensAt: "09:00+01:00", ClosesAt: "17:00+01:00"}, at(3, 3, 8, 30), true},
		{"zone on opens_at: not yet at 07:30 GMT", Schedule{ID: "z", Byday: "MO", OpensAt: "09:00+01:00", ClosesAt: "17:00+01:00"}, at(3, 3, 7, 30), false},
		{"zone Z", Schedule{ID: "z", Byday: "MO", OpensAt: "09:00:00Z", ClosesAt: "17:00:00Z"}, time.Date(2025, 4, 7, 9, 30, 0, 0, time.UTC), true},
		{"timezone in hours", Schedule{ID: "z", Byday: "MO", Timezone: num(-5), OpensAt: "09:00", ClosesAt: "17:00"}, time.Date(2025, 3, 3, 14, 30, 0, 0, time.UTC), true},
		{"timezone in hours, too early", Schedule{ID: "z", Byday: "MO", Timezone: num(-5), OpensAt: "09:00", ClosesAt: "17:00"}, time.Date(2025, 3, 3, 13, 30, 0, 0, time.UTC), false},
		{"overnight session of a monthly rule", Schedule{ID: "n", Freq: "MONTHLY", Bymonthday: "1", OpensAt: "22:00", ClosesAt: "06:00"}, at(3, 2, 5, 0), true},
		{"spring forward keeps local opening", Schedule{ID: "s", Freq: "MONTHLY", Bymonthday: "31", OpensAt: "09:00", ClosesAt: "17:00"}, time.Date(2025, 3, 31, 8, 0, 0, 0, time.UTC), true},
		{"a rule no date meets never opens", Schedule{ID: "x", Byday: "TH,FR", Byweekno: "41,42", Bymonthday: "2,3,4", Byyearday: "2,3,4"}, at(3, 6, 12, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, problems := parseSchedule(tc.schedule); len(problems) > 0 {
				t.Fatalf("problems: %v", problems)
			}
			s := Service{ID: "s", Schedules: []Schedule{tc.schedule}}
			if got := s.OpenAt(tc.t, ldn); got != tc.want {
				t.Errorf("OpenAt(%s) = %v, want %v", tc.t, got, tc.want)
			}
		})
	}
}

// TestPlainWeeklyMatchesRRule holds the day-mask form of plain weekly schedules, used because
// Match evaluates thousands of them per query, to rrule-go's answer for the same schedule.
func TestPlainWeeklyMatchesRRule(t *testing.T) {
	ldn := london(t)
	rng := rand.New(rand.NewPCG(5, 9))
	base := time.Date(2025, 3, 20, 0, 0, 0, 0, ldn) // BST starts on the 30th
	checked := 0
	for i := range 400 {
		sc := randomSchedule(rng, base, false)
		fast, problems := compileSchedule(sc, false)
		if len(problems) > 0 {
			continue
		}
		checked++
		general, _ := compileSchedule(sc, true)
		if fast.rule != nil || general.rule == nil {
			t.Fatalf("case %d %+v: want the plain form and the rrule form", i, sc)
		}
		from := base.Add(time.Duration(rng.IntN(20*24*60)) * time.Minute)
		to := from.Add(time.Duration(rng.IntN(3*24*60)) * time.Minute)
		a, okA := fast.firstOpen(from, to, ldn)
		b, okB := general.firstOpen(from, to, ldn)
		if okA != okB || okA && !a.Equal(b) {
			t.Fatalf("case %d %+v window %s..%s: day mask %v %v, rrule %v %v", i, sc, from, to, a, okA, b, okB)
		}
	}
	if checked < 300 {
		t.Fatalf("only %d schedules compiled; the generator is off", checked)
	}
}

// TestRecurrenceMatchesRRuleFromStart is a property test of the per-query shortcut (starting the
// rule a whole number of periods later, near the window): its answer equals walking every
// occurrence with rrule-go from the rule's real start.
func TestRecurrenceMatchesRRuleFromStart(t *testing.T) {
	ldn := london(t)
	rng := rand.New(rand.NewPCG(8, 13))
	base := time.Date(2025, 3, 20, 0, 0, 0, 0, ldn)
	checked := 0
	for i := range 600 {
		sc := randomSchedule(rng, base, true)
		o, problems := compileSchedule(sc, true)
		if len(problems) > 0 || o.rule.never {
			continue
		}
		checked++
		from := base.AddDate(0, rng.IntN(30), rng.IntN(60)).Add(time.Duration(rng.IntN(24*60)) * time.Minute)
		to := from.Add(time.Duration(rng.IntN(40*24*60)) * time.Minute)
		got, ok := o.firstOpen(from, to, ldn)
		want, wantOK := walkFromStart(t, &o, from, to, ldn)
		if ok != wantOK || ok && !got.Equal(want) {
			t.Fatalf("case %d %+v window %s..%s: got %v %v, walking from the start %v %v", i, sc, from, to, got, ok, want, wantOK)
		}
	}
	if checked < 200 {
		t.Fatalf("only %d schedules compiled; the generator is off", checked)
	}
}

// walkFromStart finds the first session overlapping [from, to) by enumerating every occurrence
// from the rule's own DTSTART.
func walkFromStart(t *testing.T, o *openings, from, to time.Time, loc *time.Location) (time.Time, bool) {
	t.Helper()
	opt := o.rule.opt
	a := dateOf(o.rule.anchor, loc)
	opt.Dtstart, _ = o.session(a.Year(), a.Month(), a.Day(), loc)
	rule, err := rrule.NewRRule(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range rule.Between(opt.Dtstart, to, true) {
		y, m, d := start.Date()
		if !o.inDates(y*10000+int(m)*100+d) || !o.until.IsZero() && start.After(o.until) || !start.Before(to) {
			continue
		}
		if _, end := o.session(y, m, d, loc); end.After(from) {
			return later(start, from), true
		}
	}
	return time.Time{}, false
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// randomSchedule draws a schedule; general adds the parts that need rrule-go.
func randomSchedule(rng *rand.Rand, base time.Time, general bool) Schedule {
	codes := []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
	clock := func() string {
		h, m := rng.IntN(24), []int{0, 15, 30, 45}[rng.IntN(4)]
		return fmt.Sprintf("%02d:%02d", h, m)
	}
	date := func(days int) string { return base.AddDate(0, 0, days).Format(time.DateOnly) }
	sc := Schedule{ID: "r", Freq: "WEEKLY"}
	var byday []string
	for _, d := range codes {
		if rng.IntN(3) == 0 {
			byday = append(byday, d)
		}
	}
	sc.Byday = strings.Join(byday, ",")
	if rng.IntN(4) > 0 {
		sc.OpensAt, sc.ClosesAt = clock(), clock()
	}
	if rng.IntN(3) == 0 {
		sc.ValidFrom = date(rng.IntN(20) - 10)
	}
	if rng.IntN(3) == 0 {
		sc.ValidTo = date(5 + rng.IntN(60))
	}
	if rng.IntN(4) == 0 {
		sc.DTStart = date(rng.IntN(40) - 30)
	}
	if rng.IntN(5) == 0 {
		sc.Until = date(rng.IntN(90))
	}
	if !general {
		return sc
	}
	if rng.IntN(3) == 0 {
		sc.Freq = "MONTHLY"
		if len(byday) > 0 && rng.IntN(2) == 0 {
			sc.Byday = fmt.Sprintf("%d%s", []int{1, 2, -1}[rng.IntN(3)], byday[0])
		}
	}
	if rng.IntN(2) == 0 {
		sc.Interval = num(float64(1 + rng.IntN(3)))
		if sc.DTStart == "" {
			sc.DTStart = date(-rng.IntN(400))
		}
	}
	// One calendar filter at a time: together they mostly describe dates years apart, which the
	// walk from the start takes long to reach.
	switch rng.IntN(6) {
	case 0, 1:
		sc.Bymonthday = fmt.Sprint(1 + rng.IntN(28))
	case 2:
		sc.Byweekno = fmt.Sprint(10 + rng.IntN(20))
	}
	if rng.IntN(4) == 0 {
		sc.Wkst = codes[rng.IntN(7)]
	}
	if rng.IntN(6) == 0 {
		if sc.DTStart == "" {
			sc.DTStart = date(-rng.IntN(60))
		}
		sc.Count = num(float64(1 + rng.IntN(20)))
	}
	if sc.Freq == "MONTHLY" && sc.Byday == "" && sc.Bymonthday == "" && sc.DTStart == "" {
		sc.Bymonthday = "15"
	}
	return sc
}

// FuzzParseSchedule checks that no schedule document panics the parser or the evaluation, that
// the day-mask form agrees with rrule-go wherever it applies, and that an opening found lies in
// the window.
func FuzzParseSchedule(f *testing.F) {
	f.Add([]byte(`{"freq":"WEEKLY","byday":"MO,TU","opens_at":"09:00","closes_at":"17:00"}`))
	f.Add([]byte(`{"freq":"WEEKLY","interval":2,"dtstart":"2025-03-03","byday":"MO","until":"2025-12-31","opens_at":"09:00+01:00","closes_at":"17:00+01:00"}`))
	f.Add([]byte(`{"freq":"MONTHLY","byday":"-1FR","count":5,"dtstart":"2025-01-01","wkst":"SU"}`))
	f.Add([]byte(`{"freq":"MONTHLY","bymonthday":"1,-1","byweekno":"10","byyearday":"60","timezone":5.5,"opens_at":"22:00","closes_at":"06:00"}`))
	f.Add([]byte(`{"valid_from":"2025-01-01","valid_to":"2024-01-01","opens_at":"24:00","closes_at":"09:00Z"}`))
	ldn := london(f)
	from := time.Date(2025, 3, 28, 20, 0, 0, 0, ldn)
	f.Fuzz(func(t *testing.T, doc []byte) {
		var sc Schedule
		if json.Unmarshal(doc, &sc) != nil {
			return
		}
		o, problems := parseSchedule(sc)
		if len(problems) > 0 {
			return
		}
		for _, within := range []time.Duration{0, time.Hour, 9 * 24 * time.Hour} {
			got, ok := o.firstOpen(from, from.Add(within), ldn)
			if ok && (got.Before(from) || within > 0 && !got.Before(from.Add(within))) {
				t.Fatalf("%s: opening %s outside the window of %s from %s", doc, got, within, from)
			}
			if o.rule == nil {
				general, gp := compileSchedule(sc, true)
				if len(gp) > 0 {
					t.Fatalf("%s: plain form compiles, rrule form does not: %v", doc, gp)
				}
				g, gok := general.firstOpen(from, from.Add(within), ldn)
				if gok != ok || ok && !g.Equal(got) {
					t.Fatalf("%s: day mask %v %v, rrule %v %v", doc, got, ok, g, gok)
				}
			}
		}
	})
}
