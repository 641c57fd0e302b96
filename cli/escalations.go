package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/routing"
)

// The access audit's actions of the escalations commands, as the server records them.
const (
	actionEscalationList    = "escalation.list"
	actionEscalationResolve = "escalation.resolve"
)

// resolvedEscalation is what `escalations resolve` prints: the escalation, who resolved it and why.
type resolvedEscalation struct {
	routing.Escalation
	ResolvedBy string `json:"resolved_by"`
	Note       string `json:"note"`
	CaseStep   bool   `json:"case_step"`
}

func (c *commands) escalationsCommand() *cli.Command {
	return &cli.Command{
		Name:  "escalations",
		Usage: "cases nobody, on call included, could be booked for before their deadline",
		Subcommands: []*cli.Command{{
			Name:  "list",
			Usage: "list the open escalations, the most pressing deadline first, as JSON",
			Flags: []cli.Flag{&cli.StringFlag{Name: "team", Usage: "only this team's (default every team's)"}},
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 0 {
					return cli.Exit("carepath escalations list: takes no arguments; use --team to choose a team", ExitInvalid)
				}
				s, err := c.open(ctx, false)
				if err != nil {
					return err
				}
				defer s.close()
				list, err := routing.NewSQLStore(s.db).Escalations(ctx.Context, strings.TrimSpace(ctx.String("team")))
				if err != nil {
					return err
				}
				if len(list) > 0 {
					ids := make([]string, len(list))
					for i, e := range list {
						ids[i] = e.DecisionID
					}
					if err := c.recordAccess(ctx, s, actionEscalationList, ids, ""); err != nil {
						return err
					}
				}
				return c.printJSON(map[string]any{"escalations": list})
			},
		}, {
			Name: "resolve",
			Usage: "mark a case's escalation handled, with a note saying how; the case's history, an escalation.resolved " +
				"event and the access audit record it in the same transaction",
			ArgsUsage: "DECISION",
			Flags: []cli.Flag{&cli.StringFlag{Name: "note", Required: true,
				Usage: fmt.Sprintf("how the escalation was handled: plain text, up to %d characters", routing.MaxResolutionNote)}},
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 1 {
					return cli.Exit("carepath escalations resolve: give one DECISION id", ExitInvalid)
				}
				note, err := routing.ResolutionNote(ctx.String("note"))
				if err != nil {
					return refuse("escalations resolve", err)
				}
				s, err := c.open(ctx, false)
				if err != nil {
					return err
				}
				defer s.close()
				d, err := s.forms.Decision(ctx.Context, ctx.Args().First())
				if err != nil {
					return refuse("escalations resolve", err)
				}
				who, now := c.principal().Subject, c.now()
				out := resolvedEscalation{ResolvedBy: who, Note: note}
				err = s.db.InTx(ctx.Context, func(tx *database.Tx) error {
					e, err := routing.NewSQLStore(s.db).ResolveEscalationTx(ctx.Context, tx, d.ID, now)
					if err != nil {
						return err
					}
					out.Escalation = e
					if out.CaseStep, err = (&cases.Store{DB: s.db}).NoteEscalationTx(ctx.Context, tx, d.ID, who, now, note); err != nil {
						return err
					}
					if err := s.events.EscalationResolved(ctx.Context, tx, e, who, note); err != nil {
						return err
					}
					return audit.AppendTx(ctx.Context, tx, c.access(actionEscalationResolve, []string{d.ID}, ""))
				})
				if err != nil {
					return refuse("escalations resolve", err)
				}
				return c.printJSON(out)
			},
		}},
	}
}
