package identity_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// TestTokenFirstUseReadOnce: many connections opening at once with one token (a load balancer, an
// EPR's pool, a load test) share one lookup, so the token's row is written once instead of each
// request queueing on its lock; a trigger counts the writes.
func TestTokenFirstUseReadOnce(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		secret, _, err := s.CreateToken(ctx, "alice", "epr", t0.Add(90*24*time.Hour), t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range countTokenWrites(db.Dialect) {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		a := identity.NewAuthenticator(s, func() time.Time { return t0.Add(time.Hour) })
		const n = 32
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for range n {
			wg.Go(func() {
				<-start
				p, err := a.Bearer(ctx, secret)
				if err != nil || p.Method != identity.MethodToken || !p.Has(identity.Clinician) {
					errs <- err
				}
			})
			wg.Go(func() {
				<-start
				// A wrong token is refused, however many ask at once, and is not cached.
				if _, err := a.Bearer(ctx, identity.TokenPrefix+"not-a-real-token-at-all"); failure.CodeOf(err) != failure.Unauthenticated {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent first use: %v", err)
		}
		var writes int
		if err := db.GetContext(ctx, &writes, `SELECT n FROM token_writes`); err != nil {
			t.Fatal(err)
		}
		if writes != 1 {
			t.Errorf("the token's row was written %d times by %d requests arriving together, want once", writes, n)
		}
	})
}

// countTokenWrites makes a table counting UPDATEs of api_tokens, by a trigger.
func countTokenWrites(d database.Dialect) []string {
	qs := []string{`CREATE TABLE token_writes (n INTEGER NOT NULL)`, `INSERT INTO token_writes (n) VALUES (0)`}
	if d == database.SQLite {
		return append(qs, `CREATE TRIGGER token_written AFTER UPDATE ON api_tokens BEGIN UPDATE token_writes SET n = n + 1; END`)
	}
	return append(qs,
		`CREATE FUNCTION token_written() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE token_writes SET n = n + 1; RETURN NULL; END $$`,
		`CREATE TRIGGER token_written AFTER UPDATE ON api_tokens FOR EACH ROW EXECUTE FUNCTION token_written()`)
}
