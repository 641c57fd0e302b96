package rules

import (
	"slices"
	"time"
)

// Timeline answers "which version was in force at T" from a rule set's activations held in memory,
// for bulk work that would otherwise ask the database twice per case. It follows the same rule as
// Store.ActiveAt: the latest effective time not after T, ties to the activation made last.
type Timeline struct {
	effective []time.Time // ascending; for equal times only the activation made last is kept
	versions  []int
}

// NewTimeline builds a Timeline from activations in the order they were made (as Store.Activations returns them).
func NewTimeline(acts []Activation) *Timeline {
	type entry struct {
		at    time.Time
		order int
		v     int
	}
	entries := make([]entry, len(acts))
	for i, a := range acts {
		entries[i] = entry{a.EffectiveFrom, i, a.Version}
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return a.at.Compare(b.at) })
	t := &Timeline{}
	for _, e := range entries {
		if n := len(t.effective); n > 0 && t.effective[n-1].Equal(e.at) {
			t.versions[n-1] = e.v // made later, so it wins the tie
			continue
		}
		t.effective = append(t.effective, e.at)
		t.versions = append(t.versions, e.v)
	}
	return t
}

// VersionAt returns the version in force at a time, and false when none was yet.
func (t *Timeline) VersionAt(at time.Time) (int, bool) {
	// The first effective time after at; the one before it is in force.
	i, found := slices.BinarySearchFunc(t.effective, at, func(e, target time.Time) int { return e.Compare(target) })
	if found {
		return t.versions[i], true
	}
	if i == 0 {
		return 0, false
	}
	return t.versions[i-1], true
}
