package database

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationFiles holds one directory of goose SQL files per dialect,
// migrations/<dialect>/NNNNN_name.sql, compiled into the binary so a
// deployed carepath always carries exactly the schema it was built for.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// versionTable is where goose records applied migrations.
const versionTable = "goose_db_version"

// ErrSchemaTooNew marks a database migrated by a newer carepath than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this carepath knows")

// ErrSchemaTooOld marks a database that still needs `carepath migrate`.
var ErrSchemaTooOld = errors.New("database schema is older than this carepath needs")

// SchemaVersionError reports a database schema version this binary cannot
// work with; it matches ErrSchemaTooNew or ErrSchemaTooOld under errors.Is.
type SchemaVersionError struct {
	// Current is the highest migration version applied to the database.
	Current int64
	// Known is the highest migration version embedded in this binary.
	Known int64
}

// Error tells the operator which of carepath or the database to upgrade.
func (e *SchemaVersionError) Error() string {
	if e.Current > e.Known {
		return fmt.Sprintf("database schema version %d is newer than this carepath knows (%d): upgrade carepath", e.Current, e.Known)
	}
	return fmt.Sprintf("database schema version %d is older than this carepath needs (%d): run `carepath migrate`", e.Current, e.Known)
}

// Unwrap returns ErrSchemaTooNew or ErrSchemaTooOld.
func (e *SchemaVersionError) Unwrap() error {
	if e.Current > e.Known {
		return ErrSchemaTooNew
	}
	return ErrSchemaTooOld
}

// Migrate applies every embedded migration the database has not yet seen. It
// refuses, without changing anything, a database whose schema is newer than
// this binary knows, since running old code against it could corrupt data.
func (db *DB) Migrate(ctx context.Context) error {
	current, known, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > known {
		return &SchemaVersionError{Current: current, Known: known}
	}
	provider, err := db.migrationProvider(ctx)
	if err != nil {
		return err
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("database: unable to migrate %s schema from version %d to %d: %w", db.Dialect, current, known, err)
	}
	return nil
}

// SchemaVersion returns the highest migration version applied to the
// database (0 when none has been) and the highest this binary embeds. It
// only reads: unlike goose, it does not create the version table.
func (db *DB) SchemaVersion(ctx context.Context) (current, known int64, err error) {
	known, err = db.knownSchemaVersion()
	if err != nil {
		return 0, 0, err
	}
	var exists bool
	switch db.Dialect {
	case SQLite:
		err = db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)`, versionTable).Scan(&exists)
	case Postgres:
		// to_regclass resolves through search_path, as goose does.
		err = db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, versionTable).Scan(&exists)
	default:
		return 0, 0, fmt.Errorf("database: unable to read schema version: unknown dialect %q", db.Dialect)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("database: unable to look for %s: %w", versionTable, err)
	}
	if !exists {
		return 0, known, nil
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM `+versionTable).Scan(&current); err != nil {
		return 0, 0, fmt.Errorf("database: unable to read schema version: %w", err)
	}
	return current, known, nil
}

// CheckSchema returns a *SchemaVersionError unless the database is at exactly
// the schema version this binary embeds; servers call it at start-up.
func (db *DB) CheckSchema(ctx context.Context) error {
	current, known, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current != known {
		return &SchemaVersionError{Current: current, Known: known}
	}
	return nil
}

func (db *DB) migrationFS() (fs.FS, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(db.Dialect))
	if err != nil {
		return nil, fmt.Errorf("database: unable to find migrations for %s: %w", db.Dialect, err)
	}
	return sub, nil
}

func (db *DB) knownSchemaVersion() (int64, error) {
	fsys, err := db.migrationFS()
	if err != nil {
		return 0, err
	}
	var known int64
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return 0, fmt.Errorf("database: unable to list migrations for %s: %w", db.Dialect, err)
	}
	for _, entry := range entries {
		version, err := goose.NumericComponent(entry.Name())
		if err != nil {
			return 0, fmt.Errorf("database: unable to read migration %s/%s: %w", db.Dialect, entry.Name(), err)
		}
		known = max(known, version)
	}
	return known, nil
}

func (db *DB) migrationProvider(ctx context.Context) (*goose.Provider, error) {
	fsys, err := db.migrationFS()
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(versionTable),
		// Go migrations registered elsewhere in the process must not leak in.
		goose.WithDisableGlobalRegistry(true),
	}
	var dialect goose.Dialect
	switch db.Dialect {
	case SQLite:
		// SQLite needs no lock: BEGIN IMMEDIATE already serialises writers.
		dialect = goose.DialectSQLite3
	case Postgres:
		dialect = goose.DialectPostgres
		locker, err := db.postgresMigrationLocker(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, fmt.Errorf("database: unable to migrate: unknown dialect %q", db.Dialect)
	}
	provider, err := goose.NewProvider(dialect, db.DB.DB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("database: unable to load %s migrations: %w", db.Dialect, err)
	}
	return provider, nil
}

// postgresMigrationLocker stops two carepath instances migrating one schema at
// once. The advisory lock is database-wide, so its ID is derived from the
// schema: instances (and parallel tests) using different schemas of the same
// database then never wait for each other.
func (db *DB) postgresMigrationLocker(ctx context.Context) (lock.SessionLocker, error) {
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(current_schema(), '')`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("database: unable to read current schema: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("carepath migrate " + schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return nil, fmt.Errorf("database: unable to create migration lock: %w", err)
	}
	return locker, nil
}
