package database_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

// countPathways runs every Querier statement, so a store method written against the interface
// behaves the same on the pool and on a caller's transaction.
func countPathways(ctx context.Context, q database.Querier, id string) (got, listed, scanned int, err error) {
	if _, err := q.ExecContext(ctx, q.Rebind("INSERT INTO pathways (id, name, description, definition, updated_at) VALUES (?, ?, ?, ?, ?)"),
		id, "Name", "", "{}", database.NewTime(time.Now())); err != nil {
		return 0, 0, 0, err
	}
	if err := q.GetContext(ctx, &got, q.Rebind("SELECT COUNT(*) FROM pathways WHERE id = ?"), id); err != nil {
		return 0, 0, 0, err
	}
	var ids []string
	if err := q.SelectContext(ctx, &ids, q.Rebind("SELECT id FROM pathways WHERE id = ?"), id); err != nil {
		return 0, 0, 0, err
	}
	rows, err := q.QueryContext(ctx, q.Rebind("SELECT id FROM pathways WHERE id = ?"), id)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		scanned++
	}
	if err := rows.Err(); err != nil {
		return 0, 0, 0, err
	}
	var one string
	if err := q.QueryRowContext(ctx, q.Rebind("SELECT id FROM pathways WHERE id = ?"), id).Scan(&one); err != nil {
		return 0, 0, 0, err
	}
	return got, len(ids), scanned, nil
}

func TestQuerierOnPoolAndTx(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		check := func(name string, q database.Querier) {
			t.Helper()
			got, listed, scanned, err := countPathways(ctx, q, name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got != 1 || listed != 1 || scanned != 1 {
				t.Errorf("%s: count %d, select %d, query %d rows; want 1 each", name, got, listed, scanned)
			}
		}
		check("pool", db)
		err := db.InTx(ctx, func(tx *database.Tx) error {
			if tx.Dialect != db.Dialect {
				t.Errorf("Tx.Dialect = %q, want the pool's %q", tx.Dialect, db.Dialect)
			}
			check("tx", tx)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestPreparedStatements runs the same ?-placeholder statements many times on both backends:
// the first calls run unprepared while the pool prepares them in the background, later ones run
// prepared, and every call gives the same results. A transaction holding SQLite's write lock
// must never wait on the preparing, with every connection of the pool busy.
func TestPreparedStatements(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE prepared_probe (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8*25)
		for w := range 8 { // twice the SQLite pool
			wg.Go(func() {
				for i := range 25 {
					errs <- db.InTx(ctx, func(tx *database.Tx) error {
						k := fmt.Sprintf("k-%d-%d", w, i)
						if _, err := tx.ExecPrepared(ctx, `INSERT INTO prepared_probe (k, v) VALUES (?, ?)`, k, i); err != nil {
							return err
						}
						var v int
						if err := tx.QueryRowPrepared(ctx, `SELECT v FROM prepared_probe WHERE k = ?`, k).Scan(&v); err != nil {
							return err
						}
						if v != i {
							return fmt.Errorf("%s: read %d back, want %d", k, v, i)
						}
						return nil
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM prepared_probe`); err != nil || n != 200 {
			t.Fatalf("stored %d rows (%v), want 200", n, err)
		}
	})
}
