package audit_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/failure"
)

var base = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// access is a plain read of records by subject, i minutes after base.
func access(i int, subject string, records ...string) audit.Access {
	return audit.Access{
		Subject: subject, Roles: []string{"clinician"}, Team: "north", At: base.Add(time.Duration(i) * time.Minute),
		Action: audit.ActionDecisionRead, Records: records, Outcome: audit.Allowed, Client: "127.0.0.1", RequestID: fmt.Sprintf("req-%d", i),
	}
}

// appendAll appends the entries and seals them into the chain, as the server's sealer would.
func appendAll(t testing.TB, log *audit.Log, entries ...audit.Access) {
	t.Helper()
	for _, e := range entries {
		if err := log.Append(context.Background(), e); err != nil {
			t.Fatalf("append %s by %s: %v", e.Action, e.Subject, err)
		}
	}
	seal(t, log.DB)
}

func seal(t testing.TB, db *database.DB) int {
	t.Helper()
	n, err := (&audit.Sealer{DB: db}).Seal(context.Background())
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return n
}

func ruleSetEntry(i int) audit.RuleSetEntry {
	return audit.RuleSetEntry{RuleSet: "mental-health", Version: i, Actor: "u-alice", ActorName: "Alice", At: base.Add(time.Duration(i) * time.Hour),
		From: "", To: "draft", Reason: fmt.Sprintf("draft %d", i), Detail: `{"n":` + fmt.Sprint(i) + `}`}
}

func appendRuleSet(t testing.TB, db *database.DB, entries ...audit.RuleSetEntry) {
	t.Helper()
	for _, e := range entries {
		err := db.InTx(context.Background(), func(tx *database.Tx) error { return audit.AppendRuleSetTx(context.Background(), tx, e) })
		if err != nil {
			t.Fatalf("append rule-set entry %d: %v", e.Version, err)
		}
	}
}

func seqs(found []audit.Access) []int64 {
	out := []int64{}
	for _, a := range found {
		out = append(out, a.Seq)
	}
	return out
}

func verify(t testing.TB, db *database.DB, chain string) audit.Report {
	t.Helper()
	r, err := audit.Verify(context.Background(), db, chain)
	if err != nil {
		t.Fatalf("verify %s: %v", chain, err)
	}
	return r
}

func TestAppendAndSearch(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		log := &audit.Log{DB: db}
		bob := audit.Access{Subject: "u-bob", Roles: []string{"clinician", "coordinator"}, Team: "south", At: base.Add(2*time.Minute + 1500*time.Nanosecond),
			Action: audit.ActionAppointmentMove, Records: []string{"d-1", "d-2", "d-1"}, Purpose: "rebooking", Outcome: audit.Allowed,
			Client: "192.0.2.7", RequestID: "req-2"}
		glass := access(3, "u-alice", "d-3")
		glass.BreakGlass, glass.Purpose = true, "urgent safeguarding call"
		denied := access(4, "u-carol", "d-2")
		denied.Outcome = audit.Denied
		export := access(5, "u-alice")
		export.Action = audit.ActionExportRun
		appendAll(t, log, access(1, "u-alice", "d-1"), bob, glass, denied, export)

		tests := []struct {
			name   string
			filter audit.Filter
			want   []int64
		}{
			{"everything, newest first", audit.Filter{}, []int64{5, 4, 3, 2, 1}},
			{"by user", audit.Filter{Subject: "u-alice"}, []int64{5, 3, 1}},
			{"by record", audit.Filter{Record: "d-2"}, []int64{4, 2}},
			{"by record and user", audit.Filter{Record: "d-1", Subject: "u-bob"}, []int64{2}},
			{"since is inclusive", audit.Filter{Since: base.Add(3 * time.Minute)}, []int64{5, 4, 3}},
			{"until is exclusive", audit.Filter{Until: base.Add(3 * time.Minute)}, []int64{2, 1}},
			{"window", audit.Filter{Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)}, []int64{3, 2}},
			{"break glass only", audit.Filter{BreakGlassOnly: true}, []int64{3}},
			{"limit", audit.Filter{Limit: 2}, []int64{5, 4}},
			{"nobody touched the record", audit.Filter{Record: "d-404"}, []int64{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				found, err := log.Search(t.Context(), tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				if got := seqs(found); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("seqs = %v, want %v", got, tt.want)
				}
			})
		}

		found, err := log.Search(t.Context(), audit.Filter{Subject: "u-bob"})
		if err != nil || len(found) != 1 {
			t.Fatalf("search bob: %v %v", found, err)
		}
		got := found[0]
		if _, err := hex.DecodeString(got.Hash); err != nil || len(got.Hash) != 64 {
			t.Errorf("hash %q: want 64 hex digits", got.Hash)
		}
		if !got.At.Equal(bob.At.Truncate(time.Microsecond)) {
			t.Errorf("at = %v, want %v to the microsecond", got.At, bob.At)
		}
		want := bob
		want.Seq, want.Hash, want.At, want.Records = 2, got.Hash, got.At, []string{"d-1", "d-2"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n %+v\nwant\n %+v", got, want)
		}

		for _, f := range []audit.Filter{{Limit: -1}, {Limit: audit.MaxLimit + 1}, {Since: base, Until: base}} {
			if _, err := log.Search(t.Context(), f); failure.CodeOf(err) != failure.Invalid {
				t.Errorf("search %+v: %v, want invalid", f, err)
			}
		}

		all, _ := log.Search(t.Context(), audit.Filter{})
		if r := verify(t, db, audit.ChainAccess); !r.OK || r.Rows != 5 || r.Head != all[0].Hash {
			t.Errorf("verify = %+v, want intact with 5 rows and head %s", r, all[0].Hash)
		}
	})
}

func TestAppendRefusesIncompleteRecords(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		log := &audit.Log{DB: db}
		tests := []struct {
			name  string
			edit  func(a *audit.Access)
			field string
		}{
			{"no subject", func(a *audit.Access) { a.Subject = " " }, "subject"},
			{"no action", func(a *audit.Access) { a.Action = "" }, "action"},
			{"no time", func(a *audit.Access) { a.At = time.Time{} }, "at"},
			{"unknown outcome", func(a *audit.Access) { a.Outcome = "maybe" }, "outcome"},
			{"break glass without a reason", func(a *audit.Access) { a.BreakGlass, a.Purpose = true, "" }, "reason"},
			{"role with a comma", func(a *audit.Access) { a.Roles = []string{"clinician,admin"} }, "role"},
			{"empty record id", func(a *audit.Access) { a.Records = []string{"d-1", ""} }, "record id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := access(1, "u-alice", "d-1")
				tt.edit(&e)
				err := log.Append(t.Context(), e)
				if failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), tt.field) {
					t.Errorf("append: %v, want invalid naming %s", err, tt.field)
				}
			})
		}
		if r := verify(t, db, audit.ChainAccess); !r.OK || r.Rows != 0 {
			t.Errorf("verify = %+v, want an empty intact chain", r)
		}
	})
}

// TestAppendTxCommitsWithTheCaller checks that an access recorded in a transaction that rolls back
// leaves no row, and that the gap it may leave in the row numbers (PostgreSQL's sequence does not
// give numbers back) does not break the chain.
func TestAppendTxCommitsWithTheCaller(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		boom := errors.New("the decision could not be stored")
		err := db.InTx(t.Context(), func(tx *database.Tx) error {
			if err := audit.AppendTx(t.Context(), tx, access(1, "u-alice", "d-1")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: %v", err)
		}
		log := &audit.Log{DB: db}
		appendAll(t, log, access(2, "u-bob", "d-2"))
		found, err := log.Search(t.Context(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].Subject != "u-bob" || found[0].Hash == "" {
			t.Errorf("stored %+v, want only bob's access, sealed", found)
		}
		if r := verify(t, db, audit.ChainAccess); !r.OK || r.Rows != 1 {
			t.Errorf("verify = %+v", r)
		}
	})
}

// TestConcurrentAppendsKeepOneChain appends from eight writers while two sealers (as two replicas
// would run) link rows, and checks that every row ends in one intact chain.
func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	const writers, each = 8, 20
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		log := &audit.Log{DB: db}
		ctx, stop := context.WithCancel(context.Background())
		var sealers sync.WaitGroup
		for range 2 {
			sealers.Go(func() { (&audit.Sealer{DB: db, Batch: 7}).Run(ctx, time.Millisecond) })
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if err := log.Append(context.Background(), access(i, fmt.Sprintf("u-%d", w), fmt.Sprintf("d-%d-%d", w, i))); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		stop()
		sealers.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seal(t, db)
		r := verify(t, db, audit.ChainAccess)
		if !r.OK || r.Rows != writers*each {
			t.Errorf("verify = %+v, want intact with %d rows", r, writers*each)
		}
		found, err := log.Search(t.Context(), audit.Filter{Limit: audit.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != writers*each {
			t.Fatalf("found %d rows, want %d", len(found), writers*each)
		}
		for _, a := range found {
			if a.Hash == "" {
				t.Fatalf("row %d is not sealed", a.Seq)
			}
		}
	})
}

// dropGuards removes a table's append-only triggers, as someone with schema rights could.
func dropGuards(t testing.TB, db *database.DB, tables ...string) {
	t.Helper()
	for _, table := range tables {
		stmts := []string{"DROP TRIGGER IF EXISTS " + table + "_no_update", "DROP TRIGGER IF EXISTS " + table + "_no_delete"}
		if db.Dialect == database.Postgres {
			stmts = []string{"DROP TRIGGER IF EXISTS " + table + "_append_only ON " + table}
		}
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
}

func exec(t testing.TB, db *database.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(db.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestAuditTablesAreAppendOnly(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		appendAll(t, &audit.Log{DB: db}, access(1, "u-alice", "d-1"), access(2, "u-bob", "d-2"))
		appendRuleSet(t, db, ruleSetEntry(1), ruleSetEntry(2))
		tests := []struct {
			query string
			want  string
		}{
			{"UPDATE access_audit SET subject = 'u-mallory' WHERE seq = 1", "access_audit is append-only"},
			{"DELETE FROM access_audit WHERE seq = 2", "access_audit is append-only"},
			{"UPDATE access_audit_records SET record_id = 'd-9'", "access_audit_records is append-only"},
			{"DELETE FROM access_audit_records", "access_audit_records is append-only"},
			{"UPDATE access_audit_links SET hash = 'x'", "access_audit_links is append-only"},
			{"DELETE FROM access_audit_links", "access_audit_links is append-only"},
			{"UPDATE access_audit_subjects SET subject = 'u-mallory'", "access_audit_subjects is append-only"},
			{"DELETE FROM access_audit_subjects", "access_audit_subjects is append-only"},
			{"UPDATE ruleset_audit SET actor = 'u-mallory'", "ruleset_audit is append-only"},
			{"DELETE FROM ruleset_audit WHERE seq = 2", "ruleset_audit is append-only"},
			{"INSERT INTO ruleset_audit (ruleset_id, version, actor, at, from_status, to_status, reason, detail) VALUES ('x', 1, 'u-mallory', '2026-01-01T00:00:00.000000Z', '', 'draft', '', 'null')",
				"written through the audit chain"},
			{"UPDATE audit_chains SET seq = 1 WHERE chain = 'access'", "only move forward"},
			{"DELETE FROM audit_chains WHERE chain = 'ruleset'", "only move forward"},
		}
		if db.Dialect == database.Postgres {
			tests = append(tests, []struct{ query, want string }{
				{"TRUNCATE access_audit, access_audit_records", "is append-only"},
				{"TRUNCATE ruleset_audit", "ruleset_audit is append-only"},
				{"TRUNCATE audit_chains", "audit_chains is append-only"},
			}...)
		}
		for _, tt := range tests {
			if _, err := db.Exec(tt.query); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: %v, want an error saying %q", tt.query, err, tt.want)
			}
		}
		for _, chain := range audit.Chains() {
			if r := verify(t, db, chain); !r.OK || r.Rows != 2 {
				t.Errorf("verify %s = %+v, want intact with 2 rows", chain, r)
			}
		}
	})
}

func TestVerifyNamesTheFirstBadRow(t *testing.T) {
	tests := []struct {
		name    string
		chain   string
		tamper  func(t *testing.T, db *database.DB)
		wantBad int64
		want    string
	}{
		{"a field edited", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit")
			exec(t, db, "UPDATE access_audit SET subject = 'u-mallory' WHERE seq = 3")
		}, 3, "row 3 was changed"},
		{"the records edited", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit")
			exec(t, db, `UPDATE access_audit SET records = '["d-9"]' WHERE seq = 2`)
		}, 2, "row 2 was changed"},
		{"a row edited and its hash recomputed", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit")
			dropGuards(t, db, "access_audit_links")
			var prev string
			if err := db.Get(&prev, "SELECT prev_hash FROM access_audit_links WHERE row_seq = 3"); err != nil {
				t.Fatal(err)
			}
			e := access(3, "u-mallory", "d-3")
			records, _ := json.Marshal(e.Records)
			forged := audit.HashRow(audit.ChainAccess, 3, prev, database.NewTime(e.At).String(), e.Subject, strings.Join(e.Roles, ","), e.Team,
				e.Action, string(records), e.Purpose, "false", string(e.Outcome), e.Client, e.RequestID)
			exec(t, db, "UPDATE access_audit SET subject = 'u-mallory' WHERE seq = 3")
			exec(t, db, "UPDATE access_audit_links SET hash = ? WHERE row_seq = 3", forged)
		}, 4, "row 4 does not follow the row before it"},
		{"a row deleted", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit", "access_audit_records")
			exec(t, db, "DELETE FROM access_audit_records WHERE seq = 3")
			exec(t, db, "DELETE FROM access_audit WHERE seq = 3")
		}, 3, "row 3 is missing"},
		{"the first row deleted", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit", "access_audit_records")
			exec(t, db, "DELETE FROM access_audit_records WHERE seq = 1")
			exec(t, db, "DELETE FROM access_audit WHERE seq = 1")
		}, 1, "row 1 is missing"},
		{"the last row deleted", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit", "access_audit_records")
			exec(t, db, "DELETE FROM access_audit_records WHERE seq = 5")
			exec(t, db, "DELETE FROM access_audit WHERE seq = 5")
		}, 5, "row 5 is missing"},
		{"the last row and its link deleted", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit", "access_audit_records", "access_audit_links")
			exec(t, db, "DELETE FROM access_audit_links WHERE row_seq = 5")
			exec(t, db, "DELETE FROM access_audit_records WHERE seq = 5")
			exec(t, db, "DELETE FROM access_audit WHERE seq = 5")
		}, 5, "chain head counts links up to 5"},
		{"a link deleted", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit_links")
			exec(t, db, "DELETE FROM access_audit_links WHERE chain_seq = 2")
		}, 2, "link 2 of the chain is missing"},
		{"a record index entry deleted", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit_records")
			exec(t, db, "DELETE FROM access_audit_records WHERE seq = 2")
		}, 2, "record index"},
		{"a link written around the chain", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			exec(t, db, `INSERT INTO access_audit_links (chain_seq, row_seq, prev_hash, hash) SELECT 6, 6, hash, hash FROM access_audit_links WHERE chain_seq = 5`)
		}, 6, "beyond the chain head"},
		{"a row slipped in below the seal mark", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			// The seal mark says every row up to it is linked; one written under it never will be.
			exec(t, db, `INSERT INTO access_audit (seq, at, subject, roles, team, action, records, purpose, break_glass, outcome, client, request_id, prev_hash, hash)
				SELECT 0, at, 'u-mallory', roles, team, action, '[]', purpose, break_glass, outcome, client, request_id, '', '' FROM access_audit WHERE seq = 4`)
		}, 0, "below the seal mark"},
		{"a row replaced", audit.ChainAccess, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "access_audit", "access_audit_records")
			exec(t, db, "DELETE FROM access_audit_records WHERE seq = 5")
			exec(t, db, "DELETE FROM access_audit WHERE seq = 5")
			exec(t, db, `INSERT INTO access_audit (seq, at, subject, roles, team, action, records, purpose, break_glass, outcome, client, request_id, prev_hash, hash)
				SELECT 5, at, 'u-mallory', roles, team, action, '[]', purpose, break_glass, outcome, client, request_id, '', '' FROM access_audit WHERE seq = 4`)
		}, 5, "row 5 was changed"},
		{"a rule-set row edited", audit.ChainRuleSet, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "ruleset_audit")
			exec(t, db, "UPDATE ruleset_audit SET actor = 'u-mallory' WHERE seq = 2")
		}, 2, "row 2 was changed"},
		{"the last rule-set row deleted", audit.ChainRuleSet, func(t *testing.T, db *database.DB) {
			dropGuards(t, db, "ruleset_audit")
			exec(t, db, "DELETE FROM ruleset_audit WHERE seq = 3")
		}, 3, "row 3 is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			databasetest.Each(t, func(t *testing.T, db *database.DB) {
				log := &audit.Log{DB: db}
				for i := 1; i <= 5; i++ {
					appendAll(t, log, access(i, "u-alice", fmt.Sprintf("d-%d", i)))
				}
				appendRuleSet(t, db, ruleSetEntry(1), ruleSetEntry(2), ruleSetEntry(3))
				for _, chain := range audit.Chains() {
					if r := verify(t, db, chain); !r.OK {
						t.Fatalf("verify %s before tampering = %+v", chain, r)
					}
				}
				tt.tamper(t, db)
				r := verify(t, db, tt.chain)
				if r.OK || r.FirstBad != tt.wantBad || !strings.Contains(r.Problem, tt.want) {
					t.Errorf("verify = %+v, want row %d named with %q", r, tt.wantBad, tt.want)
				}
				other := audit.ChainRuleSet
				if tt.chain == audit.ChainRuleSet {
					other = audit.ChainAccess
				}
				if r := verify(t, db, other); !r.OK {
					t.Errorf("verify %s, which nobody touched = %+v", other, r)
				}
			})
		})
	}
}

func TestVerifyUnknownChain(t *testing.T) {
	db := databasetest.Open(t, database.SQLite)
	if _, err := audit.Verify(t.Context(), db, "nope"); failure.CodeOf(err) != failure.Invalid || !strings.Contains(err.Error(), "access, ruleset") {
		t.Errorf("verify nope: %v, want invalid naming the chains", err)
	}
}

// TestRuleSetRowsFromBeforeTheChain migrates to the schema before the chain, writes rule-set audit
// rows there, migrates on and checks that those rows count as before the chain while later rows
// are chained; then migrates back down, which must lift the triggers.
func TestRuleSetRowsFromBeforeTheChain(t *testing.T) {
	for _, dialect := range databasetest.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := t.Context()
			db, err := database.Open(ctx, databasetest.EmptyDSN(t, dialect))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			gooseDialect := goose.DialectSQLite3
			if dialect == database.Postgres {
				gooseDialect = goose.DialectPostgres
			}
			provider, err := goose.NewProvider(gooseDialect, db.DB.DB, os.DirFS(filepath.Join("..", "database", "migrations", string(dialect))),
				goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := provider.UpTo(ctx, 5); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				exec(t, db, `INSERT INTO ruleset_audit (ruleset_id, version, actor, at, from_status, to_status, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
					"mental-health", i+1, "alice", database.NewTime(base), "", "draft", "old", "null")
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			appendRuleSet(t, db, ruleSetEntry(3), ruleSetEntry(4))
			r := verify(t, db, audit.ChainRuleSet)
			if !r.OK || r.Unchained != 2 || r.Rows != 2 {
				t.Errorf("verify = %+v, want intact with 2 chained rows after 2 from before the chain", r)
			}
			var first int64
			if err := db.Get(&first, "SELECT MIN(seq) FROM ruleset_audit WHERE hash <> ''"); err != nil || first != 3 {
				t.Fatalf("first chained row = %d (%v), want 3", first, err)
			}
			if _, err := db.Exec("UPDATE ruleset_audit SET reason = 'rewritten' WHERE seq = 1"); err == nil {
				t.Error("a row from before the chain could be updated")
			}

			if _, err := provider.DownTo(ctx, 5); err != nil {
				t.Fatalf("migrate down: %v", err)
			}
			exec(t, db, "UPDATE ruleset_audit SET reason = 'rewritten' WHERE seq = 1")
			var n int
			if err := db.Get(&n, "SELECT COUNT(*) FROM ruleset_audit"); err != nil || n != 4 {
				t.Errorf("after migrating down: %d rule-set audit rows (%v), want 4", n, err)
			}
		})
	}
}

// BenchmarkAppendTx measures an access record on each backend: alone in its own transaction, and
// as one more write in a transaction the caller already holds (as when a decision is stored).
func BenchmarkAppendTx(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			benchmarkAppendTx(b, dialect)
		})
	}
}

func benchmarkAppendTx(b *testing.B, dialect database.Dialect) {
	ctx := context.Background()
	e := access(1, "u-alice", "d-1", "d-2")
	b.Run("own-transaction", func(b *testing.B) {
		db := databasetest.Open(b, dialect)
		b.ReportAllocs()
		for b.Loop() {
			if err := db.InTx(ctx, func(tx *database.Tx) error { return audit.AppendTx(ctx, tx, e) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in-caller-transaction", func(b *testing.B) {
		db := databasetest.Open(b, dialect)
		b.ReportAllocs()
		err := db.InTx(ctx, func(tx *database.Tx) error {
			for b.Loop() {
				if err := audit.AppendTx(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkSeal measures what sealing costs per access row, in batches of 1,000 rows appended
// before each round: the work taken off the request path, done once a second by the server.
func BenchmarkSeal(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			const rows = 1000
			ctx := context.Background()
			db := databasetest.Open(b, dialect)
			sealer := &audit.Sealer{DB: db}
			e := access(1, "u-alice", "d-1")
			b.ReportAllocs()
			var sealing time.Duration
			for b.Loop() {
				b.StopTimer()
				err := db.InTx(ctx, func(tx *database.Tx) error {
					for range rows {
						if err := audit.AppendTx(ctx, tx, e); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if n, err := sealer.Seal(ctx); err != nil || n != rows {
					b.Fatalf("sealed %d, %v", n, err)
				}
				sealing += time.Since(start)
			}
			b.ReportMetric(float64(sealing.Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}

// TestSearchFindsRowsNotYetSealed checks that a row is found by subject and by record from the
// moment it commits, before the sealer has filed it, and afterwards through the indexes; and that
// Verify counts it as pending, not as broken.
func TestSearchFindsRowsNotYetSealed(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		log := &audit.Log{DB: db}
		appendAll(t, log, access(1, "u-alice", "d-1"))
		if err := log.Append(t.Context(), access(2, "u-bob", "d-1", "d-2")); err != nil {
			t.Fatal(err)
		}
		check := func(when string, wantHash bool) {
			t.Helper()
			for _, f := range []audit.Filter{{Subject: "u-bob"}, {Record: "d-2"}} {
				found, err := log.Search(t.Context(), f)
				if err != nil {
					t.Fatal(err)
				}
				if len(found) != 1 || found[0].Subject != "u-bob" || (found[0].Hash != "") != wantHash {
					t.Errorf("%s: search %+v found %+v", when, f, found)
				}
			}
			if found, _ := log.Search(t.Context(), audit.Filter{Record: "d-1"}); len(found) != 2 {
				t.Errorf("%s: record d-1: found %d rows, want both", when, len(found))
			}
		}
		check("before sealing", false)
		if r := verify(t, db, audit.ChainAccess); !r.OK || r.Rows != 1 || r.Pending != 1 {
			t.Errorf("verify before sealing = %+v, want 1 row intact and 1 pending", r)
		}
		if n := seal(t, db); n != 1 {
			t.Errorf("sealed %d rows, want 1", n)
		}
		check("after sealing", true)
		if r := verify(t, db, audit.ChainAccess); !r.OK || r.Rows != 2 || r.Pending != 0 {
			t.Errorf("verify after sealing = %+v, want 2 rows intact", r)
		}
	})
}
