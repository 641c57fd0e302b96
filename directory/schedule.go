package directory

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// allDays has one bit per time.Weekday.
const allDays = 1<<7 - 1

// Bounds on schedule numbers: beyond them a rule is a typo, and a counted rule must be walked
// from its start on every query.
const (
	maxInterval = 1000
	maxCount    = 10000
)

// dayCode is an RFC 5545 weekday code with the weekday it names.
type dayCode struct {
	code string
	day  time.Weekday
	rr   rrule.Weekday
}

// dayCodes lists the weekday codes from Monday, rrule-go's day 0.
func dayCodes() [7]dayCode {
	return [7]dayCode{
		{"MO", time.Monday, rrule.MO}, {"TU", time.Tuesday, rrule.TU}, {"WE", time.Wednesday, rrule.WE},
		{"TH", time.Thursday, rrule.TH}, {"FR", time.Friday, rrule.FR}, {"SA", time.Saturday, rrule.SA},
		{"SU", time.Sunday, rrule.SU},
	}
}

// weekdayCode reads an RFC 5545 weekday code.
func weekdayCode(code string) (time.Weekday, rrule.Weekday, bool) {
	for _, d := range dayCodes() {
		if d.code == code {
			return d.day, d.rr, true
		}
	}
	return 0, rrule.Weekday{}, false
}

// openings is one HSDS schedule compiled to answer when it is open. Each occurrence of the
// recurrence is a session from opens to closes on that date; closes <= opens means the session
// runs past midnight into the next day.
type openings struct {
	opens, closes int            // minutes after local midnight
	zone          *time.Location // fixed by an offset on opens_at/closes_at or by timezone; nil means the query's zone
	from, to      int            // yyyymmdd: valid_from or dtstart, valid_to or until; 0 when open-ended
	until         time.Time      // an until given as a date-time: no session starts after it
	days          uint8          // the plain weekly form: one bit per time.Weekday it opens on
	rule          *recurrence    // any other form, evaluated by rrule-go; nil for the plain weekly form
}

// recurrence is a schedule rule that is not plain weekly, kept as rrule-go options. DTSTART and
// UNTIL are set per query: a rule without COUNT is periodic, so its start can be moved forward by
// whole periods to just before the asked window and the library walks only that far.
type recurrence struct {
	opt     rrule.ROption
	anchor  int  // yyyymmdd of DTSTART: dtstart, else valid_from, else a fixed Monday
	counted bool // COUNT is given: occurrences are counted from the real DTSTART
	never   bool // no date meets every part of the rule
}

// fieldProblem is one bad field of a nested record, named relative to that record.
type fieldProblem struct {
	field, reason string
}

// parseSchedule compiles one HSDS schedule, reporting every bad field rather than the first.
//
// The recurrence is RFC 5545's, as HSDS says: freq (WEEKLY or MONTHLY), interval, count, until,
// dtstart, wkst, byday (with ordinals such as 2MO for MONTHLY), bymonthday, byweekno and
// byyearday, bounded by valid_from and valid_to (dates, inclusive). Times are local to the
// schedule's zone: the offset on opens_at/closes_at (09:00+01:00), else timezone (hours from UTC),
// else the council's zone the query gives. Without opens_at and closes_at a session lasts the whole
// day. Two choices fill gaps RFC 5545 leaves to DTSTART: a schedule with neither freq nor any rule
// part repeats weekly, and a weekly schedule without byday or dtstart opens every day.
func parseSchedule(s Schedule) (openings, []fieldProblem) {
	return compileSchedule(s, false)
}

// compileSchedule is parseSchedule; general forces the rrule-go form even for plain weekly
// schedules, so tests can hold the two forms to the same answers.
func compileSchedule(s Schedule, general bool) (openings, []fieldProblem) {
	o := openings{opens: 0, closes: 24 * 60}
	var problems []fieldProblem
	add := func(field, format string, args ...any) {
		problems = append(problems, fieldProblem{field, fmt.Sprintf(format, args...)})
	}

	var opt rrule.ROption
	freq := strings.ToUpper(strings.TrimSpace(s.Freq))
	switch freq {
	case "", "WEEKLY":
		opt.Freq = rrule.WEEKLY
	case "MONTHLY":
		opt.Freq = rrule.MONTHLY
	default:
		add("freq", "unsupported freq %q: want WEEKLY or MONTHLY", s.Freq)
	}
	interval := 1
	if s.Interval != nil {
		n, ok := wholeNumber(*s.Interval, 1, maxInterval)
		if !ok {
			add("interval", "%s is not a whole number from 1 to %d", formatNumber(*s.Interval), maxInterval)
		}
		interval = n
	}
	opt.Interval = interval
	counted := false
	if s.Count != nil {
		n, ok := wholeNumber(*s.Count, 1, maxCount)
		if !ok {
			add("count", "%s is not a whole number from 1 to %d (give until for longer rules)", formatNumber(*s.Count), maxCount)
		}
		opt.Count, counted = n, true
	}
	if w := strings.ToUpper(strings.TrimSpace(s.Wkst)); w != "" {
		_, rr, ok := weekdayCode(w)
		if !ok {
			add("wkst", "unknown day %q: want MO, TU, WE, TH, FR, SA or SU", s.Wkst)
		}
		opt.Wkst = rr
	}
	var days uint8
	ordinals := false
	if strings.TrimSpace(s.Byday) != "" {
		for tok := range strings.SplitSeq(s.Byday, ",") {
			tok = strings.ToUpper(strings.TrimSpace(tok))
			code := strings.TrimLeft(tok, "+-0123456789")
			d, rr, ok := weekdayCode(code)
			if !ok {
				add("byday", "unknown day %q: want MO, TU, WE, TH, FR, SA or SU, with an ordinal such as 2MO or -1FR when freq is MONTHLY", tok)
				continue
			}
			if prefix := tok[:len(tok)-len(code)]; prefix != "" {
				n, err := strconv.Atoi(prefix)
				if err != nil || n == 0 || n < -5 || n > 5 {
					add("byday", "%q: an ordinal is a whole number from -5 to 5 other than 0", tok)
					continue
				}
				if freq != "MONTHLY" {
					add("byday", "%q: ordinals need freq MONTHLY", tok)
					continue
				}
				rr = rr.Nth(n)
				ordinals = true
			}
			days |= 1 << d
			opt.Byweekday = append(opt.Byweekday, rr)
		}
	}
	var err error
	if opt.Bymonthday, err = ruleNumbers(s.Bymonthday, 31); err != nil {
		add("bymonthday", "%v", err)
	}
	if opt.Byweekno, err = ruleNumbers(s.Byweekno, 53); err != nil {
		add("byweekno", "%v", err)
	}
	if opt.Byyearday, err = ruleNumbers(s.Byyearday, 366); err != nil {
		add("byyearday", "%v", err)
	}

	opensSet, closesSet := s.OpensAt != "", s.ClosesAt != ""
	if opensSet != closesSet {
		missing := "closes_at"
		if !opensSet {
			missing = "opens_at"
		}
		add(missing, "missing: opens_at and closes_at come together")
	}
	clockOK := opensSet && closesSet
	var opensZone, closesZone *time.Location
	if opensSet {
		m, zone, err := parseClock(s.OpensAt, false)
		if err != nil {
			add("opens_at", "%v", err)
			clockOK = false
		}
		o.opens, opensZone = m, zone
	}
	if closesSet {
		m, zone, err := parseClock(s.ClosesAt, true)
		if err != nil {
			add("closes_at", "%v", err)
			clockOK = false
		}
		o.closes, closesZone = m, zone
	}
	if clockOK && o.opens == o.closes {
		add("closes_at", "closes_at %q equals opens_at: give 00:00 to 24:00 for all day", s.ClosesAt)
	}
	switch {
	case opensZone != nil && closesZone != nil:
		_, a := time.Date(2000, 1, 1, 0, 0, 0, 0, opensZone).Zone()
		_, b := time.Date(2000, 1, 1, 0, 0, 0, 0, closesZone).Zone()
		if a != b {
			add("closes_at", "closes_at %q is in another zone than opens_at %q", s.ClosesAt, s.OpensAt)
		}
		o.zone = opensZone
	case opensZone != nil:
		o.zone = opensZone
	case closesZone != nil:
		o.zone = closesZone
	case s.Timezone != nil:
		h := *s.Timezone
		if math.IsNaN(h) || h < -12 || h > 14 || math.Round(h*60) != h*60 {
			add("timezone", "%s is not an offset from UTC in hours between -12 and 14", formatNumber(h))
		} else {
			o.zone = time.FixedZone(fmt.Sprintf("UTC%+g", h), int(h*3600))
		}
	}

	validFrom, err := parseDate(s.ValidFrom)
	if err != nil {
		add("valid_from", "%v", err)
	}
	validTo, err := parseDate(s.ValidTo)
	if err != nil {
		add("valid_to", "%v", err)
	}
	if validFrom != 0 && validTo != 0 && validFrom > validTo {
		add("valid_to", "valid_to %s is before valid_from %s", s.ValidTo, s.ValidFrom)
	}
	dtstart, _, err := parseDateOrTime(s.DTStart)
	if err != nil {
		add("dtstart", "%v", err)
	}
	untilDate, untilTime, err := parseDateOrTime(s.Until)
	if err != nil {
		add("until", "%v", err)
	}
	o.from, o.to = max(validFrom, dtstart), validTo
	if untilDate != 0 && untilTime.IsZero() && (o.to == 0 || untilDate < o.to) {
		o.to = untilDate
	}
	o.until = untilTime

	byParts := len(opt.Byweekday) > 0 || len(opt.Bymonthday) > 0 || len(opt.Byweekno) > 0 || len(opt.Byyearday) > 0
	anchor := dtstart
	if anchor == 0 {
		anchor = validFrom
	}
	switch {
	case counted && dtstart == 0:
		add("count", "needs dtstart: occurrences are counted from it")
	case interval > 1 && anchor == 0:
		add("interval", "needs dtstart (or valid_from) to say which week or month the schedule starts in")
	case freq == "MONTHLY" && !byParts && anchor == 0:
		add("freq", "MONTHLY needs byday, bymonthday or dtstart to say which days")
	}
	if anchor == 0 {
		anchor = 20000103 // a Monday; any date serves a rule that repeats every period
	}
	// RFC 5545 takes the missing day of a rule from DTSTART; write it out, because DTSTART moves.
	if !byParts {
		switch {
		case opt.Freq == rrule.MONTHLY:
			opt.Bymonthday = []int{anchor % 100}
		case dtstart != 0:
			d := dateOf(dtstart, time.UTC).Weekday()
			days = 1 << d
			opt.Byweekday = []rrule.Weekday{dayCodes()[(int(d)+6)%7].rr}
		default:
			days = allDays
			for _, d := range dayCodes() {
				opt.Byweekday = append(opt.Byweekday, d.rr)
			}
		}
	}
	if len(problems) > 0 {
		return o, problems
	}

	plain := opt.Freq == rrule.WEEKLY && interval == 1 && !counted && !ordinals &&
		len(opt.Bymonthday) == 0 && len(opt.Byweekno) == 0 && len(opt.Byyearday) == 0
	if plain && !general {
		o.days = days
		return o, nil
	}
	o.rule = &recurrence{opt: opt, anchor: anchor, counted: counted}
	// Check the rule once. rrule-go refuses out-of-range parts; and it looks for a next occurrence
	// up to the year 9999, so a rule whose parts no date meets would be walked that far on every
	// query. Such rules exist (the specification's own example is one): they are valid HSDS and
	// never open. Every kind of year, by weekday of 1 January and leap or not, occurs in the 28
	// years up to 9999, so a rule that never occurs there never occurs at all.
	probe := opt
	probe.Count, probe.Interval = 0, 1
	probe.Dtstart = time.Date(rrule.MAXYEAR-27, 1, 1, 0, 0, 0, 0, time.UTC)
	rule, err := rrule.NewRRule(probe)
	if err != nil {
		return o, []fieldProblem{{ruleField(err), err.Error()}}
	}
	o.rule.never = rule.After(probe.Dtstart, true).IsZero()
	return o, nil
}

// ruleField names the field behind an rrule-go validation error, which begins with the RFC 5545
// part's name.
func ruleField(err error) string {
	for _, f := range []string{"bymonthday", "byweekno", "byyearday", "byday", "interval"} {
		if strings.HasPrefix(err.Error(), f) {
			return f
		}
	}
	return "freq"
}

// wholeNumber reads an HSDS number that must be a whole number in [lowest, highest].
func wholeNumber(v float64, lowest, highest int) (int, bool) {
	if math.IsNaN(v) || v != math.Trunc(v) || v < float64(lowest) || v > float64(highest) {
		return lowest, false
	}
	return int(v), true
}

// ruleNumbers reads a comma-separated list of rule numbers, each from 1 to limit or from -limit
// to -1 as RFC 5545 allows.
func ruleNumbers(v string, limit int) ([]int, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []int
	for tok := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(tok))
		if err != nil || n == 0 || n < -limit || n > limit {
			return nil, fmt.Errorf("%q is not a whole number from 1 to %d (or -%d to -1)", strings.TrimSpace(tok), limit, limit)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseClock reads "HH:MM" or "HH:MM:SS", optionally followed by a zone ("Z" or "+01:00"), into
// minutes after midnight and the zone (nil when none is given); seconds are dropped because no
// service opens on a second boundary. "24:00" is allowed only as a closing time.
func parseClock(v string, closing bool) (int, *time.Location, error) {
	clock, zone, err := splitZone(v)
	if err != nil {
		return 0, nil, err
	}
	parts := strings.Split(clock, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, nil, fmt.Errorf("time %q: want HH:MM, optionally with seconds and a zone such as +01:00", v)
	}
	var n [3]int
	for i, p := range parts {
		if len(p) != 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return 0, nil, fmt.Errorf("time %q: want HH:MM, optionally with seconds and a zone such as +01:00", v)
		}
		n[i] = int(p[0]-'0')*10 + int(p[1]-'0')
	}
	if closing && n[0] == 24 && n[1] == 0 && n[2] == 0 {
		return 24 * 60, zone, nil
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 59 {
		return 0, nil, fmt.Errorf("time %q: out of range", v)
	}
	return n[0]*60 + n[1], zone, nil
}

// splitZone separates a trailing RFC 3339 zone ("Z", "+01:00", "-05:30") from a clock time.
func splitZone(v string) (string, *time.Location, error) {
	if clock, ok := strings.CutSuffix(v, "Z"); ok {
		return clock, time.UTC, nil
	}
	i := strings.LastIndexAny(v, "+-")
	if i < 0 {
		return v, nil, nil
	}
	off := v[i+1:]
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	if len(off) != 5 || off[2] != ':' || !digit(off[0]) || !digit(off[1]) || !digit(off[3]) || !digit(off[4]) {
		return "", nil, fmt.Errorf("time %q: want a zone such as +01:00", v)
	}
	h := int(off[0]-'0')*10 + int(off[1]-'0')
	m := int(off[3]-'0')*10 + int(off[4]-'0')
	if h > 14 || m > 59 {
		return "", nil, fmt.Errorf("time %q: zone out of range", v)
	}
	secs := h*3600 + m*60
	if v[i] == '-' {
		secs = -secs
	}
	return v[:i], time.FixedZone(v[i:], secs), nil
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

// parseDateOrTime reads a date, or an RFC 3339 date-time whose instant is returned too.
func parseDateOrTime(v string) (int, time.Time, error) {
	if v == "" || len(v) == len(time.DateOnly) {
		d, err := parseDate(v)
		return d, time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%q: want a date YYYY-MM-DD or an RFC 3339 date-time", v)
	}
	return civil(t), t, nil
}

func civil(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// dateOf is midnight of the yyyymmdd date in loc.
func dateOf(c int, loc *time.Location) time.Time {
	return time.Date(c/10000, time.Month(c/100%100), c%100, 0, 0, 0, 0, loc)
}

// session is the occurrence's session: from opens on its date to closes, the next day when
// closes <= opens.
func (o *openings) session(y int, m time.Month, d int, loc *time.Location) (time.Time, time.Time) {
	start := time.Date(y, m, d, o.opens/60, o.opens%60, 0, 0, loc)
	closeDay := d
	if o.closes <= o.opens {
		closeDay++
	}
	return start, time.Date(y, m, closeDay, o.closes/60, o.closes%60, 0, 0, loc)
}

// inDates reports whether an occurrence on date c is within the schedule's dates.
func (o *openings) inDates(c int) bool {
	return (o.from == 0 || c >= o.from) && (o.to == 0 || c <= o.to)
}

// firstOpen returns the earliest instant in [from, to) at which the schedule is open. An empty
// window (to <= from) asks about the instant from alone.
func (o *openings) firstOpen(from, to time.Time, loc *time.Location) (time.Time, bool) {
	if !to.After(from) {
		to = from.Add(time.Nanosecond)
	}
	if o.zone != nil {
		loc = o.zone
	}
	if o.rule != nil {
		return o.rule.firstOpen(o, from, to, loc)
	}
	y, m, d := from.In(loc).Date()
	// Start a day early: yesterday's overnight session may still be running at from.
	first := time.Date(y, m, d-1, 0, 0, 0, 0, loc)
	if o.from != 0 {
		if vf := dateOf(o.from, loc); vf.After(first) {
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
		if c > lastDay || o.to != 0 && c > o.to {
			return time.Time{}, false
		}
		if o.days&(1<<day.Weekday()) == 0 {
			continue
		}
		start, end := o.session(fy, fm, fd+k, loc)
		if !o.until.IsZero() && start.After(o.until) {
			return time.Time{}, false
		}
		if start.Before(to) && end.After(from) {
			if start.Before(from) {
				return from, true
			}
			return start, true
		}
	}
	return time.Time{}, false
}

// firstOpen walks the rule's occurrences with rrule-go from just before the window.
func (r *recurrence) firstOpen(o *openings, from, to time.Time, loc *time.Location) (time.Time, bool) {
	if r.never {
		return time.Time{}, false
	}
	opt := r.opt
	anchor := dateOf(r.anchor, loc)
	if !r.counted {
		// A session lasts at most a day (and a clock change), so one starting two days before
		// from cannot still be open.
		anchor = r.advance(anchor, from.In(loc).AddDate(0, 0, -2))
	}
	ay, am, ad := anchor.Date()
	opt.Dtstart, _ = o.session(ay, am, ad, loc)
	opt.Until = to
	if !o.until.IsZero() && o.until.Before(opt.Until) {
		opt.Until = o.until
	}
	rule, err := rrule.NewRRule(opt)
	if err != nil {
		return time.Time{}, false // compileSchedule refused such rules
	}
	next := rule.Iterator()
	for {
		start, ok := next()
		if !ok || !start.Before(to) {
			return time.Time{}, false
		}
		y, m, d := start.Date()
		c := y*10000 + int(m)*100 + d
		if o.to != 0 && c > o.to {
			return time.Time{}, false
		}
		if !o.inDates(c) {
			continue
		}
		if _, end := o.session(y, m, d, loc); end.After(from) {
			if start.Before(from) {
				return from, true
			}
			return start, true
		}
	}
}

// advance moves the rule's start forward by whole periods (interval weeks from the start of the
// week, or interval months from the first of the month) to the last period start on or before
// near, leaving it where it is when near is earlier. Moving by whole periods keeps every
// occurrence from there on, because the rule's parts are written out.
func (r *recurrence) advance(anchor, near time.Time) time.Time {
	loc := anchor.Location()
	if r.opt.Freq == rrule.MONTHLY {
		ay, am, _ := anchor.Date()
		ny, nm, _ := near.Date()
		months := (ny*12 + int(nm)) - (ay*12 + int(am))
		if months < r.opt.Interval {
			return anchor
		}
		k := months / r.opt.Interval
		return time.Date(ay, am+time.Month(k*r.opt.Interval), 1, 0, 0, 0, 0, loc)
	}
	wkst := time.Weekday((r.opt.Wkst.Day() + 1) % 7)
	back := (int(anchor.Weekday()) - int(wkst) + 7) % 7
	ay, am, ad := anchor.Date()
	period := 7 * r.opt.Interval
	ny, nm, nd := near.Date()
	// Whole days between the dates, counted in UTC where every day has 24 hours.
	days := int(time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC).Sub(time.Date(ay, am, ad-back, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	if days < period {
		return anchor
	}
	return time.Date(ay, am, ad-back+days/period*period, 0, 0, 0, 0, loc)
}

// openSchedules compiles the service's schedules, dropping any that do not compile: Validate
// reports them, and a broken schedule must not make a service look open around the clock.
func openSchedules(s []Schedule) []openings {
	out := make([]openings, 0, len(s))
	for _, sc := range s {
		o, problems := parseSchedule(sc)
		if len(problems) == 0 {
			out = append(out, o)
		}
	}
	return out
}

// firstOpening is the earliest open instant in [from, to) across schedules; a service with no
// schedule records is always open.
func firstOpening(os []openings, hasSchedules bool, from, to time.Time, loc *time.Location) (time.Time, bool) {
	if !hasSchedules {
		return from, true
	}
	var best time.Time
	found := false
	for i := range os {
		if t, ok := os[i].firstOpen(from, to, loc); ok && (!found || t.Before(best)) {
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
