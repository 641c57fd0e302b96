package directory

import (
	"sort"
	"time"
)

// Span is a stretch of time [From, To) in which a service is open.
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// maxSpans bounds how many sessions OpenSpans walks, so a pathological schedule cannot stall a
// decision; a fortnight of sessions every hour is far below it.
const maxSpans = 512

// OpenSpans lists when the service is open within [from, to) in loc (UTC when nil), merged and in
// order, clipped to the window. always is true for a service without schedules, which is open
// around the clock; schedules that do not parse never open. A visit for the service must lie
// inside one span: it starts after the service opens and ends before it closes.
func (s Service) OpenSpans(from, to time.Time, loc *time.Location) (spans []Span, always bool) {
	if len(s.Schedules) == 0 {
		return nil, true
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, o := range openSchedules(s.Schedules) {
		spans = append(spans, o.spans(from, to, loc)...)
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].From.Before(spans[j].From) })
	out := spans[:0]
	for _, sp := range spans {
		if n := len(out); n > 0 && !sp.From.After(out[n-1].To) {
			if sp.To.After(out[n-1].To) {
				out[n-1].To = sp.To
			}
			continue
		}
		out = append(out, sp)
	}
	return out, false
}

// spans walks the schedule's sessions overlapping [from, to): firstOpen finds the next open
// instant, and the session holding it (yesterday's overnight one or today's) says when it closes.
func (o *openings) spans(from, to time.Time, loc *time.Location) []Span {
	zone := loc
	if o.zone != nil {
		zone = o.zone
	}
	var out []Span
	for cursor := from; cursor.Before(to) && len(out) < maxSpans; {
		t, ok := o.firstOpen(cursor, to, loc)
		if !ok {
			break
		}
		y, m, d := t.In(zone).Date()
		end := time.Time{}
		for _, day := range []int{d - 1, d} {
			if s, e := o.session(y, m, day, zone); !t.Before(s) && t.Before(e) {
				end = e
				break
			}
		}
		if !end.After(t) {
			break // firstOpen and session disagree only on a clock change; stop rather than loop
		}
		if end.After(to) {
			end = to
		}
		out = append(out, Span{From: t, To: end})
		cursor = end
	}
	return out
}
