package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/routing"
)

// oncallCommand manages the on-call rota that receives cases no working practitioner can reach
// before their deadline.
func (c *commands) oncallCommand() *cli.Command {
	return &cli.Command{
		Name:  "oncall",
		Usage: "the on-call rota: who answers for a service out of hours",
		Subcommands: []*cli.Command{{
			Name:      "add",
			Usage:     "add or replace rota entries from a JSON array of {id, service_id, practitioner_id, starts, ends, note}",
			ArgsUsage: "FILE|-",
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 1 {
					return cli.Exit("carepath oncall add: give one FILE, or - for standard input", ExitInvalid)
				}
				data, err := c.readFile(ctx.Args().First())
				if err != nil {
					return cli.Exit(fmt.Sprintf("carepath oncall add: %v", err), ExitInvalid)
				}
				if err := checkJSON("oncall add", ctx.Args().First(), data); err != nil {
					return err
				}
				var entries []routing.OnCall
				if err := json.Unmarshal(data, &entries); err != nil {
					return cli.Exit(fmt.Sprintf("carepath oncall add: refused; nothing was changed: want a JSON array of rota entries: %v", err), ExitInvalid)
				}
				s, err := c.open(ctx, false)
				if err != nil {
					return err
				}
				defer s.close()
				if err := refuse("oncall add", routing.NewSQLStore(s.db).PutOnCall(ctx.Context, entries, c.now())); err != nil {
					return err
				}
				fmt.Fprintf(c.io.Stdout, "added %d on-call entries\n", len(entries))
				return nil
			},
		}, {
			Name:  "list",
			Usage: "list rota entries overlapping a span, as JSON",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "from", Usage: "start of the span, RFC 3339 (default now)"},
				&cli.IntFlag{Name: "days", Value: 7, Usage: "length of the span in days (1 to 366)"},
				&cli.StringSliceFlag{Name: "service", Usage: "only these services (repeatable)"},
			},
			Action: func(ctx *cli.Context) error {
				from := c.now()
				if v := ctx.String("from"); v != "" {
					t, err := time.Parse(time.RFC3339, v)
					if err != nil {
						return cli.Exit(fmt.Sprintf("carepath oncall list: --from %q is not an RFC 3339 time", v), ExitInvalid)
					}
					from = t
				}
				days := ctx.Int("days")
				if days < 1 || days > 366 {
					return cli.Exit(fmt.Sprintf("carepath oncall list: --days %d is not between 1 and 366", days), ExitInvalid)
				}
				s, err := c.open(ctx, false)
				if err != nil {
					return err
				}
				defer s.close()
				entries, err := routing.NewSQLStore(s.db).OnCallBetween(ctx.Context, nil, from, from.AddDate(0, 0, days), ctx.StringSlice("service")...)
				if err != nil {
					return err
				}
				return c.printJSON(entries)
			},
		}},
	}
}
