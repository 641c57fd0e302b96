package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/outcomes"
)

// Access-audit actions of the case commands.
const (
	actionCaseList = "case.list"
	actionCaseRead = "case.read"
	actionCaseStep = "case.step"
)

// withCaseSteps adds the case lifecycle commands (list, show, step) beside cases import.
func (c *commands) withCaseSteps(cmd *cli.Command) *cli.Command {
	cmd.Usage = "stored cases: the worklist, one case's history, recording steps, bulk import"
	cmd.Subcommands = append(cmd.Subcommands,
		&cli.Command{
			Name:  "list",
			Usage: "lists cases, oldest first, in pages",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "team", Usage: "only cases filed under this team"},
				&cli.StringFlag{Name: "status", Usage: "only cases in this status: " + strings.Join(statusNames(), ", ")},
				&cli.StringFlag{Name: "pathway", Usage: "only cases on this pathway"},
				&cli.BoolFlag{Name: "overdue", Usage: "only cases past their respond-by time that nobody has seen"},
				&cli.BoolFlag{Name: "manual", Usage: "only cases needing manual allocation"},
				&cli.StringFlag{Name: "cursor", Usage: "start after this cursor (printed at the end of the previous page)"},
				&cli.IntFlag{Name: "size", Value: cases.DefaultPage, Usage: fmt.Sprintf("cases per page, 1 to %d", cases.MaxPage)},
				&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
			},
			Action: c.listCases,
		},
		&cli.Command{
			Name:      "show",
			Usage:     "prints one case with every step taken on it",
			ArgsUsage: "CASE",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}},
			Action:    c.showCase,
		},
		&cli.Command{
			Name:      "step",
			Usage:     "records a step of a case: accept, decline, book, visit_done, visit_missed, outcome, close",
			ArgsUsage: "CASE STEP",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "at", Usage: "when it happened (RFC 3339 or YYYY-MM-DD); now by default"},
				&cli.StringFlag{Name: "reason", Usage: "why (required to decline)"},
				&cli.StringFlag{Name: "appointment", Usage: "with book: the visit booked"},
				&cli.StringFlag{Name: "at-home", Usage: "with a discharge case's outcome: yes or no, still at home 91 days after discharge"},
				&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
			},
			Action: c.stepCase,
		},
	)
	return cmd
}

func statusNames() []string {
	out := make([]string, len(cases.Statuses))
	for i, s := range cases.Statuses {
		out[i] = string(s)
	}
	return out
}

func checkFormat(cmd, format string) error {
	if format != "text" && format != "json" {
		return cli.Exit(fmt.Sprintf("carepath %s: --format must be text or json, got %q", cmd, format), ExitInvalid)
	}
	return nil
}

func (c *commands) listCases(ctx *cli.Context) error {
	if err := checkFormat("cases list", ctx.String("format")); err != nil {
		return err
	}
	f := cases.Filter{Everyone: true, Pathway: ctx.String("pathway"), Overdue: ctx.Bool("overdue"), Manual: ctx.Bool("manual"), Limit: ctx.Int("size"), Now: c.now()}
	if t := ctx.String("team"); t != "" {
		f.Everyone, f.Teams = false, []string{t}
	}
	var err error
	if s := ctx.String("status"); s != "" {
		if f.Status, err = cases.ParseStatus("--status", s); err != nil {
			return cli.Exit("carepath cases list: "+err.Error(), ExitInvalid)
		}
	}
	if f.After, err = cases.ParseCursor(ctx.String("cursor")); err != nil {
		return cli.Exit("carepath cases list: --"+err.Error(), ExitInvalid)
	}
	if f.Limit < 1 || f.Limit > cases.MaxPage {
		return cli.Exit(fmt.Sprintf("carepath cases list: --size must be 1 to %d", cases.MaxPage), ExitInvalid)
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()
	page, err := (&cases.Store{DB: s.db}).List(ctx.Context, f)
	if err != nil {
		return err
	}
	if len(page.Cases) > 0 {
		ids := make([]string, len(page.Cases))
		for i, k := range page.Cases {
			ids[i] = k.ID
		}
		if err := c.recordAccess(ctx, s, actionCaseList, ids, "cases list"); err != nil {
			return err
		}
	}
	if ctx.String("format") == "json" {
		return c.printJSON(page)
	}
	tw := tabwriter.NewWriter(c.io.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tTEAM\tPATHWAY\tPRIORITY\tSTATUS\tRESPOND BY\tMANUAL")
	for _, k := range page.Cases {
		by := "-"
		if k.RespondBy != nil {
			by = k.RespondBy.UTC().Format(time.RFC3339)
			if k.Overdue(f.Now) {
				by += " (overdue)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\n", k.ID, k.Team, k.Pathway, k.Priority, k.Status, by, k.ManualAllocation)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(c.io.Stdout, "more: --cursor %s\n", page.Next)
	}
	return nil
}

func (c *commands) showCase(ctx *cli.Context) error {
	if ctx.NArg() != 1 {
		return cli.Exit("carepath cases show: give one CASE id", ExitInvalid)
	}
	if err := checkFormat("cases show", ctx.String("format")); err != nil {
		return err
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()
	k, err := (&cases.Store{DB: s.db}).Case(ctx.Context, ctx.Args().First())
	if err != nil {
		return err
	}
	if err := c.recordAccess(ctx, s, actionCaseRead, []string{k.ID}, "cases show"); err != nil {
		return err
	}
	if ctx.String("format") == "json" {
		return c.printJSON(k)
	}
	writeCase(c.io.Stdout, k)
	return nil
}

func writeCase(w io.Writer, k *cases.Case) {
	fmt.Fprintf(w, "case %s: %s (%s, %s), team %s, %s\n", k.ID, k.Status, k.Pathway, k.Priority, k.Team, k.Form)
	if len(k.NextSteps) > 0 {
		names := make([]string, len(k.NextSteps))
		for i, s := range k.NextSteps {
			names[i] = string(s)
		}
		fmt.Fprintf(w, "next: %s\n", strings.Join(names, " or "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tSTEP\tFROM\tTO\tWHO")
	for _, s := range k.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.At.UTC().Format(time.RFC3339), s.Step, orDash(string(s.From)), s.To, s.Actor)
	}
	_ = tw.Flush()
}

func (c *commands) stepCase(ctx *cli.Context) error {
	if ctx.NArg() != 2 {
		return cli.Exit("carepath cases step: give the CASE id and the STEP", ExitInvalid)
	}
	if err := checkFormat("cases step", ctx.String("format")); err != nil {
		return err
	}
	step, err := cases.ParseStep(ctx.Args().Get(1))
	if err != nil {
		return cli.Exit("carepath cases step: "+err.Error(), ExitInvalid)
	}
	at := c.now()
	if v := ctx.String("at"); v != "" {
		if at, err = parseInstant("at", v); err != nil {
			return err
		}
		if at.After(c.now().Add(5 * time.Minute)) {
			return cli.Exit("carepath cases step: --at is in the future; record a step once it has happened", ExitInvalid)
		}
	}
	ch := cases.Change{Step: step, Actor: c.principal().Subject, At: at, Reason: ctx.String("reason"), AppointmentID: ctx.String("appointment")}
	switch v := ctx.String("at-home"); v {
	case "":
	case "yes", "no":
		home := v == "yes"
		ch.AtHome = &home
	default:
		return cli.Exit(fmt.Sprintf("carepath cases step: --at-home must be yes or no, got %q", v), ExitInvalid)
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()
	id := ctx.Args().First()
	var k *cases.Case
	err = s.db.InTx(ctx.Context, func(tx *database.Tx) error {
		var err error
		if k, err = (&cases.Store{DB: s.db, Publish: s.events.CaseStepped}).RecordTx(ctx.Context, tx, id, ch); err != nil {
			return err
		}
		return audit.AppendTx(ctx.Context, tx, c.access(actionCaseStep, []string{id}, "cases step "+string(step)))
	})
	if err != nil {
		return err
	}
	if ctx.String("format") == "json" {
		return c.printJSON(k)
	}
	writeCase(c.io.Stdout, k)
	return nil
}

func (c *commands) outcomesCommand() *cli.Command {
	return &cli.Command{
		Name:  "outcomes",
		Usage: "reports what happened after decisions, by pathway, rule, rule-set version or team, over pseudonymised data",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "by", Value: outcomes.ByPathway, Usage: strings.Join(outcomes.Groupings, ", ")},
			&cli.StringFlag{Name: "ruleset", Usage: "only cases decided by this rule set"},
			&cli.StringFlag{Name: "form", Usage: "only cases on this form"},
			&cli.StringFlag{Name: "team", Usage: "only cases filed under this team"},
			&cli.StringFlag{Name: "pathway", Usage: "only cases on this pathway"},
			&cli.StringFlag{Name: "since", Usage: "only cases opened at or after (RFC 3339 or YYYY-MM-DD)"},
			&cli.StringFlag{Name: "until", Usage: "only cases opened before (RFC 3339 or YYYY-MM-DD)"},
			&cli.IntFlag{Name: "phq9-caseness", Value: outcomes.TalkingTherapies().PHQ9Caseness, Usage: "PHQ-9 total at or above which a person is at caseness"},
			&cli.IntFlag{Name: "gad7-caseness", Value: outcomes.TalkingTherapies().GAD7Caseness, Usage: "GAD-7 total at or above which a person is at caseness"},
			&cli.StringFlag{Name: "format", Value: outcomes.FormatText, Usage: "text, json or csv"},
			&cli.StringFlag{Name: "out", Usage: "write the report to this file instead of standard output"},
			&cli.BoolFlag{Name: "open-imported", Usage: "first open a case for every stored decision without one (such as a bulk import's)"},
		},
		Action: c.outcomes,
	}
}

func (c *commands) outcomes(ctx *cli.Context) error {
	refuse := func(format string, args ...any) error {
		return cli.Exit("carepath outcomes: "+fmt.Sprintf(format, args...), ExitInvalid)
	}
	format := ctx.String("format")
	if format != outcomes.FormatText && format != outcomes.FormatJSON && format != outcomes.FormatCSV {
		return refuse("--format must be text, json or csv, got %q", format)
	}
	by := ctx.String("by")
	valid := false
	for _, g := range outcomes.Groupings {
		valid = valid || g == by
	}
	if !valid {
		return refuse("--by must be one of %s, got %q", strings.Join(outcomes.Groupings, ", "), by)
	}
	th := outcomes.TalkingTherapies()
	th.PHQ9Caseness, th.GAD7Caseness = ctx.Int("phq9-caseness"), ctx.Int("gad7-caseness")
	if th.PHQ9Caseness < 1 || th.PHQ9Caseness > 27 || th.GAD7Caseness < 1 || th.GAD7Caseness > 21 {
		return refuse("--phq9-caseness must be 1 to 27 and --gad7-caseness 1 to 21")
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
	store := &cases.Store{DB: s.db}
	if ctx.Bool("open-imported") {
		n, err := store.Backfill(ctx.Context)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.io.Stderr, "opened %d cases for stored decisions without one\n", n)
	}
	pseudonyms, err := c.pseudonymiser(ctx)
	if err != nil {
		return err
	}
	rep, err := outcomes.Run(ctx.Context, outcomes.Config{Source: store, By: by, Thresholds: th, Pseudonymiser: pseudonyms,
		Filter: cases.OutcomeFilter{RuleSet: ctx.String("ruleset"), Form: ctx.String("form"), Team: ctx.String("team"), Pathway: ctx.String("pathway"), Since: since, Until: until}})
	if err != nil {
		return err
	}
	action := audit.ActionReplayRun
	if ctx.String("out") != "" || format != outcomes.FormatText {
		action = audit.ActionExportRun
	}
	if err := c.recordAccess(ctx, s, action, []string{"outcomes:" + by}, "outcomes --by "+by+" --format "+format); err != nil {
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
	return rep.Write(out, format)
}
