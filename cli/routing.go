package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/routing"
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
					v, err := cancelVisit(ctx.Context, s, p, id, c.now())
					if err != nil {
						return err
					}
					return c.printJSON(v)
				}),
			},
			{
				Name:      "move",
				Usage:     "move a booked appointment to another time on the same practitioner's route (any minute that fits: hours, breaks, travel, opening hours, the visit's window)",
				ArgsUsage: "APPOINTMENT",
				Flags: []cli.Flag{&cli.StringFlag{Name: "start", Required: true, Usage: "new start, RFC 3339 (e.g. 2026-11-27T10:07:00Z)"},
					&cli.BoolFlag{Name: "override-window", Usage: "move the visit outside its own window anyway (recorded)"}},
				Action: oneArg("move", "APPOINTMENT id", func(ctx *cli.Context, s *services, p *triage.Placement, id string) error {
					start, err := time.Parse(time.RFC3339, ctx.String("start"))
					if err != nil {
						return failure.Errorf(failure.Invalid, "start: %q is not an RFC 3339 time", ctx.String("start"))
					}
					var v routing.StoredVisit
					err = s.db.InTx(ctx.Context, func(tx *database.Tx) error {
						if v, err = p.Move(ctx.Context, tx, id, start, c.now(), ctx.Bool("override-window")); err != nil {
							return err
						}
						return s.events.AppointmentChanged(ctx.Context, tx, outbox.AppointmentMoved, v)
					})
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
					d, err := s.engine.ReassignClearing(ctx.Context, id, s.events.DecisionReassigned, s.events.ClearedByReassignment(&cases.Store{DB: s.db}, c.principal().Subject))
					if err != nil {
						return err
					}
					return c.printJSON(d)
				}),
			},
			{
				Name:  "export",
				Usage: "print a day's visits, practitioners' bases and each practitioner's route (a LineString in visit order, on the roads when the travel source is OSRM) as a GeoJSON FeatureCollection",
				Flags: []cli.Flag{dateFlag},
				Action: withPlacement("export", func(ctx *cli.Context, s *services, p *triage.Placement) error {
					day, err := localDay("date", ctx.String("date"), p.Loc)
					if err != nil {
						return err
					}
					cfg, err := c.config(ctx)
					if err != nil {
						return err
					}
					src, err := travelSource(cfg)
					if err != nil {
						return err
					}
					visits, err := p.DayVisits(ctx.Context, day, "")
					if err != nil {
						return err
					}
					roster, err := p.Routing.Practitioners(ctx.Context)
					if err != nil {
						return err
					}
					out, err := routing.DayRoutesGeoJSON(ctx.Context, visits, roster, p.Loc, src.Geometry)
					if err != nil {
						return err
					}
					_, err = c.io.Stdout.Write(out)
					return err
				}),
			},
			c.routingPlanCommand(dateFlag),
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

// travelSource builds the travel the configuration names (routing.travel and the OSRM keys).
func travelSource(cfg config.Config) (routing.TravelSource, error) {
	src, err := routing.NewTravelSource(routing.TravelConfig{Source: cfg.Routing.Travel, OSRMURL: cfg.Routing.OSRMURL,
		MaxTable: cfg.Routing.OSRMMaxTable, Timeout: cfg.Routing.OSRMTimeout})
	if err != nil {
		return routing.TravelSource{}, failure.Errorf(failure.Invalid, "config: routing: %w", err)
	}
	return src, nil
}

// withTravel gives a placement the configured travel in place of its default.
func withTravel(p *triage.Placement, src routing.TravelSource) *triage.Placement {
	if src.Travel != nil {
		p.Travel = src.Travel
		// The route book measures the routes decisions are inserted into: with the same travel.
		p.Routes.Travel = src.Travel
	}
	return p
}

// planner re-plans days over the placement's store, travel and time zone.
func planner(p *triage.Placement, clock func() time.Time) (*routing.Planner, error) {
	store, ok := p.Routing.(routing.PlanStore)
	if !ok {
		return nil, failure.Errorf(failure.Unavailable, "routing: the appointment store cannot re-plan days")
	}
	return &routing.Planner{Store: store, Travel: p.Travel, Loc: p.Loc, Clock: clock}, nil
}

func (c *commands) routingPlanCommand(dateFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name: "plan",
		Usage: "re-plan a day's routes for all practitioners, minimising total travel under every hard constraint " +
			"(pinned and started visits stay); prints what would move and why, and makes the changes with --apply",
		Flags: []cli.Flag{dateFlag,
			&cli.StringFlag{Name: "time-limit", Value: "30s", Usage: "search time (a Go duration)"},
			&cli.IntFlag{Name: "iterations", Usage: "stop after this many iterations instead (repeatable for a seed)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "the search's seed"},
			&cli.Float64Flag{Name: "move-penalty", Value: routing.DefaultMovePenaltyMinutes, Usage: "minutes of travel a change must save before a visit goes to another practitioner"},
			&cli.StringFlag{Name: "flex", Value: routing.DefaultPlanFlex.String(), Usage: "how far a visit booked without a window may move from its time (a Go duration)"},
			&cli.BoolFlag{Name: "apply", Usage: "make the changes, in one transaction"},
		},
		Action: func(ctx *cli.Context) error {
			limit, err := time.ParseDuration(ctx.String("time-limit"))
			if err != nil || limit <= 0 {
				return cli.Exit(fmt.Sprintf("carepath routing plan: --time-limit %q: give a positive duration", ctx.String("time-limit")), ExitInvalid)
			}
			flex, err := time.ParseDuration(ctx.String("flex"))
			if err != nil || flex <= 0 {
				return cli.Exit(fmt.Sprintf("carepath routing plan: --flex %q: give a positive duration", ctx.String("flex")), ExitInvalid)
			}
			if ctx.Int("iterations") < 0 || ctx.Float64("move-penalty") < 0 {
				return cli.Exit("carepath routing plan: --iterations and --move-penalty must not be negative", ExitInvalid)
			}
			s, err := c.open(ctx, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := placementOf(s)
			if err != nil {
				return refuse("routing plan", err)
			}
			day, err := localDay("date", ctx.String("date"), p.Loc)
			if err != nil {
				return refuse("routing plan", err)
			}
			pl, err := planner(p, c.now)
			if err != nil {
				return refuse("routing plan", err)
			}
			opt := routing.PlanOptions{Iterations: ctx.Int("iterations"), Seed: ctx.Uint64("seed"),
				MovePenaltyMinutes: ctx.Float64("move-penalty"), Flex: flex, Apply: ctx.Bool("apply")}
			run := context.Context(ctx.Context)
			if opt.Iterations == 0 {
				opt.TimeLimit = limit
				// A backstop whatever clock the command was given; the search ends on its own.
				var cancel context.CancelFunc
				run, cancel = context.WithTimeout(run, 2*limit+10*time.Second)
				defer cancel()
			}
			report, err := pl.PlanDate(run, day, c.now(), opt)
			if err != nil {
				return refuse("routing plan", err)
			}
			return c.printJSON(report)
		},
	}
}
