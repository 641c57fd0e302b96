package directory

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// allDays has one bit per time.Weekday.
const allDays = 1<<7 - 1

// weekdayCode reads an RFC 5545 BYDAY code.
func weekdayCode(code string) (time.Weekday, bool) {
	switch code {
	case "SU":
		return time.Sunday, true
	case "MO":
		return time.Monday, true
	case "TU":
		return time.Tuesday, true
	case "WE":
		return time.Wednesday, true
	case "TH":
		return time.Thursday, true
	case "FR":
		return time.Friday, true
	case "SA":
		return time.Saturday, true
	}
	return 0, false
}

// weekly is a parsed weekly schedule. Times are minutes after local midnight; closes <= opens
// means the session runs past midnight into the next day.
type weekly struct {
	days          uint8
	opens, closes int
	validFrom     int // yyyymmdd, 0 when unbounded
	validTo       int // yyyymmdd, 0 when unbounded
}

// fieldProblem is one bad field of a nested record, named relative to that record.
type fieldProblem struct {
	field, reason string
}

// parseSchedule reads one HSDS schedule, reporting every bad field rather than the first.
func parseSchedule(s Schedule) (weekly, []fieldProblem) {
	w := weekly{days: allDays, opens: 0, closes: 24 * 60}
	var problems []fieldProblem
	if f := strings.ToUpper(strings.TrimSpace(s.Freq)); f != "" && f != "WEEKLY" {
		problems = append(problems, fieldProblem{"freq", fmt.Sprintf("unsupported freq %q: only WEEKLY is modelled", s.Freq)})
	}
	if strings.TrimSpace(s.Byday) != "" {
		w.days = 0
		for tok := range strings.SplitSeq(s.Byday, ",") {
			d, ok := weekdayCode(strings.ToUpper(strings.TrimSpace(tok)))
			if !ok {
				problems = append(problems, fieldProblem{"byday", fmt.Sprintf("unknown day %q: want MO, TU, WE, TH, FR, SA or SU", tok)})
				continue
			}
			w.days |= 1 << d
		}
	}
	opensSet, closesSet := s.OpensAt != "", s.ClosesAt != ""
	if opensSet != closesSet {
		missing := "closes_at"
		if !opensSet {
			missing = "opens_at"
		}
		problems = append(problems, fieldProblem{missing, "missing: opens_at and closes_at come together"})
	}
	clockOK := opensSet && closesSet
	if opensSet {
		m, err := parseClock(s.OpensAt, false)
		if err != nil {
			problems = append(problems, fieldProblem{"opens_at", err.Error()})
			clockOK = false
		}
		w.opens = m
	}
	if closesSet {
		m, err := parseClock(s.ClosesAt, true)
		if err != nil {
			problems = append(problems, fieldProblem{"closes_at", err.Error()})
			clockOK = false
		}
		w.closes = m
	}
	if clockOK && w.opens == w.closes {
		problems = append(problems, fieldProblem{"closes_at", fmt.Sprintf("closes_at %q equals opens_at: give 00:00 to 24:00 for all day", s.ClosesAt)})
	}
	var err error
	if w.validFrom, err = parseDate(s.ValidFrom); err != nil {
		problems = append(problems, fieldProblem{"valid_from", err.Error()})
	}
	if w.validTo, err = parseDate(s.ValidTo); err != nil {
		problems = append(problems, fieldProblem{"valid_to", err.Error()})
	}
	if w.validFrom != 0 && w.validTo != 0 && w.validFrom > w.validTo {
		problems = append(problems, fieldProblem{"valid_to", fmt.Sprintf("valid_to %s is before valid_from %s", s.ValidTo, s.ValidFrom)})
	}
	return w, problems
}

// parseClock reads "HH:MM" or "HH:MM:SS" into minutes after midnight; seconds are dropped
// because no service opens on a second boundary. "24:00" is allowed only as a closing time.
func parseClock(v string, closing bool) (int, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("time %q: want HH:MM", v)
	}
	var n [3]int
	for i, p := range parts {
		if len(p) != 2 {
			return 0, fmt.Errorf("time %q: want HH:MM", v)
		}
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return 0, fmt.Errorf("time %q: want HH:MM", v)
		}
		n[i] = x
	}
	if closing && n[0] == 24 && n[1] == 0 && n[2] == 0 {
		return 24 * 60, nil
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 59 {
		return 0, fmt.Errorf("time %q: out of range", v)
	}
	return n[0]*60 + n[1], nil
}

// parseDate reads an HSDS date ("2006-01-02") as yyyymmdd; empty means unbounded.
func parseDate(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", v)
	}
	return civil(t), nil
}

func civil(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// firstOpen returns the earliest instant in [from, to) at which the schedule is open. An empty
// window (to <= from) asks about the instant from alone.
func (w weekly) firstOpen(from, to time.Time, loc *time.Location) (time.Time, bool) {
	if !to.After(from) {
		to = from.Add(time.Nanosecond)
	}
	y, m, d := from.In(loc).Date()
	// Start a day early: yesterday's overnight session may still be running at from.
	first := time.Date(y, m, d-1, 0, 0, 0, 0, loc)
	if w.validFrom != 0 {
		vf := time.Date(w.validFrom/10000, time.Month(w.validFrom/100%100), w.validFrom%100, 0, 0, 0, 0, loc)
		if vf.After(first) {
			first = vf
		}
	}
	lastDay := civil(to.In(loc))
	fy, fm, fd := first.Date()
	// Weekly repetition means nine consecutive days (yesterday, today and a week on) cover every
	// session that could be the first one in the window.
	for k := range 9 {
		day := time.Date(fy, fm, fd+k, 0, 0, 0, 0, loc)
		c := civil(day)
		if c > lastDay || w.validTo != 0 && c > w.validTo {
			return time.Time{}, false
		}
		if w.days&(1<<day.Weekday()) == 0 {
			continue
		}
		start := time.Date(fy, fm, fd+k, w.opens/60, w.opens%60, 0, 0, loc)
		closeDay := fd + k
		if w.closes <= w.opens {
			closeDay++
		}
		end := time.Date(fy, fm, closeDay, w.closes/60, w.closes%60, 0, 0, loc)
		if start.Before(to) && end.After(from) {
			if start.Before(from) {
				return from, true
			}
			return start, true
		}
	}
	return time.Time{}, false
}

// openSchedules parses the service's schedules, dropping any that do not parse: Validate reports
// them, and a broken schedule must not make a service look open around the clock.
func openSchedules(s []Schedule) []weekly {
	out := make([]weekly, 0, len(s))
	for _, sc := range s {
		w, problems := parseSchedule(sc)
		if len(problems) == 0 {
			out = append(out, w)
		}
	}
	return out
}

// firstOpening is the earliest open instant in [from, to) across schedules; a service with no
// schedule records is always open.
func firstOpening(ws []weekly, hasSchedules bool, from, to time.Time, loc *time.Location) (time.Time, bool) {
	if !hasSchedules {
		return from, true
	}
	var best time.Time
	found := false
	for _, w := range ws {
		if t, ok := w.firstOpen(from, to, loc); ok && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	return best, found
}

// OpenAt reports whether the service is open at t in loc (UTC when nil); a service without
// schedules is always open, and schedules that do not parse never open.
func (s Service) OpenAt(t time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	_, ok := firstOpening(openSchedules(s.Schedules), len(s.Schedules) > 0, t, t, loc)
	return ok
}

// OpensWithin reports whether the service is open at any instant in [from, to), the window in
// which an outcome must be responded to; an empty window asks about from alone.
func (s Service) OpensWithin(from, to time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	_, ok := firstOpening(openSchedules(s.Schedules), len(s.Schedules) > 0, from, to, loc)
	return ok
}
