package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/rules"
)

// storedVersion is one row of `rules list`.
type storedVersion struct {
	ID        string       `json:"id"`
	Version   int          `json:"version"`
	Form      string       `json:"form"`
	Status    rules.Status `json:"status"`
	Active    bool         `json:"active"`
	SHA256    string       `json:"sha256"`
	CreatedAt time.Time    `json:"created_at"`
}

func (c *commands) rulesList(ctx *cli.Context) error {
	format := ctx.String("format")
	if format != formatText && format != formatJSON {
		return cli.Exit(fmt.Sprintf("carepath rules list: --format %q: want text or json", format), ExitInvalid)
	}
	if ctx.NArg() != 0 {
		return cli.Exit("carepath rules list: takes no arguments", ExitInvalid)
	}
	return c.governed(ctx, func(g *governance.Service) error {
		versions, err := g.Rules.Versions(ctx.Context)
		if err != nil {
			return err
		}
		now := c.now()
		active := map[string]int{}
		out := make([]storedVersion, len(versions))
		for i, v := range versions {
			if _, ok := active[v.ID]; !ok {
				n, err := g.Rules.ActiveAt(ctx.Context, v.ID, now)
				if err != nil && failure.CodeOf(err) != failure.Unavailable {
					return err
				}
				active[v.ID] = n
			}
			out[i] = storedVersion{ID: v.ID, Version: v.Version, Form: v.Form, Status: v.Status, Active: active[v.ID] == v.Version,
				SHA256: v.SHA256, CreatedAt: v.CreatedAt}
		}
		if format == formatJSON {
			return c.printJSON(map[string]any{"rulesets": out})
		}
		w := tabwriter.NewWriter(c.io.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "RULE SET\tVERSION\tFORM\tSTATUS\tIN FORCE\tCREATED\tSHA-256")
		for _, v := range out {
			inForce := ""
			if v.Active {
				inForce = "yes"
			}
			fmt.Fprintf(w, "%s\tv%d\t%s\t%s\t%s\t%s\t%.12s\n", v.ID, v.Version, v.Form, v.Status, inForce, v.CreatedAt.UTC().Format(time.RFC3339), v.SHA256)
		}
		return w.Flush()
	})
}

func (c *commands) rulesShow(ctx *cli.Context) error {
	var id string
	var n int
	if ctx.NArg() == 1 && strings.Contains(ctx.Args().First(), ":") {
		var ok bool
		if id, n, ok = parseRef(ctx.Args().First()); !ok {
			return cli.Exit(fmt.Sprintf("carepath rules show: %q: want ID:VERSION, such as mh-triage:2", ctx.Args().First()), ExitInvalid)
		}
	} else {
		var err error
		if id, n, err = idVersion(ctx, "show"); err != nil {
			return err
		}
	}
	return c.governed(ctx, func(g *governance.Service) error {
		v, err := g.Rules.Version(ctx.Context, id, n)
		if err != nil {
			return refused(err)
		}
		src := v.Source
		if !strings.HasSuffix(src, "\n") {
			src += "\n"
		}
		_, err = fmt.Fprint(c.io.Stdout, src)
		return err
	})
}

// parseRef reads ID:VERSION.
func parseRef(s string) (string, int, bool) {
	id, v, ok := strings.Cut(s, ":")
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); !ok || id == "" || err != nil || n < 1 || fmt.Sprint(n) != v {
		return "", 0, false
	}
	return id, n, true
}
