// Package outcomes says what happened to people after a decision, so that a rule change can be
// judged by its results: the NHS Talking Therapies measures (recovery, reliable improvement,
// reliable recovery, reliable deterioration) between the first and the last scored assessment of a
// mental-health case, and for discharge cases whether the person is still at home 91 days after
// discharge; reported by pathway, rule, rule-set version or team over pseudonymised data.
package outcomes

// Thresholds are the caseness thresholds and reliable-change indices the measures use. They are
// parameters, not constants, because services differ (some use PHQ-9 >= 9 for caseness).
type Thresholds struct {
	PHQ9Caseness int `json:"phq9_caseness"`        // at caseness when PHQ-9 is at least this
	GAD7Caseness int `json:"gad7_caseness"`        // ... or GAD-7 is at least this
	PHQ9Reliable int `json:"phq9_reliable_change"` // a change of at least this much in PHQ-9 is reliable
	GAD7Reliable int `json:"gad7_reliable_change"` // ... and in GAD-7
	// PHQ9Score and GAD7Score name the form's scores that hold the totals.
	PHQ9Score string `json:"phq9_score"`
	GAD7Score string `json:"gad7_score"`
}

// TalkingTherapies are the thresholds NHS Talking Therapies publishes: caseness PHQ-9 >= 10 or
// GAD-7 >= 8, reliable change 6 points on PHQ-9 and 4 on GAD-7.
func TalkingTherapies() Thresholds {
	return Thresholds{PHQ9Caseness: 10, GAD7Caseness: 8, PHQ9Reliable: 6, GAD7Reliable: 4, PHQ9Score: "phq9_total", GAD7Score: "gad7_total"}
}

// Scores are the PHQ-9 and GAD-7 totals of one assessment.
type Scores struct{ PHQ9, GAD7 int }

// Measures are the outcome measures of one case between its first and last scored assessment.
type Measures struct {
	CasenessAtStart       bool `json:"caseness_at_start"`
	CasenessAtEnd         bool `json:"caseness_at_end"`
	Recovery              bool `json:"recovery"`               // at caseness at the start and not at the end
	ReliableImprovement   bool `json:"reliable_improvement"`   // either measure down reliably, neither up reliably
	ReliableDeterioration bool `json:"reliable_deterioration"` // either measure up reliably, neither down reliably
	ReliableRecovery      bool `json:"reliable_recovery"`      // recovery and reliable improvement
}

// Caseness reports whether s is at caseness under t.
func (t Thresholds) Caseness(s Scores) bool {
	return s.PHQ9 >= t.PHQ9Caseness || s.GAD7 >= t.GAD7Caseness
}

// Measure computes the measures from the first and the last scores.
func (t Thresholds) Measure(first, last Scores) Measures {
	m := Measures{CasenessAtStart: t.Caseness(first), CasenessAtEnd: t.Caseness(last)}
	m.Recovery = m.CasenessAtStart && !m.CasenessAtEnd
	dPHQ, dGAD := last.PHQ9-first.PHQ9, last.GAD7-first.GAD7
	down := dPHQ <= -t.PHQ9Reliable || dGAD <= -t.GAD7Reliable
	up := dPHQ >= t.PHQ9Reliable || dGAD >= t.GAD7Reliable
	m.ReliableImprovement = down && !up
	m.ReliableDeterioration = up && !down
	m.ReliableRecovery = m.Recovery && m.ReliableImprovement
	return m
}
