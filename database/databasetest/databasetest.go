// Package databasetest gives tests real, migrated, isolated Carepath
// databases on SQLite and PostgreSQL.
//
// PostgreSQL tests use the database named by the CAREPATH_TEST_POSTGRES
// environment variable (a postgres:// URL). Each call gets its own freshly
// created schema, dropped at cleanup, because go test runs the test binaries
// of different packages in parallel against that one database. Without the
// variable PostgreSQL tests are skipped, except when CI=true, where they fail
// so CI can never silently lose PostgreSQL coverage.
package databasetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
)

// PostgresEnv names the environment variable holding the PostgreSQL test DSN.
const PostgresEnv = "CAREPATH_TEST_POSTGRES"

// Dialects lists the backends Each runs against, in order.
func Dialects() []database.Dialect {
	return []database.Dialect{database.SQLite, database.Postgres}
}

// Each runs fn as the subtests "sqlite" and "postgres", each with its own
// freshly migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			t.Helper()
			fn(t, Open(t, dialect))
		})
	}
}

// Open returns a freshly migrated database of the given dialect, closed (and
// for PostgreSQL, dropped) when the test ends.
func Open(t testing.TB, dialect database.Dialect) *database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, DSN(t, dialect))
	if err != nil {
		t.Fatalf("databasetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("databasetest: unable to close database: %v", err)
		}
	})
	return db
}

// DSN returns a DSN for a freshly migrated, empty database of the given
// dialect that nothing else uses, for handing to the carepath binary as --db.
// The database is removed when the test ends.
func DSN(t testing.TB, dialect database.Dialect) string {
	t.Helper()
	dsn := EmptyDSN(t, dialect)
	migrate(t, dsn)
	return dsn
}

// EmptyDSN is DSN without the migration, for testing migration itself: the
// SQLite file does not exist yet and the PostgreSQL schema has no tables.
func EmptyDSN(t testing.TB, dialect database.Dialect) string {
	t.Helper()
	switch dialect {
	case database.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "carepath.db")
	case database.Postgres:
		return postgresSchemaDSN(t)
	default:
		t.Fatalf("databasetest: unknown dialect %q", dialect)
		return ""
	}
}

// AdminDSN returns the PostgreSQL test DSN itself (not isolated in a schema),
// skipping or failing the test as described in the package documentation.
func AdminDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("databasetest: %s is not set but CI=true: PostgreSQL tests must run in CI (see .ci/run)", PostgresEnv)
	}
	t.Skipf("databasetest: skipping PostgreSQL: set %s to a postgres:// URL (e.g. postgres://carepath:carepath@127.0.0.1:5432/carepath_test?sslmode=disable) to run it", PostgresEnv)
	return ""
}

func migrate(t testing.TB, dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("databasetest: %v", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("databasetest: %v", err)
	}
}

// postgresSchemaDSN creates a uniquely named schema and returns the test DSN
// with search_path set to it, which lib/pq sends as a run-time parameter so
// every pooled connection starts in that schema.
func postgresSchemaDSN(t testing.TB) string {
	t.Helper()
	admin := AdminDSN(t)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("databasetest: %s is not a URL: %v", PostgresEnv, err)
	}
	if u.Query().Has("search_path") {
		t.Fatalf("databasetest: %s must not set search_path: each test gets its own schema", PostgresEnv)
	}
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	schema := "carepath_test_" + hex.EncodeToString(suffix)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, admin)
	if err != nil {
		t.Fatalf("databasetest: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("databasetest: unable to create schema %s: %v", schema, err)
	}
	t.Cleanup(func() { dropSchema(t, admin, schema) })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// dropSchema runs at cleanup, after test code has closed its connections; it
// uses its own context because the test's is already cancelled by then.
func dropSchema(t testing.TB, admin, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := database.Open(ctx, admin)
	if err != nil {
		t.Errorf("databasetest: unable to drop schema %s: %v", schema, err)
		return
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf("DROP SCHEMA %s CASCADE", schema)); err != nil {
		t.Errorf("databasetest: unable to drop schema %s: %v", schema, err)
	}
}
