# ILLUSTRATIVE demo policy, not clinical advice: Carepath's demo rule set mh-triage version 3
# (fixtures/rulesets/mh-triage.v3.yaml, the version the demo data puts in force), translated to Rego
# only so that Open Policy Agent and Carepath can be measured deciding the same thing. The rule set
# stays the policy; this file is a benchmark fixture and is checked against it by
# TestEquivalentToOPA (bench/opa/opa_test.go).
#
# Input: the scored assessment as Carepath's rules see it, after validation and scoring, as
#   {"answers": {"phq9_1": 0..3, ..., "gad7_7": 0..3, "risk_plan": bool, "risk_intent": bool,
#                "previous_high_intensity_treatment": bool, "under_secondary_care": bool},
#    "scores": {"phq9_total": int, "phq9_band": string, "gad7_total": int, "gad7_band": string}}
# Output: data.carepath.triage.decision, the first rule that matches, in the rule set's order:
#   {"rule", "pathway", "priority", "respond_within", "flags"}.
# OPA validates nothing here: Carepath refuses an incomplete or out-of-range form before its rules run.
package carepath.triage

params := {"phq9_caseness": 10, "gad7_caseness": 8, "severe_total": 15}

severe if input.scores.phq9_total >= params.severe_total

severe if input.scores.gad7_total >= params.severe_total

risk_plan_or_intent if input.answers.risk_plan == true

risk_plan_or_intent if input.answers.risk_intent == true

caseness if input.scores.phq9_total >= params.phq9_caseness

caseness if input.scores.gad7_total >= params.gad7_caseness

# First match: each else is tried only when every rule above it failed.
decision := {
	"rule": "risk-plan-or-intent", "pathway": "crisis-home-treatment", "priority": "emergency",
	"respond_within": "PT4H", "flags": ["same_day_clinician_review", "active-risk"],
} if {
	risk_plan_or_intent
} else := {
	"rule": "phq9-item9", "pathway": "adult-mental-health-team", "priority": "urgent",
	"respond_within": "PT4H", "flags": ["same_day_clinician_review", "active-risk"],
} if {
	input.answers.phq9_9 >= 1
} else := {
	"rule": "under-secondary-care", "pathway": "return-to-secondary-care", "priority": "routine",
	"respond_within": "P7D", "flags": ["care_coordinator"],
} if {
	input.answers.under_secondary_care == true
} else := {
	"rule": "severe-after-high-intensity", "pathway": "specialist-psychological-therapy", "priority": "routine",
	"respond_within": "P28D", "flags": [],
} if {
	input.answers.previous_high_intensity_treatment == true
	severe
} else := {
	"rule": "severe", "pathway": "talking-therapies-step3", "priority": "routine",
	"respond_within": "P28D", "flags": [],
} if {
	severe
} else := {
	"rule": "caseness", "pathway": "talking-therapies-step2", "priority": "routine",
	"respond_within": "P28D", "flags": [],
} if {
	caseness
} else := {
	"rule": "otherwise", "pathway": "watchful-waiting", "priority": "routine",
	"respond_within": "P28D", "flags": [],
}
