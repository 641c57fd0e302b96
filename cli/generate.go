package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/fixtures"
)

func (c *commands) fixturesGenerateCommand() *cli.Command {
	return &cli.Command{
		Name:  "generate",
		Usage: "write synthetic assessments as JSON lines (deterministic for a seed; illustrative, no real person)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "form", Required: true, Usage: "discharge or mental-health"},
			&cli.IntFlag{Name: "cases", Required: true, Usage: "how many assessments"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "the same seed writes the same lines"},
			&cli.StringFlag{Name: "from", Value: "2025-01-01", Usage: "first day cases are authored (YYYY-MM-DD)"},
			&cli.StringFlag{Name: "to", Value: "2026-01-01", Usage: "day after the last (YYYY-MM-DD)"},
		},
		Action: func(ctx *cli.Context) error {
			from, err := parseDay("from", ctx.String("from"))
			if err != nil {
				return err
			}
			to, err := parseDay("to", ctx.String("to"))
			if err != nil {
				return err
			}
			err = fixtures.Generate(c.io.Stdout, fixtures.Generation{
				Form: ctx.String("form"), Cases: ctx.Int("cases"), Seed: ctx.Uint64("seed"), From: from, To: to,
			})
			if err != nil {
				return cli.Exit("carepath fixtures generate: "+err.Error(), ExitInvalid)
			}
			return nil
		},
	}
}
