package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/server"
	"github.com/carepath/carepath/triage"
)

func (c *commands) migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply the database migrations this binary carries",
		Action: func(ctx *cli.Context) error {
			s, err := c.open(ctx, true)
			if err != nil {
				return err
			}
			defer s.close()
			current, known, err := s.db.SchemaVersion(ctx.Context)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.io.Stdout, "database schema at version %d of %d\n", current, known)
			return nil
		},
	}
}

func (c *commands) fixturesCommand() *cli.Command {
	return &cli.Command{
		Name:  "fixtures",
		Usage: "demo data for a synthetic council (illustrative, not clinical advice)",
		Subcommands: []*cli.Command{c.fixturesGenerateCommand(), {
			Name:  "load",
			Usage: "load the demo forms, pathways and rule sets; loading twice changes nothing",
			Action: func(ctx *cli.Context) error {
				s, err := c.open(ctx, true)
				if err != nil {
					return err
				}
				defer s.close()
				sum, err := fixtures.Load(ctx.Context, s.forms, s.rules, c.now())
				if err != nil {
					return err
				}
				fmt.Fprintf(c.io.Stdout, "loaded %d forms, %d pathways, %d rule-set versions, %d activations, %d services, %d practitioners, %d on-call entries, %d postcodes\n",
					sum.Forms, sum.Pathways, sum.RuleSets, sum.Activations, sum.Services, sum.Practitioners, sum.OnCall, sum.Postcodes)
				accounts, err := fixtures.LoadDemoAccounts(ctx.Context, identity.NewSQLStore(s.db), c.now())
				if err != nil {
					return err
				}
				fmt.Fprintf(c.io.Stdout, "loaded %d demo accounts\n", len(accounts))
				return c.printDemoAccounts(ctx, s)
			},
		}},
	}
}

func (c *commands) assessCommand() *cli.Command {
	return &cli.Command{
		Name:      "assess",
		Usage:     "decide one assessment (native JSON or FHIR QuestionnaireResponse), store it and print it",
		ArgsUsage: "FILE|-",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "decide without storing"},
			&cli.BoolFlag{Name: "include-rejected", Usage: "also record every service that was not matched, and why"},
			&cli.StringFlag{Name: "idempotency-key", Usage: "a retry with the same key returns the first decision instead of storing a second"},
			decisionFormatFlag(),
			serverFlag(),
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return cli.Exit("carepath assess: give one FILE, or - for standard input", ExitInvalid)
			}
			format, err := c.decisionFormat(ctx)
			if err != nil {
				return err
			}
			name := ctx.Args().First()
			body, err := c.readInput(name)
			if err != nil {
				return cli.Exit(fmt.Sprintf("carepath assess: %v", err), ExitInvalid)
			}
			if err := checkJSON("assess", name, body); err != nil {
				return err
			}
			cfg, err := c.config(ctx)
			if err != nil {
				return err
			}
			loc, err := time.LoadLocation(cfg.Timezone)
			if err != nil {
				loc = time.UTC
			}
			if r, err := c.remote(ctx); r != nil || err != nil {
				if err != nil {
					return err
				}
				return c.assessRemote(ctx, r, body, format, loc)
			}
			s, err := c.open(ctx, false)
			if err != nil {
				return err
			}
			defer s.close()
			dryRun := ctx.Bool("dry-run")
			d, _, err := s.engine.Submit(ctx.Context, body, triage.Options{DryRun: dryRun, IncludeRejected: ctx.Bool("include-rejected"),
				IdempotencyKey: ctx.String("idempotency-key"), SubmittedBy: c.principal().Subject, InTx: cases.Then(c.recordInTx(s, audit.ActionDecisionCreate), cases.OpenInTx)})
			if triage.IsInvalid(err) {
				return cli.Exit("carepath assess: the assessment was refused; nothing was stored:\n"+err.Error(), ExitInvalid)
			} else if err != nil {
				return err
			}
			raw, err := json.Marshal(d)
			if err != nil {
				return fmt.Errorf("carepath assess: unable to encode the decision: %w", err)
			}
			return c.printDecision(raw, format, dryRun, loc)
		},
	}
}

func (c *commands) serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the HTTP API; migrates, and loads the demo data into an empty database",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "listen address HOST:PORT (default: server.addr, 127.0.0.1:8080)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this PEM certificate chain (server.tls_cert)"},
			&cli.StringFlag{Name: "tls-key", Usage: "the PEM private key for --tls-cert (server.tls_key)"},
			&cli.BoolFlag{Name: "behind-proxy", Usage: "a TLS-terminating proxy sits in front: allow plain HTTP on a non-loopback address (server.behind_proxy)"},
			&cli.BoolFlag{Name: "no-demo", Usage: "do not load the demo data into an empty database"},
		},
		Action: func(ctx *cli.Context) error {
			cfg, err := c.serveConfig(ctx)
			if err != nil {
				return err
			}
			log := c.loggerAt(cfg.Log.SlogLevel())
			s, err := c.open(ctx, true)
			if err != nil {
				return err
			}
			defer s.close()
			if !ctx.Bool("no-demo") {
				forms, err := s.forms.Forms(ctx.Context)
				if err != nil {
					return err
				}
				if len(forms) == 0 {
					sum, err := fixtures.Load(ctx.Context, s.forms, s.rules, c.now())
					if err != nil {
						return err
					}
					log.Info("loaded demo data (illustrative, not clinical advice)", "forms", sum.Forms, "rulesets", sum.RuleSets,
						"services", sum.Services, "practitioners", sum.Practitioners, "oncall", sum.OnCall, "postcodes", sum.Postcodes)
					if _, err := fixtures.LoadDemoAccounts(ctx.Context, identity.NewSQLStore(s.db), c.now()); err != nil {
						return err
					}
				}
			}
			if err := c.printDemoAccounts(ctx, s); err != nil {
				return err
			}
			pseudonyms, err := c.pseudonymiser(ctx)
			if err != nil {
				return err
			}
			api := &server.Server{Engine: s.engine, Forms: s.forms, Rules: s.rules, DB: s.db, Logger: log, Ping: s.db.PingContext, Privacy: pseudonyms,
				Auth: identity.NewAuthenticator(identity.NewSQLStore(s.db), c.now), Audit: &audit.Log{DB: s.db}}
			// config.Check has already refused a zone that does not load.
			if api.Location, err = time.LoadLocation(cfg.Timezone); err != nil {
				return err
			}
			api.TileURL = cfg.Server.TileURL // Listen admits its origin in the pages' image policy
			api.DecideRate, api.DecideBurst, api.AccessLogEvery = cfg.Server.DecideRate, cfg.Server.DecideBurst, cfg.Log.AccessLogEvery()
			if err := c.configureServer(ctx.Context, cfg, api); err != nil {
				return err
			}
			sigctx, stop := signal.NotifyContext(ctx.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			defer c.startDelivery(sigctx, cfg, s, api, log)()
			// Access rows are written unchained, so that requests never wait on each other; the
			// sealer links them into the hash chain every second (see audit.Sealer), and once more
			// after the last request has finished.
			sealCtx, stopSealing := context.WithCancel(ctx.Context)
			sealed := make(chan struct{})
			go func() {
				defer close(sealed)
				(&audit.Sealer{DB: s.db, Now: c.now, Logger: log}).Run(sealCtx, time.Second)
			}()
			defer func() { stopSealing(); <-sealed }()
			// Reference data (forms, rules, directory, roster) is served from memory; the watcher
			// re-reads its marker on each change notification and every second (refdata.DefaultBound).
			watchCtx, stopWatching := context.WithCancel(ctx.Context)
			watched := make(chan struct{})
			go func() { defer close(watched); s.refs.Run(watchCtx) }()
			defer func() { stopWatching(); <-watched }()
			srv, ln, err := server.Listen(cfg.Server, api.Handler(), log)
			if err != nil {
				return err
			}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			log.Info("listening", "url", server.URL(cfg.Server, ln), "db", s.db.Dialect)
			select {
			case err := <-done:
				return err
			case <-sigctx.Done():
			}
			log.Info("shutting down: finishing requests in flight")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				return err
			}
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
}

func (c *commands) formsCommand() *cli.Command {
	return &cli.Command{
		Name:  "forms",
		Usage: "published assessment forms",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list published form versions",
				Action: func(ctx *cli.Context) error {
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					forms, err := s.forms.Forms(ctx.Context)
					if err != nil {
						return err
					}
					for _, f := range forms {
						fmt.Fprintf(c.io.Stdout, "%s\tv%d\t%s\n", f.ID, f.Version, f.Title)
					}
					return nil
				},
			},
			{
				Name:      "export",
				Usage:     "print a form as a FHIR R4 Questionnaire",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "version", Usage: "form version (default: latest)"}},
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() != 1 {
						return cli.Exit("carepath forms export: give one form ID", ExitInvalid)
					}
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					f, err := s.forms.Form(ctx.Context, ctx.Args().First(), ctx.Int("version"))
					if err != nil {
						return cli.Exit("carepath forms export: "+err.Error(), ExitInvalid)
					}
					q, err := f.Questionnaire()
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(c.io.Stdout, "%s\n", q)
					return err
				},
			},
		},
	}
}
