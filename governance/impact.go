package governance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carepath/carepath/replay"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Impact is what a candidate version would change: stored decisions re-evaluated under it, and
// its own tests. Its example cases are pseudonyms (privacy.Pseudonymiser.Case), never decision ids.
type Impact struct {
	RuleSet   string    `json:"ruleset"`
	Candidate int       `json:"candidate"`
	Since     time.Time `json:"since"`
	Evaluated int       `json:"evaluated"` // stored decisions read, replayable or not
	Changed   int       `json:"changed"`   // decisions whose pathway would change
	Failed    int       `json:"failed"`    // decisions that could not be replayed
	Flows     []Flow    `json:"flows"`
	Tests     struct {
		Total  int `json:"total"`
		Failed int `json:"failed"`
	} `json:"tests"`
}

// PreviewImpact evaluates a candidate program against the stored decisions of its rule set
// authored since a time (at most limit of them, oldest first; 0 for all) and against its tests.
//
// The stored decisions stream through the replay engine, the same one `carepath replay` uses, so a
// preview and a replay of the same candidate agree case for case.
func (s *Service) PreviewImpact(ctx context.Context, candidate *rules.Program, model FormModel, since time.Time, limit int) (*Impact, error) {
	rs := candidate.RuleSet
	if s.Pseudonymiser == nil {
		return nil, errNoPseudonymiser
	}
	imp := &Impact{RuleSet: rs.ID, Candidate: rs.Version, Since: since.UTC(), Flows: []Flow{}}
	tests := rules.RunTests(candidate, model)
	imp.Tests.Total, imp.Tests.Failed = len(tests.Results), tests.Failed()

	all, err := s.Forms.Forms(ctx)
	if err != nil {
		return nil, fmt.Errorf("governance: unable to preview the impact of %s v%d: %w", rs.ID, rs.Version, err)
	}
	var forms []*triage.Form
	for _, f := range all {
		if f.ID == rs.Form {
			forms = append(forms, f)
		}
	}
	var source replay.Source = &replay.SQLSource{Store: triage.NewSQLStore(s.DB), Filter: triage.DecisionFilter{RuleSet: rs.ID, Since: since}}
	if limit > 0 {
		source = &firstCases{source: source, limit: limit}
	}
	rep, err := replay.Run(ctx, replay.Config{
		RuleSet:   rs.ID,
		Source:    source,
		Forms:     forms,
		Candidate: &compiledCandidate{program: candidate, older: replay.Draft{RuleSet: rs}},

		Pseudonymiser: s.Pseudonymiser,
	})
	if err != nil {
		return nil, fmt.Errorf("governance: unable to preview the impact of %s v%d: %w", rs.ID, rs.Version, err)
	}
	imp.Evaluated, imp.Failed = int(rep.Read), int(rep.NotReplayable)
	flows := newFlows()
	// A replay also counts a change of matching rule or priority; the preview is about pathways.
	for _, c := range rep.ChangedCases {
		if c.From != c.To {
			imp.Changed++
			flows.add(c.From, c.To, c.Case)
		}
	}
	imp.Flows = flows.list()
	return imp, nil
}

// errNoPseudonymiser refuses to name cases without pseudonyms: a wiring fault, not the caller's.
var errNoPseudonymiser = errors.New("governance: unable to name cases: no pseudonym key is configured, and impact previews and shadow reports carry pseudonyms only")

// compiledCandidate is a replay.Resolver for a program already compiled against the latest form
// version; decisions made on older versions of the form get the rule set compiled for theirs.
type compiledCandidate struct {
	program *rules.Program
	older   replay.Draft
}

// Program implements replay.Resolver.
func (c *compiledCandidate) Program(ctx context.Context, sc *triage.StoredCase, form *triage.Form) (*rules.Program, error) {
	if form.ID == c.program.Schema.Form && form.Version == c.program.Schema.Version {
		return c.program, nil
	}
	return c.older.Program(ctx, sc, form)
}

// PerCase implements replay.Resolver: the program depends on the form version only.
func (c *compiledCandidate) PerCase() bool { return false }

// Name implements replay.Resolver.
func (c *compiledCandidate) Name() string {
	return fmt.Sprintf("candidate v%d", c.program.RuleSet.Version)
}

// errEnoughCases stops a stream once a preview has read as many cases as it was asked to.
var errEnoughCases = errors.New("governance: enough cases read")

// firstCases is a replay.Source of at most limit cases of another source, which stops reading at
// the limit rather than streaming the rest.
type firstCases struct {
	source replay.Source
	limit  int
}

// Cases implements replay.Source.
func (f *firstCases) Cases(ctx context.Context, fn func([]triage.StoredCase) error) error {
	read := 0
	err := f.source.Cases(ctx, func(page []triage.StoredCase) error {
		page = page[:min(len(page), f.limit-read)]
		read += len(page)
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if read >= f.limit {
			return errEnoughCases
		}
		return nil
	})
	if errors.Is(err, errEnoughCases) {
		return nil
	}
	return err
}
