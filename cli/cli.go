// Package cli is the carepath command line: every command, its flags and its exit codes.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/refdata"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// Exit codes, so scripts can tell bad input from a failure of ours.
const (
	ExitFailure   = 1 // something went wrong that the input did not cause
	ExitInvalid   = 2 // the input was refused; nothing was stored
	ExitForbidden = 4 // not allowed: not signed in, or the acting identity lacks the permission
)

// IO is where commands read and write, so tests can run them in process.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// LocalAccount is the operating-system account running the command; commands that open the
	// database directly act as local:LocalAccount ("unknown" when empty).
	LocalAccount string
}

// New returns the carepath application; now is the only clock the commands read.
func New(stdio IO, now func() time.Time) *cli.App {
	c := &commands{io: stdio, now: now}
	app := &cli.App{
		Name:      "carepath",
		Usage:     "rules-driven assessment and triage engine",
		Reader:    stdio.Stdin,
		Writer:    stdio.Stdout,
		ErrWriter: stdio.Stderr,
		// `carepath version` says more than a --version flag could, and -v is rules test's.
		HideVersion:          true,
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", EnvVars: []string{"CAREPATH_DB"}, DefaultText: "sqlite:$XDG_DATA_HOME/carepath/carepath.db, else under ~/.local/share",
				Usage: "database: sqlite:PATH or a postgres:// URL"},
			configFlag(),
		},
		Before: c.defaultDatabase,
		// Run prints every error once; urfave/cli's own handler would print some and exit the process.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Commands: []*cli.Command{
			c.migrateCommand(),
			c.fixturesCommand(),
			c.assessCommand(),
			c.serveCommand(),
			c.subscriptionsCommand(),
			c.eventsCommand(),
			c.formsCommand(),
			c.rulesCommand(),
			c.withCaseSteps(c.casesCommand()),
			c.replayCommand(),
			c.outcomesCommand(),
			c.directoryCommand(),
			c.gazetteerCommand(),
			c.practitionersCommand(),
			c.oncallCommand(),
			c.routingCommand(),
			c.escalationsCommand(),
			c.configCommand(),
			c.auditCommand(),
			c.usersCommand(),
			c.teamsCommand(),
			c.tokensCommand(),
			c.loadtestCommand(),
			c.versionCommand(),
			c.completionCommand(),
		},
	}
	prepareCommands(app.Commands, globalOptionsHelp(app.Flags))
	return app
}

// Run runs the application with arguments and returns the process exit code. Every error is
// printed once, on standard error.
func Run(app *cli.App, args []string) int {
	args, err := normalizeArgs(app, args)
	if err == nil {
		err = app.Run(args)
	}
	if err == nil {
		return 0
	}
	var coder cli.ExitCoder
	if errors.As(err, &coder) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(app.ErrWriter, msg)
		}
		return coder.ExitCode()
	}
	fmt.Fprintln(app.ErrWriter, "carepath:", err)
	switch failure.CodeOf(err) {
	case failure.Forbidden, failure.Unauthenticated:
		return ExitForbidden
	case failure.Invalid, failure.NotFound, failure.Conflict:
		return ExitInvalid
	}
	return ExitFailure
}

type commands struct {
	io  IO
	now func() time.Time
}

// services is everything a command that touches the database needs, wired once.
type services struct {
	db     *database.DB
	forms  *triage.SQLStore
	rules  *rules.SQLStore
	engine *triage.Engine
	shadow *governance.Shadow
	// refs tells the caches above when reference data changed; `serve` runs it in the background.
	refs *refdata.Watcher
	stop context.CancelFunc
	// events writes outbox events in the transactions of the changes they describe.
	events *outbox.Publisher
}

// close finishes the shadow evaluations already queued, so no accepted work is dropped at exit,
// and closes the database.
func (s *services) close() error {
	s.shadow.Drain()
	s.stop()
	return s.db.Close()
}

// open connects to the database; migrate applies migrations, otherwise the schema must be current.
func (c *commands) open(ctx *cli.Context, migrate bool) (*services, error) {
	if err := c.authorize(ctx); err != nil {
		return nil, err
	}
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	dsn := cfg.Database.DSN.Reveal()
	if err := prepareDatabase(dsn, migrate); err != nil {
		return nil, err
	}
	db, err := database.Open(ctx.Context, dsn)
	if err != nil {
		return nil, err
	}
	setPool(db, cfg.Database)
	if migrate {
		err = db.Migrate(ctx.Context)
	} else {
		err = checkSchema(ctx.Context, db, dsn)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	travel, err := travelSource(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	forms := triage.NewSQLStore(db)
	rs := rules.NewSQLStore(db)
	// Reference data is held in memory and re-read when the reference marker moves; without the
	// watcher running (every command but serve) each decision reads the marker itself.
	refs := &refdata.Watcher{DB: db, DSN: dsn, Logger: c.logger()}
	forms.Generation = refs.Generation
	cachedRules := rules.NewCachedStore(rs, refs.Generation)
	registry := rules.NewRegistry(cachedRules)
	// Shadow runs see every live decision, from the API and from `assess` alike.
	shadow := governance.NewShadow(db, registry, c.now, c.logger(), 1024)
	shadow.Generation = refs.Generation
	placement := withTravel(triage.NewPlacement(db, cachedRules, cfg.Timezone), travel)
	placement.Directory.Generation = refs.Generation
	placement.Routes.Generation = refs.Generation
	shadowCtx, stop := context.WithCancel(context.Background())
	go shadow.Run(shadowCtx)
	// Decisions publish through the outbox whether made by `assess` or by a server; a running
	// server delivers them.
	events := &outbox.Publisher{Now: c.now}
	return &services{
		db:    db,
		forms: forms,
		rules: rs,
		engine: &triage.Engine{
			Store:     forms,
			Rules:     registry,
			Now:       c.now,
			NewID:     func() string { return uuid.Must(uuid.NewV7()).String() },
			Observers: []triage.Observer{shadow},
			Placement: placement,
			Publish:   events.Decided,
			Slots:     make(chan struct{}, database.PostgresConns),
		},
		shadow: shadow,
		refs:   refs,
		stop:   stop,
		events: events,
	}, nil
}

func (c *commands) printJSON(v any) error {
	enc := json.NewEncoder(c.io.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func (c *commands) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.io.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// readInput reads a named file, or standard input for "-".
func (c *commands) readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(c.io.Stdin, triage.MaxSubmissionBytes+1))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, triage.MaxSubmissionBytes+1))
}
