package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/failure"
)

func (c *commands) auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "the access audit, and the hash chains that make it and the rule-set audit trail tamper-evident",
		Subcommands: []*cli.Command{
			{
				Name:  "search",
				Usage: "list who read or changed which records, newest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "user", Usage: "only accesses by this subject (user id, local:NAME, ...)"},
					&cli.StringFlag{Name: "subject", Usage: "only accesses to this record id (a decision, appointment, ...)"},
					&cli.StringFlag{Name: "since", Usage: "only accesses at or after `WHEN`: YYYY-MM-DD (UTC) or RFC 3339"},
					&cli.StringFlag{Name: "until", Usage: "only accesses before `WHEN`: RFC 3339, or YYYY-MM-DD (UTC) to include that whole day"},
					&cli.BoolFlag{Name: "break-glass", Usage: "only accesses that broke the glass"},
					&cli.IntFlag{Name: "limit", Value: audit.DefaultLimit, Usage: fmt.Sprintf("at most `N` records (up to %d)", audit.MaxLimit)},
					&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"},
				},
				Action: c.auditSearch,
			},
			{
				Name:  "verify",
				Usage: "recompute the audit hash chains; exit 1 naming the first changed, missing or added row",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "chain", Value: "all", Usage: "access, ruleset or all"},
				},
				Action: c.auditVerify,
			},
		},
	}
}

func (c *commands) auditSearch(ctx *cli.Context) error {
	invalid := func(format string, args ...any) error {
		return cli.Exit("carepath audit search: "+fmt.Sprintf(format, args...), ExitInvalid)
	}
	format := ctx.String("format")
	if format != "text" && format != "json" {
		return invalid("--format %q: want text or json", format)
	}
	f := audit.Filter{Subject: ctx.String("user"), Record: ctx.String("subject"), BreakGlassOnly: ctx.Bool("break-glass"), Limit: ctx.Int("limit")}
	var err error
	if f.Since, err = parseWhen(ctx.String("since"), false); err != nil {
		return invalid("--since: %v", err)
	}
	if f.Until, err = parseWhen(ctx.String("until"), true); err != nil {
		return invalid("--until: %v", err)
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()
	found, err := (&audit.Log{DB: s.db}).Search(ctx.Context, f)
	if failure.CodeOf(err) == failure.Invalid {
		return invalid("%v", err)
	} else if err != nil {
		return err
	}
	// Searching the audit is itself an access to who looked at whom: it is recorded too.
	if err := c.recordAccess(ctx, s, audit.ActionAuditSearch, []string{"audit:" + f.Subject + ":" + f.Record}, ""); err != nil {
		return err
	}
	if format == "json" {
		return c.printJSON(found)
	}
	for _, a := range found {
		purpose := a.Purpose
		if a.BreakGlass {
			purpose = "BREAK GLASS: " + purpose
		}
		fmt.Fprintf(c.io.Stdout, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Seq, a.At.Format(time.RFC3339), a.Subject, orDash(a.Team),
			a.Action, a.Outcome, orDash(strings.Join(a.Records, ",")), orDash(purpose))
	}
	return nil
}

func (c *commands) auditVerify(ctx *cli.Context) error {
	chains := audit.Chains()
	if name := ctx.String("chain"); name != "all" {
		if !slices.Contains(chains, name) {
			return cli.Exit(fmt.Sprintf("carepath audit verify: --chain %q: want %s or all", name, strings.Join(chains, ", ")), ExitInvalid)
		}
		chains = []string{name}
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.close()
	// Rows written since the last sealing (by this command line, or by a server between its
	// rounds) are linked first, so that the check covers everything committed so far.
	if _, err := (&audit.Sealer{DB: s.db, Now: c.now}).Seal(ctx.Context); err != nil {
		return err
	}
	var broken []string
	for _, chain := range chains {
		r, err := audit.Verify(ctx.Context, s.db, chain)
		if err != nil {
			return err
		}
		if !r.OK {
			broken = append(broken, fmt.Sprintf("the %s chain is broken at row %d: %s", r.Chain, r.FirstBad, r.Problem))
			continue
		}
		line := fmt.Sprintf("%s: intact, %d rows, head %s", r.Chain, r.Rows, r.Head)
		if r.Unchained > 0 {
			line += fmt.Sprintf(" (and %d earlier rows from before the chain began, not hashed)", r.Unchained)
		}
		fmt.Fprintln(c.io.Stdout, line)
	}
	if len(broken) > 0 {
		return cli.Exit("carepath audit verify: "+strings.Join(broken, "; "), ExitFailure)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
