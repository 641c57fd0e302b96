package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Practitioner is someone who visits people at home, with the skills and services that decide
// which cases they may take and the hours in which they can be booked.
type Practitioner struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Skills          []string `json:"skills"`
	ServiceIDs      []string `json:"service_ids"`
	Base            Point    `json:"base"`
	MaxVisitsPerDay int      `json:"max_visits_per_day"`
	// WorkingHours is sorted by day (Sunday first, as time.Weekday) then start.
	WorkingHours []Shift `json:"working_hours"`
	// Breaks are weekly blocks inside working hours when no visit takes place, sorted as
	// WorkingHours; travel may still happen in them.
	Breaks []Shift `json:"breaks,omitempty"`
	// StartPoint and EndPoint, when set, are where the day's route begins and ends instead of Base.
	StartPoint *Point `json:"start_point,omitempty"`
	EndPoint   *Point `json:"end_point,omitempty"`
}

// Shift is one weekly block of working time, in the council's local wall-clock time.
type Shift struct {
	Day time.Weekday
	// StartMinute and EndMinute count minutes from local midnight; EndMinute may be 1440.
	StartMinute int
	EndMinute   int
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseDay(s string) (time.Weekday, bool) {
	for i, n := range dayNames {
		if n == s {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// parseClock reads "HH:MM" from 00:00 to 24:00.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	d := func(c byte) (int, bool) { return int(c - '0'), c >= '0' && c <= '9' }
	h1, ok1 := d(s[0])
	h2, ok2 := d(s[1])
	m1, ok3 := d(s[3])
	m2, ok4 := d(s[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	h, m := h1*10+h2, m1*10+m2
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

func formatClock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

type shiftJSON struct {
	Day   string `json:"day"`
	Start string `json:"start"`
	End   string `json:"end"`
}

// MarshalJSON writes the shift in the same shape ParsePractitioners reads.
func (s Shift) MarshalJSON() ([]byte, error) {
	if s.Day < 0 || s.Day > 6 {
		return nil, fmt.Errorf("routing: unable to encode shift: day %d out of range", s.Day)
	}
	return json.Marshal(shiftJSON{Day: dayNames[s.Day], Start: formatClock(s.StartMinute), End: formatClock(s.EndMinute)})
}

// UnmarshalJSON reads {"day":"mon","start":"09:00","end":"17:00"}, rejecting what
// ParsePractitioners would reject.
func (s *Shift) UnmarshalJSON(data []byte) error {
	var raw shiftJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("routing: unable to decode shift: %w", err)
	}
	var probs []Problem
	sh, ok := checkShift(raw, "shift", "", &probs)
	if !ok {
		return &PractitionersError{Problems: probs}
	}
	*s = sh
	return nil
}

// Problem is one thing wrong with one practitioner record.
type Problem struct {
	// Record names the record: its position in the array and its id when it has one.
	Record string `json:"record"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// PractitionersError lists every problem found in a practitioners document, so a roster can be
// fixed in one pass rather than one error at a time.
type PractitionersError struct {
	Problems []Problem
}

// Error lists the problems one per line.
func (e *PractitionersError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "routing: invalid practitioners (%d problems)", len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: field %s: %s", p.Record, p.Field, p.Reason)
	}
	return b.String()
}

type practitionerJSON struct {
	ID              *string     `json:"id"`
	Name            string      `json:"name"`
	Skills          []string    `json:"skills"`
	ServiceIDs      []string    `json:"service_ids"`
	Base            *Point      `json:"base"`
	MaxVisitsPerDay *int        `json:"max_visits_per_day"`
	WorkingHours    []shiftJSON `json:"working_hours"`
	Breaks          []shiftJSON `json:"breaks"`
	StartPoint      *Point      `json:"start_point"`
	EndPoint        *Point      `json:"end_point"`
}

// ParsePractitioners reads a JSON array of practitioners and validates every record, returning a
// *PractitionersError that lists every problem (naming record and field) when any is found.
func ParsePractitioners(data []byte) ([]Practitioner, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("routing: unable to parse practitioners: want a JSON array of objects: %w", err)
	}
	var probs []Problem
	out := make([]Practitioner, 0, len(raws))
	firstIndex := make(map[string]int, len(raws))
	for i, raw := range raws {
		rec := fmt.Sprintf("practitioner %d", i)
		var pj practitionerJSON
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&pj); err != nil {
			probs = append(probs, Problem{rec, "(record)", "not a valid practitioner object: " + err.Error()})
			continue
		}
		if pj.ID == nil || strings.TrimSpace(*pj.ID) == "" {
			probs = append(probs, Problem{rec, "id", "missing"})
		} else {
			id := *pj.ID
			rec = fmt.Sprintf("practitioner %d (id %q)", i, id)
			if j, dup := firstIndex[id]; dup {
				probs = append(probs, Problem{rec, "id", fmt.Sprintf("duplicate of practitioner %d", j)})
			} else {
				firstIndex[id] = i
			}
		}
		p := Practitioner{Name: pj.Name}
		if pj.ID != nil {
			p.ID = *pj.ID
		}
		p.Skills = checkNames(pj.Skills, rec, "skills", &probs)
		p.ServiceIDs = checkNames(pj.ServiceIDs, rec, "service_ids", &probs)
		switch {
		case pj.Base == nil:
			probs = append(probs, Problem{rec, "base", "missing"})
		case !pj.Base.Valid():
			probs = append(probs, Problem{rec, "base", fmt.Sprintf("coordinates %s out of range (lat -90..90, lon -180..180)", pj.Base)})
		default:
			p.Base = *pj.Base
		}
		switch {
		case pj.MaxVisitsPerDay == nil:
			probs = append(probs, Problem{rec, "max_visits_per_day", "missing"})
		case *pj.MaxVisitsPerDay < 1:
			probs = append(probs, Problem{rec, "max_visits_per_day", fmt.Sprintf("%d is less than 1", *pj.MaxVisitsPerDay)})
		default:
			p.MaxVisitsPerDay = *pj.MaxVisitsPerDay
		}
		for k, sj := range pj.WorkingHours {
			if sh, ok := checkShift(sj, rec, fmt.Sprintf("working_hours[%d].", k), &probs); ok {
				p.WorkingHours = append(p.WorkingHours, sh)
			}
		}
		sortShifts(p.WorkingHours)
		for k := 1; k < len(p.WorkingHours); k++ {
			a, b := p.WorkingHours[k-1], p.WorkingHours[k]
			if a.Day == b.Day && b.StartMinute < a.EndMinute {
				probs = append(probs, Problem{rec, "working_hours", fmt.Sprintf("%s %s-%s overlaps %s-%s",
					dayNames[a.Day], formatClock(a.StartMinute), formatClock(a.EndMinute), formatClock(b.StartMinute), formatClock(b.EndMinute))})
			}
		}
		for k, sj := range pj.Breaks {
			sh, ok := checkShift(sj, rec, fmt.Sprintf("breaks[%d].", k), &probs)
			if !ok {
				continue
			}
			if !insideShift(p.WorkingHours, sh) {
				probs = append(probs, Problem{rec, fmt.Sprintf("breaks[%d]", k), fmt.Sprintf("%s %s-%s is not inside one of the day's working hours",
					dayNames[sh.Day], formatClock(sh.StartMinute), formatClock(sh.EndMinute))})
				continue
			}
			p.Breaks = append(p.Breaks, sh)
		}
		sortShifts(p.Breaks)
		for _, pt := range []struct {
			name string
			p    *Point
			dst  **Point
		}{{"start_point", pj.StartPoint, &p.StartPoint}, {"end_point", pj.EndPoint, &p.EndPoint}} {
			switch {
			case pt.p == nil:
			case !pt.p.Valid():
				probs = append(probs, Problem{rec, pt.name, fmt.Sprintf("coordinates %s out of range (lat -90..90, lon -180..180)", pt.p)})
			default:
				v := *pt.p
				*pt.dst = &v
			}
		}
		out = append(out, p)
	}
	if len(probs) > 0 {
		return nil, &PractitionersError{Problems: probs}
	}
	return out, nil
}

func checkNames(names []string, rec, field string, probs *[]Problem) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for k, n := range names {
		switch {
		case strings.TrimSpace(n) == "":
			*probs = append(*probs, Problem{rec, fmt.Sprintf("%s[%d]", field, k), "empty"})
		case seen[n]:
			*probs = append(*probs, Problem{rec, fmt.Sprintf("%s[%d]", field, k), fmt.Sprintf("%q listed twice", n)})
		default:
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func checkShift(sj shiftJSON, rec, prefix string, probs *[]Problem) (Shift, bool) {
	ok := true
	day, dayOK := parseDay(sj.Day)
	if !dayOK {
		*probs = append(*probs, Problem{rec, prefix + "day", fmt.Sprintf("%q is not one of mon, tue, wed, thu, fri, sat, sun", sj.Day)})
		ok = false
	}
	start, startOK := parseClock(sj.Start)
	if !startOK {
		*probs = append(*probs, Problem{rec, prefix + "start", fmt.Sprintf("%q is not a time HH:MM between 00:00 and 24:00", sj.Start)})
		ok = false
	}
	end, endOK := parseClock(sj.End)
	if !endOK {
		*probs = append(*probs, Problem{rec, prefix + "end", fmt.Sprintf("%q is not a time HH:MM between 00:00 and 24:00", sj.End)})
		ok = false
	}
	if startOK && endOK && end <= start {
		*probs = append(*probs, Problem{rec, prefix + "end", fmt.Sprintf("%s is not after start %s", sj.End, sj.Start)})
		ok = false
	}
	return Shift{Day: day, StartMinute: start, EndMinute: end}, ok
}

// insideShift reports whether b lies wholly inside one of shifts.
func insideShift(shifts []Shift, b Shift) bool {
	for _, s := range shifts {
		if s.Day == b.Day && b.StartMinute >= s.StartMinute && b.EndMinute <= s.EndMinute {
			return true
		}
	}
	return false
}

func sortShifts(s []Shift) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Day != s[j].Day {
			return s[i].Day < s[j].Day
		}
		if s[i].StartMinute != s[j].StartMinute {
			return s[i].StartMinute < s[j].StartMinute
		}
		return s[i].EndMinute < s[j].EndMinute
	})
}

// has reports whether list contains s; lists here are a handful of entries, so a scan beats a map.
func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
