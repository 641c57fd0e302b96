package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// fileChecker compiles rule-set files against the embedded demo forms and pathway catalogue, so
// lint and test of files need no database.
type fileChecker struct {
	forms map[string]*triage.Form
	known map[string]bool
}

func newFileChecker() (*fileChecker, error) {
	fs, err := fixtures.Forms()
	if err != nil {
		return nil, err
	}
	ps, err := fixtures.Pathways()
	if err != nil {
		return nil, err
	}
	c := &fileChecker{forms: map[string]*triage.Form{}, known: map[string]bool{}}
	for _, f := range fs {
		if prev, ok := c.forms[f.ID]; !ok || prev.Version < f.Version {
			c.forms[f.ID] = f
		}
	}
	for _, p := range ps {
		c.known[p.ID] = true
	}
	return c, nil
}

// load parses and compiles one file; a parse or compile failure is returned as a lint report.
func (fc *fileChecker) load(name string) (*rules.Program, governance.FormModel, *rules.LintReport) {
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, governance.FormModel{}, rules.CompileFindings(nil, name, err)
	}
	rs, err := rules.Parse(name, src)
	if err != nil {
		return nil, governance.FormModel{}, rules.CompileFindings(nil, name, err)
	}
	form, ok := fc.forms[rs.Form]
	if !ok {
		return nil, governance.FormModel{}, rules.CompileFindings(rs, name, fmt.Errorf("%s: form %q is not one of the demo forms", name, rs.Form))
	}
	p, err := rules.Compile(rs, form.Schema(), func(id string) bool { return fc.known[id] })
	if err != nil {
		return nil, governance.FormModel{}, rules.CompileFindings(rs, name, err)
	}
	return p, governance.FormModel{Form: form}, nil
}

func (c *commands) rulesCommand() *cli.Command {
	// Changes are recorded as the operating-system account (local:NAME), or, with --server, as the
	// owner of the API token; there is no flag naming who acts.
	reason := &cli.StringFlag{Name: "reason", Usage: "why, recorded in the audit trail"}
	server := serverFlag()
	return &cli.Command{
		Name:  "rules",
		Usage: "rule governance: check, test, compare and move rule-set versions through review",
		Subcommands: []*cli.Command{
			{Name: "lint", Usage: "static checks of rule-set files", ArgsUsage: "FILE...", Action: c.rulesLint},
			{Name: "test", Usage: "run the tests inside rule-set files, with coverage", ArgsUsage: "FILE...", Action: c.rulesTest,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "junit", Usage: "also write JUnit XML to this file"},
					&cli.BoolFlag{Name: "v", Usage: "list passing tests and every coverage goal"},
				}},
			{Name: "diff", Usage: "what changed between two versions: files, or ID:VERSION of stored ones", ArgsUsage: "A B", Action: c.rulesDiff},
			{Name: "draft", Usage: "store a file as a new draft (it takes the next version number)", ArgsUsage: "FILE", Flags: []cli.Flag{reason, server}, Action: c.rulesDraft},
			{Name: "submit", Usage: "send a draft to review: it must compile, pass every static check and its tests", ArgsUsage: "ID VERSION", Flags: []cli.Flag{reason, server}, Action: c.rulesSubmit},
			{Name: "approve", Usage: "approve a version in review (not its author)", ArgsUsage: "ID VERSION", Action: c.rulesApprove,
				Flags: []cli.Flag{&cli.StringFlag{Name: "comment", Usage: "why the version is approved (required)"}, &cli.IntFlag{Name: "impact-days", Value: 90, Usage: "impact preview over stored decisions of the last N days"}, server}},
			{Name: "reject", Usage: "send a version in review back to draft, saying why", ArgsUsage: "ID VERSION", Flags: []cli.Flag{reason, server}, Action: c.rulesReject},
			{Name: "activate", Usage: "activate an approved version from now or a later time (rollback: activate an older one)", ArgsUsage: "ID VERSION", Action: c.rulesActivate,
				Flags: []cli.Flag{reason, &cli.StringFlag{Name: "at", Usage: "effective from: an RFC 3339 time, or a date YYYY-MM-DD for midnight UTC (default now)"}, server}},
			{Name: "retire", Usage: "retire an approved version that is not in force", ArgsUsage: "ID VERSION", Flags: []cli.Flag{reason, server}, Action: c.rulesRetire},
			{Name: "shadow", Usage: "start, stop or report shadow runs", Subcommands: []*cli.Command{
				{Name: "start", Usage: "evaluate new decisions under an approved version too, recording disagreements", ArgsUsage: "ID VERSION", Action: c.rulesShadowStart},
				{Name: "stop", Usage: "stop the rule set's shadow run, keeping its record", ArgsUsage: "ID", Action: c.rulesShadowStop},
				{Name: "report", Usage: "agreement reports of the rule set's shadow runs (JSON)", ArgsUsage: "ID", Action: c.rulesShadowReport},
			}},
			{Name: "list", Usage: "list the stored rule-set versions with their status, marking the version in force now", Flags: []cli.Flag{formatFlag()}, Action: c.rulesList},
			{Name: "show", Usage: "print a stored version's YAML source as written (a starting point for the next draft)", ArgsUsage: "ID VERSION | ID:VERSION", Action: c.rulesShow},
			{Name: "history", Usage: "the audit trail of a rule set", ArgsUsage: "ID", Action: c.rulesHistory},
			{Name: "why-not", Usage: "why a stored decision did not reach a pathway", ArgsUsage: "DECISION PATHWAY", Action: c.rulesWhyNot},
		},
	}
}

func (c *commands) rulesLint(ctx *cli.Context) error {
	if ctx.NArg() == 0 {
		return cli.Exit("carepath rules lint: give one or more FILEs", ExitInvalid)
	}
	fc, err := newFileChecker()
	if err != nil {
		return err
	}
	failed := false
	for _, name := range ctx.Args().Slice() {
		p, m, rep := fc.load(name)
		if rep == nil {
			rep = rules.Lint(p, m, rules.DefaultLintOptions)
		}
		_, _ = c.io.Stdout.Write(rep.Text())
		failed = failed || rep.Errors() > 0
	}
	if failed {
		return cli.Exit("", ExitFailure)
	}
	return nil
}

func (c *commands) rulesTest(ctx *cli.Context) error {
	if ctx.NArg() == 0 {
		return cli.Exit("carepath rules test: give one or more FILEs", ExitInvalid)
	}
	fc, err := newFileChecker()
	if err != nil {
		return err
	}
	failed := false
	var reports []*rules.TestReport
	for _, name := range ctx.Args().Slice() {
		p, m, rep := fc.load(name)
		if rep != nil {
			_, _ = c.io.Stdout.Write(rep.Text())
			fmt.Fprintf(c.io.Stdout, "FAIL\t%s\t[build failed]\n", name)
			failed = true
			continue
		}
		tr := rules.RunTests(p, m)
		reports = append(reports, tr)
		_, _ = c.io.Stdout.Write(tr.Text(ctx.Bool("v")))
		failed = failed || !tr.OK()
	}
	if path := ctx.String("junit"); path != "" {
		if err := os.WriteFile(path, rules.JUnit(reports), 0o644); err != nil {
			return fmt.Errorf("carepath rules test: unable to write %s: %w", path, err)
		}
	}
	if failed {
		return cli.Exit("", ExitFailure)
	}
	return nil
}

// ruleSetRef reads ID:VERSION, or returns ok false for a file name.
func ruleSetRef(arg string) (string, int, bool) {
	id, v, found := strings.Cut(arg, ":")
	if !found {
		return "", 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, false
	}
	if _, err := os.Stat(arg); err == nil {
		return "", 0, false
	}
	return id, n, true
}

func (c *commands) rulesDiff(ctx *cli.Context) error {
	if ctx.NArg() != 2 {
		return cli.Exit("carepath rules diff: give two versions: files, or ID:VERSION of stored ones", ExitInvalid)
	}
	var sets [2]*rules.RuleSet
	var svc *services
	for i, arg := range ctx.Args().Slice() {
		var src []byte
		name := arg
		if id, n, ok := ruleSetRef(arg); ok {
			if svc == nil {
				s, err := c.open(ctx, false)
				if err != nil {
					return err
				}
				defer s.close()
				svc = s
			}
			v, err := svc.rules.Version(ctx.Context, id, n)
			if err != nil {
				return cli.Exit(fmt.Sprintf("carepath rules diff: %v", err), ExitInvalid)
			}
			src = []byte(v.Source)
		} else {
			b, err := os.ReadFile(arg)
			if err != nil {
				return cli.Exit(fmt.Sprintf("carepath rules diff: %v", err), ExitInvalid)
			}
			src = b
		}
		rs, err := rules.Parse(name, src)
		if err != nil {
			return cli.Exit(err.Error(), ExitInvalid)
		}
		sets[i] = rs
	}
	_, _ = c.io.Stdout.Write(rules.DiffText(sets[0], sets[1], rules.Diff(sets[0], sets[1])))
	return nil
}

// governed opens the database and runs fn with the governance service.
func (c *commands) governed(ctx *cli.Context, fn func(g *governance.Service) error) error {
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()
	g := governance.NewService(s.db, s.forms, s.engine.Rules, c.now)
	g.Lifecycle.OnActivate = s.events.RuleSetActivated
	return fn(g)
}

// actor is who a lifecycle change made on the database directly is recorded as.
func (c *commands) actor() rules.Actor {
	p := c.principal()
	return rules.Actor{Subject: p.Subject, Name: p.Name}
}

// idVersion reads the ID VERSION arguments.
func idVersion(ctx *cli.Context, cmd string) (string, int, error) {
	if ctx.NArg() != 2 {
		return "", 0, cli.Exit(fmt.Sprintf("carepath rules %s: give ID VERSION", cmd), ExitInvalid)
	}
	n, err := strconv.Atoi(ctx.Args().Get(1))
	if err != nil || n < 1 {
		return "", 0, cli.Exit(fmt.Sprintf("carepath rules %s: VERSION %q: want a whole number from 1", cmd, ctx.Args().Get(1)), ExitInvalid)
	}
	return ctx.Args().First(), n, nil
}

func (c *commands) rulesDraft(ctx *cli.Context) error {
	if ctx.NArg() != 1 {
		return cli.Exit("carepath rules draft: give one FILE", ExitInvalid)
	}
	src, err := os.ReadFile(ctx.Args().First())
	if err != nil {
		return cli.Exit(fmt.Sprintf("carepath rules draft: %v", err), ExitInvalid)
	}
	if r, err := c.remote(ctx); r != nil || err != nil {
		if err != nil {
			return err
		}
		q := url.Values{}
		if reason := ctx.String("reason"); reason != "" {
			q.Set("reason", reason)
		}
		return r.call(ctx.Context, request{method: http.MethodPost, path: []string{"v1", "rulesets"}, query: q, contentType: "application/yaml", body: src})
	}
	return c.governed(ctx, func(g *governance.Service) error {
		v, err := g.Lifecycle.CreateDraft(ctx.Context, c.actor(), src, ctx.String("reason"))
		if err != nil {
			return refused(err)
		}
		fmt.Fprintf(c.io.Stdout, "stored %s v%d as a draft (sha256 %s)\n", v.ID, v.Version, v.SHA256)
		return nil
	})
}

func (c *commands) rulesSubmit(ctx *cli.Context) error {
	id, n, err := idVersion(ctx, "submit")
	if err != nil {
		return err
	}
	if r, err := c.remote(ctx); r != nil || err != nil {
		if err != nil {
			return err
		}
		return r.ruleSetAction(ctx.Context, id, n, "submit", actionBody{Reason: ctx.String("reason")})
	}
	return c.governed(ctx, func(g *governance.Service) error {
		gate, err := g.Lifecycle.Submit(ctx.Context, c.actor(), id, n, ctx.String("reason"))
		if gate != nil {
			_, _ = c.io.Stdout.Write(gate.Lint.Text())
			_, _ = c.io.Stdout.Write(gate.Tests.Text(false))
		}
		if err != nil {
			return refused(err)
		}
		fmt.Fprintf(c.io.Stdout, "%s v%d is in review\n", id, n)
		return nil
	})
}

func (c *commands) rulesApprove(ctx *cli.Context) error {
	id, n, err := idVersion(ctx, "approve")
	if err != nil {
		return err
	}
	if r, err := c.remote(ctx); r != nil || err != nil {
		if err != nil {
			return err
		}
		return r.ruleSetAction(ctx.Context, id, n, "approve", actionBody{Comment: ctx.String("comment"), ImpactDays: ctx.Int("impact-days")})
	}
	return c.governed(ctx, func(g *governance.Service) error {
		p, m, err := g.StoredProgram(ctx.Context, id, n)
		if err != nil {
			return refused(err)
		}
		if g.Pseudonymiser, err = c.pseudonymiser(ctx); err != nil {
			return err
		}
		imp, err := g.PreviewImpact(ctx.Context, p, m, c.now().AddDate(0, 0, -ctx.Int("impact-days")), 0)
		if err != nil {
			return err
		}
		_ = c.printJSON(imp)
		raw, _ := jsonBytes(imp)
		if err := g.Lifecycle.Approve(ctx.Context, c.actor(), id, n, ctx.String("comment"), raw); err != nil {
			return refused(err)
		}
		fmt.Fprintf(c.io.Stdout, "%s v%d is approved\n", id, n)
		return nil
	})
}

func (c *commands) rulesActivate(ctx *cli.Context) error {
	id, n, err := idVersion(ctx, "activate")
	if err != nil {
		return err
	}
	at, err := parseInstant("at", ctx.String("at"))
	if err != nil {
		return err
	}
	if r, err := c.remote(ctx); r != nil || err != nil {
		if err != nil {
			return err
		}
		body := actionBody{Reason: ctx.String("reason")}
		if !at.IsZero() {
			body.EffectiveFrom = &at
		}
		return r.ruleSetAction(ctx.Context, id, n, "activate", body)
	}
	return c.governed(ctx, func(g *governance.Service) error {
		if err := g.Lifecycle.Activate(ctx.Context, c.actor(), id, n, at, ctx.String("reason")); err != nil {
			return refused(err)
		}
		if at.IsZero() {
			at = c.now()
		}
		fmt.Fprintf(c.io.Stdout, "%s v%d is active from %s\n", id, n, at.UTC().Format(time.RFC3339))
		return nil
	})
}

func (c *commands) rulesRetire(ctx *cli.Context) error {
	id, n, err := idVersion(ctx, "retire")
	if err != nil {
		return err
	}
	if r, err := c.remote(ctx); r != nil || err != nil {
		if err != nil {
			return err
		}
		return r.ruleSetAction(ctx.Context, id, n, "retire", actionBody{Reason: ctx.String("reason")})
	}
	return c.governed(ctx, func(g *governance.Service) error {
		if err := g.Lifecycle.Retire(ctx.Context, c.actor(), id, n, ctx.String("reason")); err != nil {
			return refused(err)
		}
		fmt.Fprintf(c.io.Stdout, "%s v%d is retired\n", id, n)
		return nil
	})
}

func (c *commands) rulesReject(ctx *cli.Context) error {
	id, n, err := idVersion(ctx, "reject")
	if err != nil {
		return err
	}
	if r, err := c.remote(ctx); r != nil || err != nil {
		if err != nil {
			return err
		}
		return r.ruleSetAction(ctx.Context, id, n, "reject", actionBody{Reason: ctx.String("reason")})
	}
	return c.governed(ctx, func(g *governance.Service) error {
		if err := g.Lifecycle.Reject(ctx.Context, c.actor(), id, n, ctx.String("reason")); err != nil {
			return refused(err)
		}
		fmt.Fprintf(c.io.Stdout, "%s v%d is back to draft\n", id, n)
		return nil
	})
}

func (c *commands) rulesShadowStart(ctx *cli.Context) error {
	id, n, err := idVersion(ctx, "shadow start")
	if err != nil {
		return err
	}
	return c.governed(ctx, func(g *governance.Service) error {
		run, err := governance.StartShadow(ctx.Context, g.DB, id, n, c.principal().Subject, c.now())
		if err != nil {
			return refused(err)
		}
		return c.printJSON(run)
	})
}

func (c *commands) rulesShadowStop(ctx *cli.Context) error {
	if ctx.NArg() != 1 {
		return cli.Exit("carepath rules shadow stop: give one rule-set ID", ExitInvalid)
	}
	return c.governed(ctx, func(g *governance.Service) error {
		run, err := governance.StopShadow(ctx.Context, g.DB, ctx.Args().First(), c.principal().Subject, c.now())
		if err != nil {
			return refused(err)
		}
		return c.printJSON(run)
	})
}

func (c *commands) rulesShadowReport(ctx *cli.Context) error {
	if ctx.NArg() != 1 {
		return cli.Exit("carepath rules shadow report: give one rule-set ID", ExitInvalid)
	}
	return c.governed(ctx, func(g *governance.Service) error {
		runs, err := governance.ShadowRuns(ctx.Context, g.DB, ctx.Args().First())
		if err != nil {
			return err
		}
		pseudonyms, err := c.pseudonymiser(ctx)
		if err != nil {
			return err
		}
		var reports []*governance.ShadowReport
		for _, run := range runs {
			rep, err := governance.ShadowReportOf(ctx.Context, g.DB, pseudonyms, run.ID)
			if err != nil {
				return err
			}
			reports = append(reports, rep)
		}
		return c.printJSON(map[string]any{"runs": reports})
	})
}

func (c *commands) rulesHistory(ctx *cli.Context) error {
	if ctx.NArg() != 1 {
		return cli.Exit("carepath rules history: give one rule-set ID", ExitInvalid)
	}
	return c.governed(ctx, func(g *governance.Service) error {
		h, err := g.Rules.History(ctx.Context, ctx.Args().First())
		if err != nil {
			return err
		}
		for _, e := range h {
			// The subject is what the two-person rule compares; the name, when recorded, is for people.
			name := ""
			if e.ActorName != "" && e.ActorName != e.Actor {
				name = "  [" + e.ActorName + "]"
			}
			fmt.Fprintf(c.io.Stdout, "%s  v%d  %-9s -> %-9s  %s  %s%s\n", e.At.UTC().Format(time.RFC3339), e.Version, orNone(e.From), e.To, e.Actor, e.Reason, name)
		}
		return nil
	})
}

func (c *commands) rulesWhyNot(ctx *cli.Context) error {
	if ctx.NArg() != 2 {
		return cli.Exit("carepath rules why-not: give DECISION PATHWAY", ExitInvalid)
	}
	return c.governed(ctx, func(g *governance.Service) error {
		w, err := g.WhyNot(context.WithoutCancel(ctx.Context), ctx.Args().Get(0), ctx.Args().Get(1))
		if err != nil {
			return refused(err)
		}
		_, _ = c.io.Stdout.Write(w.Text())
		return nil
	})
}

func orNone(s rules.Status) string {
	if s == "" {
		return "(new)"
	}
	return string(s)
}

// refused turns an error the person can fix (invalid, not found, conflict) into exit code 2, and
// a refusal of who is acting (not signed in, not allowed) into exit code 4.
func refused(err error) error {
	switch failureCode(err) {
	case "invalid", "not_found", "conflict":
		return cli.Exit(err.Error(), ExitInvalid)
	case string(failure.Forbidden), string(failure.Unauthenticated):
		return cli.Exit(err.Error(), ExitForbidden)
	}
	return err
}

func jsonBytes(v any) ([]byte, error) {
	var b bytes.Buffer
	err := jsonEncode(&b, v)
	return b.Bytes(), err
}

func failureCode(err error) string { return string(failure.CodeOf(err)) }

func jsonEncode(b *bytes.Buffer, v any) error { return json.NewEncoder(b).Encode(v) }
