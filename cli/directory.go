package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/directory"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/routing"
)

// maxImportBytes bounds a directory, roster or gazetteer file read into memory.
const maxImportBytes = 256 << 20

// refuse turns input the domain refused into exit code 2 with the full report; other errors pass.
func refuse(command string, err error) error {
	var dve *directory.ValidationError
	var pe *routing.PractitionersError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dve), errors.As(err, &pe):
	default:
		switch failure.CodeOf(err) {
		case failure.Invalid, failure.NotFound, failure.Conflict:
		default:
			return err
		}
	}
	return cli.Exit(fmt.Sprintf("carepath %s: refused; nothing was changed:\n%v", command, err), ExitInvalid)
}

// readFile reads a named import file, or standard input for "-".
func (c *commands) readFile(name string) ([]byte, error) {
	var r io.Reader = c.io.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxImportBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxImportBytes)
	}
	return data, nil
}

func (c *commands) directoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "directory",
		Usage: "the services directory (Open Referral HSDS 3.1)",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "validate HSDS 3.1 or 3.0 services (an array, a paged response or one service) and upsert them in one transaction; ids that are not UUIDs are read as the council's own codes",
				ArgsUsage: "FILE|-",
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() != 1 {
						return cli.Exit("carepath directory import: give one FILE, or - for standard input", ExitInvalid)
					}
					data, err := c.readFile(ctx.Args().First())
					if err != nil {
						return cli.Exit(fmt.Sprintf("carepath directory import: %v", err), ExitInvalid)
					}
					if err := checkJSON("directory import", ctx.Args().First(), data); err != nil {
						return err
					}
					services, err := directory.ParseHSDS(data)
					if err != nil {
						return cli.Exit(fmt.Sprintf("carepath directory import: refused; nothing was changed:\n%v", err), ExitInvalid)
					}
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					pathways, err := s.rules.Pathways(ctx.Context)
					if err != nil {
						return err
					}
					known := map[string]bool{}
					for _, p := range pathways {
						known[p.ID] = true
					}
					n, err := directory.NewSQLStore(s.db).PutServices(ctx.Context, services, func(id string) bool { return known[id] }, c.now())
					if err != nil {
						return refuse("directory import", err)
					}
					fmt.Fprintf(c.io.Stdout, "imported %d services\n", n)
					return nil
				},
			},
			{
				Name:  "export",
				Usage: "print the stored services as HSDS 3.1 JSON (UUID ids, the council's codes as attributes), sorted by code",
				Action: func(ctx *cli.Context) error {
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					services, err := directory.NewSQLStore(s.db).Services(ctx.Context)
					if err != nil {
						return err
					}
					out, err := directory.ExportHSDS(services)
					if err != nil {
						return err
					}
					_, err = c.io.Stdout.Write(out)
					return err
				},
			},
		},
	}
}

func (c *commands) gazetteerCommand() *cli.Command {
	return &cli.Command{
		Name:  "gazetteer",
		Usage: "the postcode gazetteer used to locate subjects given only a postcode",
		Subcommands: []*cli.Command{{
			Name:      "import",
			Usage:     "load a CSV with ONSPD's columns (at least pcds, lat, long, oslaua) in one transaction",
			ArgsUsage: "FILE|-",
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 1 {
					return cli.Exit("carepath gazetteer import: give one FILE, or - for standard input", ExitInvalid)
				}
				name := ctx.Args().First()
				var r io.Reader = c.io.Stdin
				if name != "-" {
					f, err := os.Open(name)
					if err != nil {
						return cli.Exit(fmt.Sprintf("carepath gazetteer import: %v", err), ExitInvalid)
					}
					defer f.Close()
					r = f
				}
				g, err := directory.ParseGazetteer(r)
				if err != nil {
					return cli.Exit(fmt.Sprintf("carepath gazetteer import: refused; nothing was changed:\n%v", err), ExitInvalid)
				}
				s, err := c.open(ctx, false)
				if err != nil {
					return err
				}
				defer s.close()
				n, err := directory.NewSQLStore(s.db).PutGazetteer(ctx.Context, g)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.io.Stdout, "imported %d postcodes\n", n)
				return nil
			},
		}},
	}
}

func (c *commands) practitionersCommand() *cli.Command {
	return &cli.Command{
		Name:  "practitioners",
		Usage: "the practitioner roster used to assign visits",
		Subcommands: []*cli.Command{{
			Name:      "import",
			Usage:     "validate a JSON array of practitioners and upsert them in one transaction",
			ArgsUsage: "FILE|-",
			Action: func(ctx *cli.Context) error {
				if ctx.NArg() != 1 {
					return cli.Exit("carepath practitioners import: give one FILE, or - for standard input", ExitInvalid)
				}
				data, err := c.readFile(ctx.Args().First())
				if err != nil {
					return cli.Exit(fmt.Sprintf("carepath practitioners import: %v", err), ExitInvalid)
				}
				if err := checkJSON("practitioners import", ctx.Args().First(), data); err != nil {
					return err
				}
				ps, err := routing.ParsePractitioners(data)
				if err != nil {
					return cli.Exit(fmt.Sprintf("carepath practitioners import: refused; nothing was changed:\n%v", err), ExitInvalid)
				}
				s, err := c.open(ctx, false)
				if err != nil {
					return err
				}
				defer s.close()
				n, err := routing.NewSQLStore(s.db).PutPractitioners(ctx.Context, ps, c.now())
				if err != nil {
					return err
				}
				fmt.Fprintf(c.io.Stdout, "imported %d practitioners\n", n)
				return nil
			},
		}},
	}
}
