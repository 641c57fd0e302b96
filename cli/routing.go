package cli

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/triage"
)

// placement is the engine's routing, or a refusal when it is not configured.
func placementOf(s *services) (*triage.Placement, error) {
	p := s.engine.Placement
	if p == nil {
		return nil, failure.Errorf(failure.Unavailable, "routing is not configured")
	}
	if _, err := p.Zone(); err != nil {
		return nil, err
	}
	return p, nil
}

func (c *commands) routingCommand() *cli.Command {
	dateFlag := &cli.StringFlag{Name: "date", Required: true, Usage: "local date YYYY-MM-DD, or an RFC 3339 time naming its day (time zone: CAREPATH_TIMEZONE, default Europe/London)"}
	// withPlacement opens the database and hands the command the engine's routing.
	withPlacement := func(name string, fn func(ctx *cli.Context, s *services, p *triage.Placement) error) cli.ActionFunc {
		return func(ctx *cli.Context) error {
			s, err := c.open(ctx, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := placementOf(s)
			if err != nil {
				return err
			}
			return refuse("routing "+name, fn(ctx, s, p))
		}
	}
	oneArg := func(name, what string, fn func(ctx *cli.Context, s *services, p *triage.Placement, arg string) error) cli.ActionFunc {
		inner := withPlacement(name, func(ctx *cli.Context, s *services, p *triage.Placement) error {
			return fn(ctx, s, p, ctx.Args().First())
		})
		return func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return cli.Exit(fmt.Sprintf("carepath routing %s: give one %s", name, what), ExitInvalid)
			}
			return inner(ctx)
		}
	}
	return &cli.Command{
		Name:  "routing",
		Usage: "practitioners' days, appointments and batch optimisation",
		Subcommands: []*cli.Command{
			c.routingSolveCommand(),
			{
				Name:  "day",
				Usage: "list a practitioner's booked visits on a day",
				Flags: []cli.Flag{&cli.StringFlag{Name: "practitioner", Required: true, Usage: "practitioner id"}, dateFlag},
				Action: withPlacement("day", func(ctx *cli.Context, s *services, p *triage.Placement) error {
					day, err := localDay("date", ctx.String("date"), p.Loc)
					if err != nil {
						return err
					}
					visits, err := p.DayVisits(ctx.Context, day, ctx.String("practitioner"))
					if err != nil {
						return err
					}
					return c.printJSON(map[string]any{"practitioner_id": ctx.String("practitioner"), "date": day, "visits": visits})
				}),
			},
			{
				Name:      "cancel",
				Usage:     "cancel a booked appointment, freeing its slot",
				ArgsUsage: "APPOINTMENT",
				Action: oneArg("cancel", "APPOINTMENT id", func(ctx *cli.Context, s *services, p *triage.Placement, id string) error {
					v, err := p.Routing.Cancel(ctx.Context, nil, id, c.now())
					if err != nil {
						return err
					}
					return c.printJSON(v)
				}),
			},
			{
				Name:      "move",
				Usage:     "move a booked appointment to another free slot of the same practitioner",
				ArgsUsage: "APPOINTMENT",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "start", Required: true, Usage: "new start, RFC 3339 (e.g. 2026-11-27T10:00:00Z)"}},
				Action: oneArg("move", "APPOINTMENT id", func(ctx *cli.Context, s *services, p *triage.Placement, id string) error {
					start, err := time.Parse(time.RFC3339, ctx.String("start"))
					if err != nil {
						return failure.Errorf(failure.Invalid, "start: %q is not an RFC 3339 time", ctx.String("start"))
					}
					v, err := p.Routing.Move(ctx.Context, id, start, p.Loc, c.now())
					if err != nil {
						return err
					}
					return c.printJSON(v)
				}),
			},
			{
				Name:      "reassign",
				Usage:     "cancel a case's appointment and book the best other practitioner",
				ArgsUsage: "DECISION",
				Action: oneArg("reassign", "DECISION id", func(ctx *cli.Context, s *services, p *triage.Placement, id string) error {
					d, err := s.engine.Reassign(ctx.Context, id)
					if err != nil {
						return err
					}
					return c.printJSON(d)
				}),
			},
			{
				Name:  "export",
				Usage: "print a day's visits and practitioners' bases as a GeoJSON FeatureCollection",
				Flags: []cli.Flag{dateFlag},
				Action: withPlacement("export", func(ctx *cli.Context, s *services, p *triage.Placement) error {
					day, err := localDay("date", ctx.String("date"), p.Loc)
					if err != nil {
						return err
					}
					out, err := p.ExportDay(ctx.Context, day)
					if err != nil {
						return err
					}
					_, err = c.io.Stdout.Write(out)
					return err
				}),
			},
			{
				Name:  "optimise",
				Usage: "reassign a day's not-yet-started, unpinned visits to minimise total travel, in one transaction",
				Flags: []cli.Flag{dateFlag, &cli.BoolFlag{Name: "dry-run", Usage: "report the plan without applying it"}},
				Action: withPlacement("optimise", func(ctx *cli.Context, s *services, p *triage.Placement) error {
					day, err := localDay("date", ctx.String("date"), p.Loc)
					if err != nil {
						return err
					}
					report, err := p.Optimise(ctx.Context, day, c.now(), ctx.Bool("dry-run"))
					if err != nil {
						return err
					}
					return c.printJSON(report)
				}),
			},
		},
	}
}
