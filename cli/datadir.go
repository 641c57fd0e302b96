package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/database"
)

// DataDirEnv is the XDG variable naming the base of per-user data directories.
const DataDirEnv = "XDG_DATA_HOME"

// DefaultDatabasePath is where the embedded database lives when neither --db, CAREPATH_DB nor the
// configuration file names one: carepath/carepath.db under $XDG_DATA_HOME, else under
// ~/.local/share, so that every command finds the same database whichever directory it runs in.
func DefaultDatabasePath(getenv func(string) string) (string, error) {
	if dir := getenv(DataDirEnv); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "carepath", "carepath.db"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("cli: unable to find the per-user data directory (set %s, or choose a database with --db): %w", DataDirEnv, err)
		}
	}
	return filepath.Join(home, ".local", "share", "carepath", "carepath.db"), nil
}

// defaultDatabase runs before any command: when nothing names a database, it sets --db to the
// per-user one, so that the command, `config show` and every message name the same file.
func (c *commands) defaultDatabase(ctx *cli.Context) error {
	if ctx.String("db") != "" {
		return nil
	}
	if dsn, ok := configDatabase(ctx.String("config")); ok {
		if ctx.IsSet("db") {
			// An empty CAREPATH_DB counts as unset, as every other CAREPATH_* variable does.
			return ctx.Set("db", dsn)
		}
		return nil
	}
	path, err := DefaultDatabasePath(os.Getenv)
	if err != nil {
		// Commands that never open a database still work; those that do say why they cannot.
		return nil
	}
	return ctx.Set("db", "sqlite:"+path)
}

// configDatabase returns database.dsn of the configuration file (the --config flag's or
// CAREPATH_CONFIG's), and whether the file sets it. A file that cannot be read is reported by the
// command that loads it, not here.
func configDatabase(path string) (string, bool) {
	if path == "" {
		path = os.Getenv(config.EnvFile)
	}
	if path == "" {
		return "", false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	var probe struct {
		Database struct {
			DSN *string `yaml:"dsn"`
		} `yaml:"database"`
	}
	if yaml.Unmarshal(data, &probe) != nil || probe.Database.DSN == nil {
		return "", false
	}
	return *probe.Database.DSN, true
}

// prepareDatabase makes the per-user data directory, private to its owner, when a command that
// migrates is about to create the database in it. Other commands refuse a SQLite file that does
// not exist rather than leave an empty one behind.
func prepareDatabase(dsn string, migrate bool) error {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok {
		return nil
	}
	path, _, _ = strings.Cut(path, "?")
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if !migrate {
		return emptyDatabase(dsn)
	}
	if def, err := DefaultDatabasePath(os.Getenv); err == nil && filepath.Clean(path) == def {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("cli: unable to make the data directory for %s: %w", path, err)
		}
	}
	return nil
}

// emptyDatabase is the refusal of a database without Carepath's schema, naming it so that a
// person who meant another one sees at once which was used.
func emptyDatabase(dsn string) error {
	return cli.Exit(fmt.Sprintf("carepath: database %s is empty: run carepath migrate, or carepath serve to load the demo (--db or CAREPATH_DB chooses another database)",
		config.DSN(dsn)), ExitFailure)
}

// checkSchema is database.CheckSchema, with a database that has no schema at all named.
func checkSchema(ctx context.Context, db *database.DB, dsn string) error {
	err := db.CheckSchema(ctx)
	var sv *database.SchemaVersionError
	if errors.As(err, &sv) && sv.Current == 0 {
		return emptyDatabase(dsn)
	}
	return err
}
