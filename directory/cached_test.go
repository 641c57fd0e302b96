package directory_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/directory"
)

// TestCachedIndexRebuildsOnlyForDirectoryChanges: with the reference generation as the gate, a
// generation that moves for another reason (a rule-set activation, a new practitioner) keeps the
// compiled index, which on a large directory takes seconds to build; a change to the services
// rebuilds it, including a delete and an insert that leave the row count and the sum of
// revisions where they were.
func TestCachedIndexRebuildsOnlyForDirectoryChanges(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := directory.NewSQLStore(db)
		services := demoServices(t)
		if _, err := store.PutServices(ctx, services, nil, storeNow); err != nil {
			t.Fatal(err)
		}
		var gen atomic.Uint64
		cache := directory.NewCachedIndex(store)
		cache.Generation = func(context.Context) (uint64, error) { return gen.Load(), nil }
		index := func() *directory.Index {
			t.Helper()
			ix, err := cache.Index(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return ix
		}
		first := index()
		if index() != first {
			t.Fatal("rebuilt with nothing changed")
		}
		// Another kind of reference data changed: the generation moves, the services do not.
		if _, err := db.ExecContext(ctx, `UPDATE reference_marker SET counter = counter + 1 WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		gen.Add(1)
		if index() != first {
			t.Error("rebuilt when the generation moved for something other than the services")
		}

		renamed := services[0]
		renamed.Name = "Renamed talking therapies"
		if _, err := store.PutServices(ctx, []directory.Service{renamed}, nil, storeNow); err != nil {
			t.Fatal(err)
		}
		gen.Add(1)
		second := index()
		if svc, _ := second.Service(renamed.ID); second == first || svc.Name != renamed.Name {
			t.Fatalf("not rebuilt after an import: %q", svc.Name)
		}

		// One service goes and another comes with the same revision in one transaction: the
		// count and the sum of revisions are unchanged, the directory is not.
		var row struct {
			ID       string `db:"id"`
			Document string `db:"document"`
		}
		if err := db.GetContext(ctx, &row, `SELECT id, document FROM services WHERE revision = 1 ORDER BY id LIMIT 1`); err != nil {
			t.Fatal(err)
		}
		gone := row.ID
		var newcomer directory.Service
		if err := json.Unmarshal([]byte(row.Document), &newcomer); err != nil {
			t.Fatal(err)
		}
		newcomer.ID, newcomer.Code, newcomer.Name = "svc-newcomer", "", "Newcomer"
		doc, err := json.Marshal(newcomer)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *database.Tx) error {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM services WHERE id = ?`), gone); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO services (id, document, revision, updated_at) VALUES (?, ?, 1, ?)`),
				"svc-newcomer", string(doc), database.NewTime(storeNow))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		gen.Add(1)
		third := index()
		if third == second || third.Len() != second.Len() {
			t.Fatalf("not rebuilt after a delete and an insert (%d services, before %d)", third.Len(), second.Len())
		}
		if _, ok := third.Service(gone); ok {
			t.Errorf("%s still in the index after its delete", gone)
		}
		if _, ok := third.Service("svc-newcomer"); !ok {
			t.Error("the inserted service is not in the index")
		}
	})
}
