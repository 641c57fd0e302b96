package outcomes_test

import (
	"testing"

	"github.com/carepath/carepath/outcomes"
)

// TestMeasures holds the measures to the NHS Talking Therapies definitions: caseness PHQ-9 >= 10
// or GAD-7 >= 8; recovery is caseness at the start and not at the end; reliable improvement is
// PHQ-9 down by >= 6 or GAD-7 down by >= 4 with neither up by as much; reliable deterioration
// likewise upwards; reliable recovery is recovery with reliable improvement.
func TestMeasures(t *testing.T) {
	th := outcomes.TalkingTherapies()
	for _, tc := range []struct {
		name        string
		first, last outcomes.Scores
		want        outcomes.Measures
	}{
		{"below caseness throughout", outcomes.Scores{9, 7}, outcomes.Scores{3, 2},
			outcomes.Measures{ReliableImprovement: true}},
		{"PHQ-9 at threshold is caseness", outcomes.Scores{10, 0}, outcomes.Scores{10, 0},
			outcomes.Measures{CasenessAtStart: true, CasenessAtEnd: true}},
		{"GAD-7 at threshold is caseness", outcomes.Scores{0, 8}, outcomes.Scores{0, 7},
			outcomes.Measures{CasenessAtStart: true, Recovery: true}},
		{"recovery without reliable change", outcomes.Scores{12, 9}, outcomes.Scores{9, 7},
			outcomes.Measures{CasenessAtStart: true, Recovery: true}},
		{"reliable recovery", outcomes.Scores{16, 12}, outcomes.Scores{6, 4},
			outcomes.Measures{CasenessAtStart: true, Recovery: true, ReliableImprovement: true, ReliableRecovery: true}},
		{"PHQ-9 down exactly 6 is reliable", outcomes.Scores{15, 3}, outcomes.Scores{9, 3},
			outcomes.Measures{CasenessAtStart: true, Recovery: true, ReliableImprovement: true, ReliableRecovery: true}},
		{"PHQ-9 down 5 is not reliable", outcomes.Scores{15, 3}, outcomes.Scores{10, 3},
			outcomes.Measures{CasenessAtStart: true, CasenessAtEnd: true}},
		{"GAD-7 down exactly 4 is reliable", outcomes.Scores{4, 12}, outcomes.Scores{4, 8},
			outcomes.Measures{CasenessAtStart: true, CasenessAtEnd: true, ReliableImprovement: true}},
		{"reliable improvement while still at caseness", outcomes.Scores{22, 18}, outcomes.Scores{14, 12},
			outcomes.Measures{CasenessAtStart: true, CasenessAtEnd: true, ReliableImprovement: true}},
		{"one down, the other up reliably: neither", outcomes.Scores{18, 4}, outcomes.Scores{8, 9},
			outcomes.Measures{CasenessAtStart: true, CasenessAtEnd: true}},
		{"reliable deterioration", outcomes.Scores{5, 3}, outcomes.Scores{11, 3},
			outcomes.Measures{CasenessAtEnd: true, ReliableDeterioration: true}},
		{"GAD-7 up exactly 4 deteriorates", outcomes.Scores{12, 9}, outcomes.Scores{12, 13},
			outcomes.Measures{CasenessAtStart: true, CasenessAtEnd: true, ReliableDeterioration: true}},
	} {
		if got := th.Measure(tc.first, tc.last); got != tc.want {
			t.Errorf("%s: %+v -> %+v: got %+v, want %+v", tc.name, tc.first, tc.last, got, tc.want)
		}
	}
}

// TestThresholdsAreParameters checks that a service's own caseness threshold takes effect.
func TestThresholdsAreParameters(t *testing.T) {
	th := outcomes.TalkingTherapies()
	if th.Caseness(outcomes.Scores{9, 0}) {
		t.Fatal("PHQ-9 9 is at caseness under the published threshold")
	}
	th.PHQ9Caseness = 9
	if !th.Caseness(outcomes.Scores{9, 0}) {
		t.Error("PHQ-9 9 is not at caseness under a threshold of 9")
	}
}
