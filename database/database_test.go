package database_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

func TestOpenRejectsBadDSNs(t *testing.T) {
	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{"empty", "", "want sqlite:PATH or a postgres:// or postgresql:// URL"},
		{"bare path", "/tmp/carepath.db", "want sqlite:PATH or a postgres:// or postgresql:// URL"},
		{"other scheme", "mysql://root@localhost/carepath", "want sqlite:PATH or a postgres:// or postgresql:// URL"},
		{"sqlite without path", "sqlite:", "empty path"},
		{"sqlite in memory", "sqlite::memory:", "want a plain file path"},
		{"sqlite URI", "sqlite:file:x.db?mode=ro", "want a plain file path"},
		{"sqlite missing directory", "sqlite:" + filepath.Join(t.TempDir(), "missing", "carepath.db"), "unable to open SQLite"},
		{"postgres unreachable", "postgres://carepath:s3cret@127.0.0.1:1/carepath?sslmode=disable&connect_timeout=5", "unable to connect to PostgreSQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := database.Open(t.Context(), tt.dsn)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want error containing %q", tt.dsn, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open(%q) error = %q, want it to contain %q", tt.dsn, err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "database: ") {
				t.Errorf("Open(%q) error = %q, want prefix %q", tt.dsn, err, "database: ")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open(%q) error = %q leaks the password", tt.dsn, err)
			}
		})
	}
}

func TestOpenConfiguresConnections(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		want := map[database.Dialect]string{
			database.SQLite:   "SELECT a FROM b WHERE c = ? AND d = ?",
			database.Postgres: "SELECT a FROM b WHERE c = $1 AND d = $2",
		}[db.Dialect]
		if got := db.Rebind("SELECT a FROM b WHERE c = ? AND d = ?"); got != want {
			t.Errorf("Rebind = %q, want %q", got, want)
		}
		if db.Dialect != database.SQLite {
			return
		}
		pragmas := []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"busy_timeout", "10000"},
			{"foreign_keys", "1"},
			{"synchronous", "1"}, // NORMAL
		}
		// Ask several connections: the settings must hold for every
		// connection in the pool, not only the first.
		conns := make([]*sqlx.Conn, 3)
		for i := range conns {
			conn, err := db.Connx(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conns[i] = conn
		}
		for _, p := range pragmas {
			for i, conn := range conns {
				var got string
				if err := conn.QueryRowxContext(t.Context(), "PRAGMA "+p.pragma).Scan(&got); err != nil {
					t.Fatalf("PRAGMA %s: %v", p.pragma, err)
				}
				if got != p.want {
					t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, p.pragma, got, p.want)
				}
			}
		}
	})
}

// foundationColumns is the schema both dialects must share; selecting every
// column proves each table and column exists.
var foundationColumns = map[string][]string{
	"forms":               {"id", "version", "definition", "sha256", "created_at"},
	"pathways":            {"id", "name", "description", "definition", "updated_at"},
	"rulesets":            {"id", "version", "form_id", "source", "sha256", "status", "created_at"},
	"ruleset_activations": {"seq", "ruleset_id", "version", "effective_from", "created_at"},
	"decisions": {"seq", "id", "idempotency_key", "request_sha256", "input", "input_sha256", "form_id",
		"form_version", "subject_ref", "scores", "ruleset_id", "ruleset_version", "ruleset_sha256", "pathway",
		"priority", "respond_within", "flags", "rule_id", "explanation", "authored_at", "decided_at", "engine_version"},
}

func TestMigrateIsIdempotent(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		// databasetest has migrated once already; twice more must be no-ops.
		for i := range 2 {
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate #%d: %v", i+2, err)
			}
		}
		current, known, err := db.SchemaVersion(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if known < 1 || current != known {
			t.Errorf("SchemaVersion = (%d, %d), want current == known >= 1", current, known)
		}
		if err := db.CheckSchema(t.Context()); err != nil {
			t.Errorf("CheckSchema: %v", err)
		}
		for table, columns := range foundationColumns {
			query := fmt.Sprintf("SELECT %s FROM %s", strings.Join(columns, ", "), table)
			rows, err := db.QueryContext(t.Context(), query)
			if err != nil {
				t.Errorf("%s: %v", table, err)
				continue
			}
			got, err := rows.Columns()
			rows.Close()
			if err != nil || len(got) != len(columns) {
				t.Errorf("%s columns = %v (%v), want %v", table, got, err, columns)
			}
		}
	})
}

func TestMigrateFromEmpty(t *testing.T) {
	for _, dialect := range databasetest.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			db, err := database.Open(t.Context(), databasetest.EmptyDSN(t, dialect))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()

			current, known, err := db.SchemaVersion(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if current != 0 || known < 1 {
				t.Fatalf("SchemaVersion on an empty database = (%d, %d), want (0, >=1)", current, known)
			}
			err = db.CheckSchema(t.Context())
			if !errors.Is(err, database.ErrSchemaTooOld) || errors.Is(err, database.ErrSchemaTooNew) {
				t.Fatalf("CheckSchema on an empty database = %v, want ErrSchemaTooOld", err)
			}
			want := fmt.Sprintf("database schema version 0 is older than this carepath needs (%d): run `carepath migrate`", known)
			if err.Error() != want {
				t.Errorf("CheckSchema error = %q, want %q", err, want)
			}
			// Checking must not write: the version table is still absent.
			if _, err := db.ExecContext(t.Context(), "SELECT 1 FROM goose_db_version"); err == nil {
				t.Errorf("CheckSchema created goose_db_version")
			}

			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if err := db.CheckSchema(t.Context()); err != nil {
				t.Errorf("CheckSchema after Migrate: %v", err)
			}
		})
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		_, known, err := db.SchemaVersion(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		newer := known + 6
		if _, err := db.ExecContext(t.Context(), db.Rebind("INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)"), newer, true); err != nil {
			t.Fatal(err)
		}
		var rowsBefore int
		if err := db.GetContext(t.Context(), &rowsBefore, "SELECT COUNT(*) FROM goose_db_version"); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("database schema version %d is newer than this carepath knows (%d): upgrade carepath", newer, known)

		checks := []struct {
			name string
			run  func(context.Context) error
		}{
			{"CheckSchema", db.CheckSchema},
			{"Migrate", db.Migrate},
		}
		for _, check := range checks {
			err := check.run(t.Context())
			if !errors.Is(err, database.ErrSchemaTooNew) {
				t.Fatalf("%s = %v, want ErrSchemaTooNew", check.name, err)
			}
			if err.Error() != want {
				t.Errorf("%s error = %q, want %q", check.name, err, want)
			}
			var versionErr *database.SchemaVersionError
			if !errors.As(err, &versionErr) || versionErr.Current != newer || versionErr.Known != known {
				t.Errorf("%s error = %#v, want SchemaVersionError{%d, %d}", check.name, err, newer, known)
			}
		}
		var rowsAfter int
		if err := db.GetContext(t.Context(), &rowsAfter, "SELECT COUNT(*) FROM goose_db_version"); err != nil {
			t.Fatal(err)
		}
		if rowsAfter != rowsBefore {
			t.Errorf("Migrate changed goose_db_version: %d rows, want %d", rowsAfter, rowsBefore)
		}
	})
}

var errAbandon = errors.New("abandon")

func TestInTx(t *testing.T) {
	insertPathway := func(id string) func(tx *database.Tx) error {
		return func(tx *database.Tx) error {
			_, err := tx.ExecContext(t.Context(), tx.Rebind("INSERT INTO pathways (id, name, description, definition, updated_at) VALUES (?, ?, ?, ?, ?)"),
				id, "Name", "Description", "{}", database.NewTime(time.Now()))
			return err
		}
	}
	tests := []struct {
		name      string
		fn        func(id string) func(tx *database.Tx) error
		wantErr   error
		wantPanic bool
		wantRows  int
	}{
		{
			name:     "commits on success",
			fn:       insertPathway,
			wantRows: 1,
		},
		{
			name: "rolls back on error",
			fn: func(id string) func(tx *database.Tx) error {
				return func(tx *database.Tx) error {
					if err := insertPathway(id)(tx); err != nil {
						return err
					}
					return fmt.Errorf("later step: %w", errAbandon)
				}
			},
			wantErr:  errAbandon,
			wantRows: 0,
		},
		{
			name: "rolls back on panic",
			fn: func(id string) func(tx *database.Tx) error {
				return func(tx *database.Tx) error {
					if err := insertPathway(id)(tx); err != nil {
						return err
					}
					panic("boom")
				}
			},
			wantPanic: true,
			wantRows:  0,
		},
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := strings.ReplaceAll(tt.name, " ", "-")
				var err error
				panicked := func() (panicked bool) {
					defer func() { panicked = recover() != nil }()
					err = db.InTx(t.Context(), tt.fn(id))
					return false
				}()
				if panicked != tt.wantPanic {
					t.Errorf("panicked = %v, want %v", panicked, tt.wantPanic)
				}
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Errorf("InTx error = %v, want %v", err, tt.wantErr)
				}
				// A fresh transaction must work: a leaked one would hold
				// SQLite's write lock and time this out.
				var rows int
				if err := db.InTx(t.Context(), func(tx *database.Tx) error {
					return tx.GetContext(t.Context(), &rows, tx.Rebind("SELECT COUNT(*) FROM pathways WHERE id = ?"), id)
				}); err != nil {
					t.Fatal(err)
				}
				if rows != tt.wantRows {
					t.Errorf("pathway rows = %d, want %d", rows, tt.wantRows)
				}
			})
		}
	})
}

// TestInTxConcurrentReadThenWrite is the pattern that fails with SQLITE_BUSY
// under deferred transactions: both read, then both try to upgrade to write.
func TestInTxConcurrentReadThenWrite(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		const writers = 8
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Go(func() {
				errs <- db.InTx(t.Context(), func(tx *database.Tx) error {
					var n int
					if err := tx.GetContext(t.Context(), &n, "SELECT COUNT(*) FROM pathways"); err != nil {
						return err
					}
					time.Sleep(5 * time.Millisecond)
					_, err := tx.ExecContext(t.Context(), tx.Rebind("INSERT INTO pathways (id, name, description, definition, updated_at) VALUES (?, ?, ?, ?, ?)"),
						fmt.Sprintf("p%d", i), fmt.Sprint(n), "", "{}", database.NewTime(time.Now()))
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent InTx: %v", err)
			}
		}
		var n int
		if err := db.GetContext(t.Context(), &n, "SELECT COUNT(*) FROM pathways"); err != nil {
			t.Fatal(err)
		}
		if n != writers {
			t.Errorf("pathways = %d, want %d", n, writers)
		}
	})
}

func insertDecision(db *database.DB, id string, idempotencyKey *string) error {
	now := database.NewTime(time.Now())
	_, err := db.Exec(db.Rebind(`INSERT INTO decisions (id, idempotency_key, request_sha256, input, input_sha256,
		form_id, form_version, subject_ref, scores, ruleset_id, ruleset_version, ruleset_sha256, pathway, priority,
		respond_within, flags, rule_id, explanation, authored_at, decided_at, engine_version)
		VALUES (?, ?, 'r', '{}', 'i', 'f', 1, 's', '{}', 'rs', 1, 'h', 'p', 'routine', 'P7D', '[]', 'rule', 'why', ?, ?, 'test')`),
		id, idempotencyKey, now, now)
	return err
}

func TestIsUniqueViolation(t *testing.T) {
	key := "key-1"
	tests := []struct {
		name  string
		setup func(db *database.DB) error
		act   func(db *database.DB) error
		want  bool
	}{
		{
			name:  "duplicate primary key",
			setup: func(db *database.DB) error { return insertPathwayRow(db, "dup") },
			act:   func(db *database.DB) error { return insertPathwayRow(db, "dup") },
			want:  true,
		},
		{
			name:  "duplicate unique column",
			setup: func(db *database.DB) error { return insertDecision(db, "d1", nil) },
			act:   func(db *database.DB) error { return insertDecision(db, "d1", nil) },
			want:  true,
		},
		{
			name:  "duplicate idempotency key",
			setup: func(db *database.DB) error { return insertDecision(db, "d2", &key) },
			act:   func(db *database.DB) error { return insertDecision(db, "d3", &key) },
			want:  true,
		},
		{
			name: "foreign key violation",
			act: func(db *database.DB) error {
				now := database.NewTime(time.Now())
				_, err := db.Exec(db.Rebind("INSERT INTO ruleset_activations (ruleset_id, version, effective_from, created_at) VALUES (?, ?, ?, ?)"),
					"missing", 1, now, now)
				return err
			},
			want: false,
		},
		{
			name: "not null violation",
			act: func(db *database.DB) error {
				_, err := db.Exec("INSERT INTO pathways (id) VALUES ('x')")
				return err
			},
			want: false,
		},
		{
			name: "syntax error",
			act: func(db *database.DB) error {
				_, err := db.Exec("INSERT INTO")
				return err
			},
			want: false,
		},
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.setup != nil {
					if err := tt.setup(db); err != nil {
						t.Fatalf("setup: %v", err)
					}
				}
				err := tt.act(db)
				if err == nil {
					t.Fatal("statement succeeded, want an error")
				}
				wrapped := fmt.Errorf("store: unable to save: %w", err)
				if got := database.IsUniqueViolation(wrapped); got != tt.want {
					t.Errorf("IsUniqueViolation(%v) = %v, want %v", err, got, tt.want)
				}
			})
		}
	})
	for _, err := range []error{nil, errors.New("unique constraint failed")} {
		if database.IsUniqueViolation(err) {
			t.Errorf("IsUniqueViolation(%v) = true, want false", err)
		}
	}
}

func insertPathwayRow(db *database.DB, id string) error {
	_, err := db.Exec(db.Rebind("INSERT INTO pathways (id, name, description, definition, updated_at) VALUES (?, ?, ?, ?, ?)"),
		id, "Name", "Description", "{}", database.NewTime(time.Now()))
	return err
}

func TestDecisionsAllowManyNullIdempotencyKeys(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ids := []string{"a", "b", "c"}
		for _, id := range ids {
			if err := insertDecision(db, id, nil); err != nil {
				t.Fatalf("insert decision %s with NULL idempotency key: %v", id, err)
			}
		}
		var got []string
		if err := db.Select(&got, "SELECT id FROM decisions WHERE idempotency_key IS NULL ORDER BY seq"); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Errorf("decisions in seq order = %v, want %v", got, ids)
		}
	})
}

// TestDecisionsCompressWithLZ4 checks that PostgreSQL compresses decisions' large JSON with lz4,
// which bulk imports depend on for their speed.
func TestDecisionsCompressWithLZ4(t *testing.T) {
	db := databasetest.Open(t, database.Postgres)
	var methods []string
	err := db.Select(&methods, `SELECT attcompression::text FROM pg_attribute
		WHERE attrelid = 'decisions'::regclass AND attname IN ('input', 'explanation', 'services') ORDER BY attname`)
	if err != nil {
		t.Fatal(err)
	}
	if len(methods) != 3 || methods[0] != "l" || methods[1] != "l" || methods[2] != "l" {
		t.Errorf("compression methods of input, explanation, services: %v, want lz4 (l) for each", methods)
	}
}
