package directory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/directory"
)

// TestCachedIndexIncrementalEqualsFullBuild: through the store, after random changes written
// straight to the services table (so that invalid documents get in, as no import would let
// them), the cache's incremental rebuild equals a build from scratch over what Services lists,
// and fails with the same error when that does; one rebuild per change, none without.
func TestCachedIndexIncrementalEqualsFullBuild(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := directory.NewSQLStore(db)
		if _, err := store.PutServices(ctx, demoServices(t), nil, storeNow); err != nil {
			t.Fatal(err)
		}
		stored, err := store.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		changer := directory.NewDirectoryChanger(t, 7, stored)
		cache := directory.NewCachedIndex(store)
		full := func() (*directory.Index, error) {
			services, err := store.Services(ctx)
			if err != nil {
				return nil, err
			}
			ix, err := directory.NewIndex(services)
			if err != nil {
				return nil, fmt.Errorf("directory: stored services do not compile: %w", err)
			}
			return ix, nil
		}
		upsert := statement(db, `INSERT INTO services (id, document, revision, updated_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (id) DO UPDATE SET document = excluded.document, revision = services.revision + 1`)
		remove := statement(db, `DELETE FROM services WHERE id = ?`)

		steps := 30
		if testing.Short() {
			steps = 10
		}
		failed, failures := false, 0
		var last *directory.Index
		for step := range steps {
			changes, what := changer.Step(t, failed)
			if err := db.InTx(ctx, func(tx *database.Tx) error {
				for id, doc := range changes {
					var err error
					if doc == nil {
						err = remove(ctx, tx, id)
					} else {
						err = upsert(ctx, tx, id, string(doc), database.NewTime(storeNow))
					}
					if err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := cache.Index(ctx)
			want, wantErr := full()
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("step %d (%v): cached index error\n%v\nwant\n%v", step, what, err, wantErr)
			}
			if failed = err != nil; failed {
				failures++
				continue
			}
			if got == last && len(changes) > 0 {
				t.Fatalf("step %d (%v): not rebuilt after a change", step, what)
			}
			if again, _ := cache.Index(ctx); again != got {
				t.Fatalf("step %d: rebuilt with nothing changed", step)
			}
			last = got
			if d := directory.CompareIndexes(got, want, directory.IndexQueries(got, want)); d != "" {
				t.Fatalf("step %d (%v): cached index differs from a full build:\n%s", step, what, d)
			}
		}
		if failures == 0 || failures == steps {
			t.Errorf("%d of %d builds failed: the changes should exercise both", failures, steps)
		}
	})
}

// statement prepares one statement for use inside transactions.
func statement(db *database.DB, query string) func(ctx context.Context, tx *database.Tx, args ...any) error {
	q := db.Rebind(query)
	return func(ctx context.Context, tx *database.Tx, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
}
