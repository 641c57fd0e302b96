package routing

import (
	"errors"
	"fmt"
	"time"
)

// DefaultSlotLength is the appointment grid used when a caller passes zero.
const DefaultSlotLength = 60 * time.Minute

// Visit is one booked appointment: a practitioner visiting a case's subject in one slot.
type Visit struct {
	ID             string    `json:"id"`
	CaseID         string    `json:"case_id"`
	PractitionerID string    `json:"practitioner_id"`
	ServiceID      string    `json:"service_id"`
	Pathway        string    `json:"pathway"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Loc            Point     `json:"loc"`
	// Pinned visits are never moved by Optimise (e.g. the person asked for this practitioner).
	Pinned bool `json:"pinned"`
	// RequiredSkills must all be held by whoever makes the visit.
	RequiredSkills []string `json:"required_skills,omitempty"`
	// CandidateServiceIDs, best first, are the services Optimise may move the visit between;
	// empty means ServiceID only.
	CandidateServiceIDs []string `json:"candidate_service_ids,omitempty"`
	// Earliest and Latest are the visit's window (start no earlier, end no later), kept so that
	// an urgent insertion moving it later keeps the promise it was booked with; zero for visits
	// booked on the slot grid, which then never move.
	Earliest time.Time `json:"earliest,omitzero"`
	Latest   time.Time `json:"latest,omitzero"`
}

// grid is the slot grid of one council: slots of slotMin minutes counted from local midnight, so
// every slot start is a whole number of slots after midnight (aligned to the hour when slotMin
// divides 60).
type grid struct {
	loc     *time.Location
	slotMin int
}

func newGrid(loc *time.Location, slot time.Duration) (grid, error) {
	if loc == nil {
		return grid{}, errors.New("time zone is nil")
	}
	if slot == 0 {
		slot = DefaultSlotLength
	}
	if slot < time.Minute || slot%time.Minute != 0 || (24*60)%int(slot/time.Minute) != 0 {
		return grid{}, fmt.Errorf("slot length %s must be whole minutes dividing 24h", slot)
	}
	if m := int(slot / time.Minute); m < 60 && 60%m != 0 || m > 60 && m%60 != 0 {
		return grid{}, fmt.Errorf("slot length %s must divide an hour or be whole hours, to align to the hour", slot)
	}
	return grid{loc: loc, slotMin: int(slot / time.Minute)}, nil
}

func (g grid) slotLength() time.Duration { return time.Duration(g.slotMin) * time.Minute }

// civilDay numbers calendar dates consecutively (days since 1970-01-01), independent of zone.
func civilDay(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// dayKey is the civil day number of t's local date.
func (g grid) dayKey(t time.Time) int {
	y, m, d := t.In(g.loc).Date()
	return civilDay(y, m, d)
}

// at is the instant of a local wall-clock minute on a date; ok is false in a daylight-saving gap,
// where that wall-clock time does not exist and no slot can start.
func (g grid) at(y int, m time.Month, d, minute int) (time.Time, bool) {
	t := time.Date(y, m, d, 0, minute, 0, 0, g.loc)
	return t, t.Hour()*60+t.Minute() == minute%(24*60) && t.Day() == d
}

// onGrid returns the minute of the local day a slot starting at t begins, if t is a slot start.
func (g grid) onGrid(t time.Time) (int, bool) {
	lt := t.In(g.loc)
	if lt.Second() != 0 || lt.Nanosecond() != 0 {
		return 0, false
	}
	min := lt.Hour()*60 + lt.Minute()
	return min, min%g.slotMin == 0
}

// firstSlotMinute is the first grid minute at or after a shift's start.
func (g grid) firstSlotMinute(start int) int {
	return (start + g.slotMin - 1) / g.slotMin * g.slotMin
}

// covers reports whether p works the whole slot starting at minute on weekday wd.
func (g grid) covers(p *Practitioner, wd time.Weekday, minute int) bool {
	for _, s := range p.WorkingHours {
		if s.Day == wd && minute >= s.StartMinute && minute+g.slotMin <= s.EndMinute {
			return true
		}
	}
	return false
}

// Slots lists the slot starts in p's working hours on date's local day in loc: their working
// hours cut into whole slots of slotLength (zero means DefaultSlotLength).
func (p Practitioner) Slots(date time.Time, loc *time.Location, slotLength time.Duration) ([]time.Time, error) {
	g, err := newGrid(loc, slotLength)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to list slots of practitioner %q: %w", p.ID, err)
	}
	y, m, d := date.In(loc).Date()
	wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
	var out []time.Time
	for _, s := range p.WorkingHours {
		if s.Day != wd {
			continue
		}
		for min := g.firstSlotMinute(s.StartMinute); min+g.slotMin <= s.EndMinute; min += g.slotMin {
			if t, ok := g.at(y, m, d, min); ok {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// ErrSlotTaken reports an attempt to book a practitioner twice in one slot.
var ErrSlotTaken = errors.New("slot already taken")

type practitionerDay struct {
	id  string
	day int
}

type practitionerSlot struct {
	id    string
	start int64
}

// Bookings indexes booked visits by practitioner, day and slot so that Assign looks up only the
// diaries of practitioners who survive the cheap filters, and so a double booking is refused.
// It is not safe for concurrent use: the caller serialises decisions, as the store will.
type Bookings struct {
	g      grid
	perDay map[practitionerDay]int
	taken  map[practitionerSlot]string
}

// NewBookings indexes visits on the grid of loc; it fails on a double booking or a bad visit.
func NewBookings(loc *time.Location, slotLength time.Duration, visits []Visit) (*Bookings, error) {
	g, err := newGrid(loc, slotLength)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to index bookings: %w", err)
	}
	b := &Bookings{g: g, perDay: make(map[practitionerDay]int, len(visits)), taken: make(map[practitionerSlot]string, len(visits))}
	for _, v := range visits {
		if err := b.Add(v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Add books v, refusing a second visit in the same practitioner's slot with ErrSlotTaken.
func (b *Bookings) Add(v Visit) error {
	switch {
	case v.PractitionerID == "":
		return fmt.Errorf("routing: unable to book visit %q: field practitioner_id: missing", v.ID)
	case v.Start.IsZero():
		return fmt.Errorf("routing: unable to book visit %q: field start: missing", v.ID)
	case !v.End.After(v.Start):
		return fmt.Errorf("routing: unable to book visit %q: field end: %s is not after start %s", v.ID, v.End.Format(time.RFC3339), v.Start.Format(time.RFC3339))
	}
	if _, ok := b.g.onGrid(v.Start); !ok {
		return fmt.Errorf("routing: unable to book visit %q: field start: %s is not on the %d-minute slot grid", v.ID, v.Start.In(b.g.loc).Format(time.RFC3339), b.g.slotMin)
	}
	if v.End.Sub(v.Start) > b.g.slotLength() {
		return fmt.Errorf("routing: unable to book visit %q: field end: visit lasts %s, longer than a %s slot", v.ID, v.End.Sub(v.Start), b.g.slotLength())
	}
	sk := practitionerSlot{v.PractitionerID, v.Start.Unix()}
	if other, ok := b.taken[sk]; ok {
		return fmt.Errorf("routing: unable to book visit %q: field start: practitioner %q already has visit %q at %s: %w",
			v.ID, v.PractitionerID, other, v.Start.In(b.g.loc).Format(time.RFC3339), ErrSlotTaken)
	}
	b.taken[sk] = v.ID
	b.perDay[practitionerDay{v.PractitionerID, b.g.dayKey(v.Start)}]++
	return nil
}

// CountOn is how many visits practitionerID has on the local day of day.
func (b *Bookings) CountOn(practitionerID string, day time.Time) int {
	return b.perDay[practitionerDay{practitionerID, b.g.dayKey(day)}]
}

// Taken reports whether practitionerID already has a visit in the slot starting at start.
func (b *Bookings) Taken(practitionerID string, start time.Time) bool {
	_, ok := b.taken[practitionerSlot{practitionerID, start.Unix()}]
	return ok
}
