package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/replay"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

func (c *commands) replayCommand() *cli.Command {
	return &cli.Command{
		Name:  "replay",
		Usage: "replay stored cases under another rule-set version and report what would change",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ruleset", Required: true, Usage: "rule set id, such as mh-triage"},
			&cli.StringFlag{Name: "candidate", Usage: "a stored VERSION, or a rule-set FILE (a draft, not stored)"},
			&cli.StringFlag{Name: "baseline", Value: "recorded", Usage: "recorded (what was decided at the time) or a stored VERSION"},
			&cli.StringFlag{Name: "since", Usage: "only cases authored at or after (RFC 3339 or YYYY-MM-DD)"},
			&cli.StringFlag{Name: "until", Usage: "only cases authored before (RFC 3339 or YYYY-MM-DD)"},
			&cli.StringFlag{Name: "where", Usage: "expr-lang condition over scores, answers, subject (pseudonym, age, age_band, district), outcome, baseline, candidate, authored, changed"},
			&cli.StringFlag{Name: "group-by", Usage: "expr-lang expression whose value names each case's group"},
			&cli.StringFlag{Name: "format", Value: replay.FormatText, Usage: "text, json or csv"},
			&cli.StringFlag{Name: "out", Usage: "write the report to this file instead of standard output"},
			&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "evaluating goroutines; the report does not depend on it"},
			&cli.BoolFlag{Name: "verify", Usage: "replay every stored decision under its recorded version; fail if any differs"},
		},
		Action: c.replay,
	}
}

func (c *commands) replay(ctx *cli.Context) error {
	refuse := func(format string, args ...any) error {
		return cli.Exit("carepath replay: "+fmt.Sprintf(format, args...), ExitInvalid)
	}
	format := ctx.String("format")
	if format != replay.FormatText && format != replay.FormatJSON && format != replay.FormatCSV {
		return refuse("--format must be text, json or csv, got %q", format)
	}
	verify := ctx.Bool("verify")
	if verify == (ctx.String("candidate") != "") {
		return refuse("give --candidate VERSION|FILE, or --verify")
	}
	if ctx.Int("workers") < 1 {
		return refuse("--workers must be at least 1")
	}
	since, err := parseInstant("since", ctx.String("since"))
	if err != nil {
		return err
	}
	until, err := parseInstant("until", ctx.String("until"))
	if err != nil {
		return err
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()

	id := ctx.String("ruleset")
	versions, err := s.rules.Versions(ctx.Context)
	if err != nil {
		return err
	}
	form := ""
	for _, v := range versions {
		if v.ID == id {
			form = v.Form
		}
	}
	if form == "" {
		return refuse("--ruleset: rule set %q is not stored", id)
	}
	all, err := s.forms.Forms(ctx.Context)
	if err != nil {
		return err
	}
	var forms []*triage.Form
	for _, f := range all {
		if f.ID == form {
			forms = append(forms, f)
		}
	}
	registry := s.engine.Rules
	version := func(flag, value string) (replay.Resolver, error) {
		n, err := strconv.Atoi(value)
		if err != nil {
			return nil, nil
		}
		if _, err := s.rules.Version(ctx.Context, id, n); failure.CodeOf(err) == failure.NotFound {
			return nil, refuse("--%s: %v", flag, err)
		} else if err != nil {
			return nil, err
		}
		return &replay.Version{Registry: registry, ID: id, Version: n}, nil
	}

	pseudonyms, err := c.pseudonymiser(ctx)
	if err != nil {
		return err
	}
	cfg := replay.Config{
		RuleSet: id,
		Source:  &replay.SQLSource{Store: s.forms, Filter: triage.DecisionFilter{RuleSet: id, Since: since, Until: until}},
		Forms:   forms, Where: ctx.String("where"), GroupBy: ctx.String("group-by"), Workers: ctx.Int("workers"),
		// The report is for analysts: cases and subjects appear only as keyed pseudonyms.
		Pseudonymiser: pseudonyms,
	}
	if verify {
		cfg.Candidate = &replay.Recorded{Registry: registry}
	} else {
		cand := ctx.String("candidate")
		if cfg.Candidate, err = version("candidate", cand); err != nil {
			return err
		}
		if cfg.Candidate == nil {
			if cfg.Candidate, err = c.draft(ctx, s, id, cand); err != nil {
				return err
			}
		}
	}
	if b := ctx.String("baseline"); b != "recorded" {
		if cfg.Baseline, err = version("baseline", b); err != nil {
			return err
		}
		if cfg.Baseline == nil {
			return refuse("--baseline must be recorded or a stored version number, got %q", b)
		}
	}
	if src, ok := cfg.Source.(replay.Counter); ok {
		if n, err := src.Count(ctx.Context); err == nil {
			if bar := c.progressBar(n, "replaying"); bar != nil {
				cfg.Progress = func(done int64) { _ = bar.Set64(done) }
				defer func() { _ = bar.Finish(); fmt.Fprintln(c.io.Stderr) }()
			}
		}
	}

	rep, err := replay.Run(ctx.Context, cfg)
	var ee *replay.ExpressionError
	if errors.As(err, &ee) {
		return refuse("--%s %q does not compile against form %s: %v", ee.Flag, ee.Expr, ee.Form, ee.Err)
	} else if err != nil {
		return err
	}
	action := audit.ActionReplayRun
	if ctx.String("out") != "" || format != replay.FormatText {
		action = audit.ActionExportRun
	}
	if err := c.recordAccess(ctx, s, action, []string{"ruleset:" + id}, "replay --candidate "+ctx.String("candidate")+" --format "+format); err != nil {
		return err
	}
	var out io.Writer = c.io.Stdout
	if name := ctx.String("out"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			return refuse("--out: %v", err)
		}
		defer f.Close()
		out = f
	}
	if err := rep.Write(out, format); err != nil {
		return err
	}
	if verify {
		if bad := rep.Changed + rep.NotReplayable; bad > 0 {
			return cli.Exit(fmt.Sprintf("carepath replay --verify: %d of %d stored decisions of %s do not reproduce under their recorded versions", bad, rep.Read, id), ExitFailure)
		}
		fmt.Fprintf(c.io.Stderr, "verify: all %d stored decisions of %s reproduce under their recorded versions\n", rep.Read, id)
	}
	return nil
}

// draft reads a rule-set file that is not stored, for --candidate FILE.
func (c *commands) draft(ctx *cli.Context, s *services, id, name string) (replay.Resolver, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("carepath replay: --candidate %q is neither a stored version number nor a readable file: %v", name, err), ExitInvalid)
	}
	rs, err := rules.Parse(name, src)
	if err != nil {
		return nil, cli.Exit("carepath replay: --candidate: "+err.Error(), ExitInvalid)
	}
	if rs.ID != id {
		return nil, cli.Exit(fmt.Sprintf("carepath replay: --candidate %s is rule set %q, not %q", name, rs.ID, id), ExitInvalid)
	}
	ps, err := s.rules.Pathways(ctx.Context)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, p := range ps {
		known[p.ID] = true
	}
	return &replay.Draft{RuleSet: rs, KnownPathway: func(id string) bool { return known[id] }, Label: fmt.Sprintf("%s (draft v%d, %.12s)", name, rs.Version, rs.SHA256())}, nil
}
