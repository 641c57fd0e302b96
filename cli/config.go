package cli

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/server"
)

// configFlag is the global --config flag.
func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", EnvVars: []string{config.EnvFile}, Usage: "configuration file (YAML); " +
		"CAREPATH_* variables override it and flags override both; `carepath config show` prints the result"}
}

// config returns the effective configuration: defaults, the file, CAREPATH_* variables, then
// the global flags. A bad setting exits as invalid input.
func (c *commands) config(ctx *cli.Context) (config.Config, error) {
	cfg, err := config.Load(ctx.String("config"), os.Getenv)
	if err != nil {
		return config.Config{}, cli.Exit("carepath: "+err.Error(), ExitInvalid)
	}
	// IsSet is also true when CAREPATH_DB set the flag, which Load has already applied alike.
	if ctx.IsSet("db") {
		cfg.Database.DSN = config.DSN(ctx.String("db"))
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, cli.Exit("carepath: "+err.Error(), ExitInvalid)
	}
	return cfg, nil
}

// serveConfig is config with serve's own flags applied, checked before anything is opened so
// that a refused address fails at once rather than after migrations.
func (c *commands) serveConfig(ctx *cli.Context) (config.Config, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return cfg, err
	}
	s := &cfg.Server
	if ctx.IsSet("addr") {
		s.Addr = ctx.String("addr")
	}
	if ctx.IsSet("tls-cert") {
		s.TLSCert = ctx.String("tls-cert")
	}
	if ctx.IsSet("tls-key") {
		s.TLSKey = ctx.String("tls-key")
	}
	if ctx.IsSet("behind-proxy") {
		s.BehindProxy = ctx.Bool("behind-proxy")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, cli.Exit("carepath serve: "+err.Error(), ExitInvalid)
	}
	if err := server.CheckExposure(s.Addr, s.TLS(), s.BehindProxy); err != nil {
		return cfg, cli.Exit("carepath serve: "+err.Error(), ExitInvalid)
	}
	return cfg, nil
}

// loggerAt is logger at the configured level.
func (c *commands) loggerAt(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.io.Stderr, &slog.HandlerOptions{Level: level}))
}

// setPool applies the configured pool sizes; zero keeps the backend's own default.
func setPool(db *database.DB, cfg config.Database) {
	if cfg.MaxOpenConns > 0 {
		db.SetMaxOpenConns(cfg.MaxOpenConns)
	}
	switch {
	case cfg.MaxIdleConns > 0:
		db.SetMaxIdleConns(cfg.MaxIdleConns)
	case cfg.MaxOpenConns > 0:
		// Idle connections closed under load are reopened at once: keep every one.
		db.SetMaxIdleConns(cfg.MaxOpenConns)
	}
}

func (c *commands) configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "the configuration: defaults, the --config file, CAREPATH_* variables and flags",
		Subcommands: []*cli.Command{{
			Name:  "show",
			Usage: "print the effective configuration as a file, secrets masked, each key with its environment variable",
			Action: func(ctx *cli.Context) error {
				cfg, err := c.config(ctx)
				if err != nil {
					return err
				}
				source := "defaults"
				if cfg.File != "" {
					source = cfg.File
				}
				fmt.Fprintf(c.io.Stdout, "# effective configuration: %s, then CAREPATH_* variables, then flags; secrets masked\n%s", source, cfg)
				return nil
			},
		}},
	}
}
