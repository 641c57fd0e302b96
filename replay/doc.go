// Package replay re-evaluates stored cases under other rule-set versions and reports what would
// change: the engine behind `carepath replay` and behind impact previews and shadow runs.
//
// A replay streams cases from a Source in a stable order (the SQL source reads stored decisions by
// seq, page by page), hands chunks of them to a pool of workers, and merges their tallies so the
// Report is the same byte for byte whatever the number of workers. Memory stays flat: only the ids
// of changed and not-replayable cases are kept, for the report.
//
// Each side of the comparison is a Resolver: Version (a stored version), Draft (a rule-set file not
// stored), or Recorded (each case's recorded version, for a reproducibility check). A nil Baseline
// means "what was decided at the time". Typical use:
//
//	rep, err := replay.Run(ctx, replay.Config{
//		Source:    &replay.SQLSource{Store: store, Filter: triage.DecisionFilter{RuleSet: "mh-triage"}},
//		Forms:     forms, // every published version of the rule set's form
//		Candidate: &replay.Version{Registry: registry, ID: "mh-triage", Version: 2},
//		Where:     `scores.phq9_total >= 5`,
//		GroupBy:   `subject.district`,
//		Pseudonymiser: pseudonymiser, // cases and subjects appear in the report only as keyed pseudonyms
//	})
//
// A report is for analysts, so it names no one: case lists carry the keyed pseudonyms of the
// decision id and the subject reference (see package privacy), expressions see the subject only as
// a pseudonym, an age and age band and a postcode district, never free-text or date answers, and
// reasons never quote the stored input's values.
//
// A stored case that cannot be replayed (its input no longer matches its hash, does not parse or
// validate, its form version is not accepted, or a rule fails to evaluate) is never defaulted: it
// is counted as not replayable with its reason.
//
// Stored canonical inputs are decoded by a fast path that reads the canonical JSON shape directly
// into rule inputs; anything it does not recognise goes through triage.ParseSubmission and
// triage.Assess, and a fuzz test holds the two to the same result.
package replay
