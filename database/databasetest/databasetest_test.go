package databasetest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

func TestEachRunsBothBackends(t *testing.T) {
	var seen []database.Dialect
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		seen = append(seen, db.Dialect)
		if !strings.HasSuffix(t.Name(), "/"+string(db.Dialect)) {
			t.Errorf("subtest %s runs dialect %s", t.Name(), db.Dialect)
		}
		if err := db.CheckSchema(t.Context()); err != nil {
			t.Errorf("database is not migrated: %v", err)
		}
	})
	if len(seen) == 0 || seen[0] != database.SQLite {
		t.Errorf("dialects run = %v, want sqlite first", seen)
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	for _, dialect := range databasetest.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			first := databasetest.Open(t, dialect)
			second := databasetest.Open(t, dialect)
			if _, err := first.Exec("INSERT INTO pathways (id, name, description, definition, updated_at) VALUES ('p', 'n', 'd', '{}', '2025-01-01T00:00:00.000000Z')"); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := second.Get(&n, "SELECT COUNT(*) FROM pathways"); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("second database sees %d pathways written to the first, want 0", n)
			}
		})
	}
}

// TestPostgresSchemaLifecycle checks that search_path in the DSN really
// reaches every connection, and that the schema is gone after the test.
func TestPostgresSchemaLifecycle(t *testing.T) {
	admin := databasetest.AdminDSN(t)
	var schema string
	t.Run("inner", func(t *testing.T) {
		db := databasetest.Open(t, database.Postgres)
		// Hold several connections at once so more than one is opened.
		for i := range 3 {
			conn, err := db.Connx(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var got string
			if err := conn.QueryRowxContext(t.Context(), "SELECT current_schema()").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, "carepath_test_") {
				t.Fatalf("connection %d: current_schema() = %q, want a carepath_test_ schema", i, got)
			}
			if schema != "" && got != schema {
				t.Fatalf("connection %d: current_schema() = %q, want %q like the others", i, got, schema)
			}
			schema = got
		}
		var tables int
		if err := db.Get(&tables, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'decisions'", schema); err != nil {
			t.Fatal(err)
		}
		if tables != 1 {
			t.Errorf("decisions table in schema %s: %d, want 1", schema, tables)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := database.Open(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	if err := db.GetContext(ctx, &left, "SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1", schema); err != nil {
		t.Fatal(err)
	}
	if schema == "" || left != 0 {
		t.Errorf("schema %q still exists after the test (%d), want it dropped", schema, left)
	}
}

// TestPostgresWithoutDSN runs this test binary again without a DSN to see
// what a PostgreSQL test does: skip normally, fail under CI.
func TestPostgresWithoutDSN(t *testing.T) {
	if os.Getenv("DATABASETEST_CHILD") == "1" {
		databasetest.Open(t, database.Postgres)
		t.Log("child: PostgreSQL test ran")
		return
	}
	tests := []struct {
		name       string
		ci         string
		wantFail   bool
		wantOutput string
	}{
		{"skips locally", "", false, "--- SKIP"},
		{"skips when CI is not true", "false", false, "--- SKIP"},
		{"fails in CI", "true", true, "CI=true: PostgreSQL tests must run in CI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPostgresWithoutDSN$", "-test.v")
			cmd.Env = append(os.Environ(), "DATABASETEST_CHILD=1", "CI="+tt.ci, databasetest.PostgresEnv+"=")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Errorf("child failed = %v (%v), want %v; output:\n%s", failed, err, tt.wantFail, out)
			}
			if !strings.Contains(string(out), tt.wantOutput) {
				t.Errorf("child output lacks %q:\n%s", tt.wantOutput, out)
			}
			if strings.Contains(string(out), "child: PostgreSQL test ran") {
				t.Errorf("child ran the PostgreSQL test without a DSN:\n%s", out)
			}
		})
	}
}
