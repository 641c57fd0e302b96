package rules_test

import (
	"testing"
	"time"

	"github.com/carepath/carepath/rules"
)

func TestTimelineVersionAt(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	tl := rules.NewTimeline([]rules.Activation{
		{Version: 1, EffectiveFrom: day(1)},
		{Version: 2, EffectiveFrom: day(10)},
		{Version: 3, EffectiveFrom: day(5)},  // made later, effective earlier
		{Version: 4, EffectiveFrom: day(10)}, // ties with v2 and was made later: wins
	})
	for _, tc := range []struct {
		at   time.Time
		want int
		ok   bool
	}{
		{day(1).Add(-time.Nanosecond), 0, false},
		{day(1), 1, true},
		{day(4), 1, true},
		{day(5), 3, true},
		{day(9), 3, true},
		{day(10), 4, true},
		{day(30), 4, true},
	} {
		got, ok := tl.VersionAt(tc.at)
		if got != tc.want || ok != tc.ok {
			t.Errorf("VersionAt(%s) = %d, %v; want %d, %v", tc.at.Format(time.RFC3339Nano), got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := rules.NewTimeline(nil).VersionAt(day(1)); ok {
		t.Error("an empty timeline has a version in force")
	}
}
