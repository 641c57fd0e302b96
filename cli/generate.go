package cli

import (
	"fmt"
	"time"

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

func parseDay(flag, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, cli.Exit(fmt.Sprintf("carepath: --%s must be a date as YYYY-MM-DD, got %q", flag, s), ExitInvalid)
	}
	return t, nil
}

// parseInstant reads an RFC 3339 time or a date (midnight UTC); empty is the zero time.
func parseInstant(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, cli.Exit(fmt.Sprintf("carepath: --%s must be an RFC 3339 time or a date as YYYY-MM-DD, got %q", flag, s), ExitInvalid)
}
