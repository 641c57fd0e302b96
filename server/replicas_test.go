package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/cases"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/fixtures"
	"github.com/carepath/carepath/governance"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/internal/syncbuffer"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/refdata"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/server"
	"github.com/carepath/carepath/triage"
)

// replica is one server process of a deployment: its own pool, caches and reference watcher, on
// a database other replicas share.
type replica struct {
	*httptest.Server
	refs *refdata.Watcher
}

// referenceEngine is an engine over db wired as `carepath serve` wires it: forms, rule sets,
// activations, pathways, the directory and shadow runs held in memory, with the watcher on dsn
// running until the test ends. now is the engine's clock; n keeps decision ids apart. Without
// cache, the same engine reads every piece of reference data on every decision, as before.
func referenceEngine(tb testing.TB, db *database.DB, dsn string, now func() time.Time, n int, cache bool) (*triage.Engine, *refdata.Watcher) {
	tb.Helper()
	refs := &refdata.Watcher{DB: db, DSN: dsn}
	var gen rules.Generation
	if cache {
		gen = refs.Generation
	}
	forms, cached, placement := referenceStores(db, rules.NewSQLStore(db), gen)
	registry := rules.NewRegistry(cached)
	shadow := governance.NewShadow(db, registry, now, nil, 64)
	shadow.Generation = gen
	runAsServed(tb, refs, shadow)
	var ids atomic.Int64
	return &triage.Engine{Store: forms, Rules: registry, Now: now, Placement: placement, Observers: []triage.Observer{shadow},
		NewID: func() string { return fmt.Sprintf("r%d-%d", n, ids.Add(1)) }}, refs
}

// startReplica starts a replica on dsn with its own pool and a running reference watcher.
func startReplica(t *testing.T, dsn string, n int) *replica {
	t.Helper()
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Decisions on the wall clock, so that an activation from now is in force for them.
	engine, refs := referenceEngine(t, db, dsn, time.Now, n, true)
	s := &server.Server{
		Engine: engine, Forms: engine.Store, Rules: rules.NewSQLStore(db), DB: db,
		Logger: slog.New(slog.NewTextHandler(&syncbuffer.Buffer{}, nil)), Ping: db.PingContext,
		Auth: identity.NewAuthenticator(identity.NewSQLStore(db), testNow), Audit: &audit.Log{DB: db}, Privacy: testPseudonyms,
		Location: london, DecideRate: 1e6, DecideBurst: 1e6,
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &replica{Server: srv, refs: refs}
}

// TestReplicasShareReferenceChanges: two replicas on one PostgreSQL database; an activation made
// through one is in force through the other within the watcher's bound, and so is its rollback; a
// practitioner added through one is booked through the other.
func TestReplicasShareReferenceChanges(t *testing.T) {
	dsn := databasetest.DSN(t, database.Postgres)
	ctx := context.Background()
	{
		db, err := database.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fixtures.Load(ctx, triage.NewSQLStore(db), rules.NewSQLStore(db), testNow()); err != nil {
			t.Fatal(err)
		}
		ids := identity.NewSQLStore(db)
		if _, err := ids.AddTeam(ctx, "central", "central team", testNow()); err != nil {
			t.Fatal(err)
		}
		e := &env{ids: ids, tokens: map[string]string{}}
		e.user(t, "everyone", "central", "", identity.Roles...)
		e.user(t, "bob", "", "", identity.PolicyOfficer)
		defer db.Close()
		a, b := startReplica(t, dsn, 1), startReplica(t, dsn, 2)
		all, bob := e.bearer("everyone"), e.bearer("bob")

		decidedWith := func(r *replica) int {
			t.Helper()
			// Authored now: a decision is made under the version in force when the form was authored.
			now := `"authored":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"`
			resp, body := do(t, "POST", r.URL+"/v1/decide", strings.Replace(assessment, `"authored":"2026-11-20T10:15:00Z"`, now, 1), all)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("decide: %d %s", resp.StatusCode, body)
			}
			var d struct {
				RuleSet struct{ Version int } `json:"ruleset"`
			}
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatal(err)
			}
			return d.RuleSet.Version
		}
		// Both replicas have the demo's version 3 in memory.
		for _, r := range []*replica{a, b} {
			if v := decidedWith(r); v != fixtures.Revised()["mh-triage"] {
				t.Fatalf("before: decided with v%d", v)
			}
		}
		// inForce activates a version through A and waits for B to decide with it.
		inForce := func(version int) time.Duration {
			t.Helper()
			resp, body := do(t, "POST", fmt.Sprintf("%s/v1/rulesets/mh-triage/versions/%d/activate", a.URL, version), `{"reason":"replicas"}`, bob)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("activate v%d through A: %d %s", version, resp.StatusCode, body)
			}
			start := time.Now()
			for {
				if v := decidedWith(b); v == version {
					return time.Since(start)
				}
				if time.Since(start) > 3*refdata.DefaultBound {
					t.Fatalf("B still decides with another version than v%d after %v; A decides with v%d", version, time.Since(start), decidedWith(a))
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		for _, version := range []int{2, 3} { // the approved v2, then the rollback to v3
			took := inForce(version)
			t.Logf("v%d in force through B %v after its activation through A", version, took)
			if took > refdata.DefaultBound {
				t.Errorf("v%d in force through B after %v, beyond the bound %v", version, took, refdata.DefaultBound)
			}
			// Once in force, never the other again.
			for range 20 {
				if v := decidedWith(b); v != version {
					t.Fatalf("B went back to v%d after deciding with v%d", v, version)
				}
			}
		}

		// A practitioner added through A, based where the subject lives and working every day, is
		// the one B books.
		example := mentalHealthExample(t)
		booked := func(r *replica) (string, []byte) {
			resp, body := do(t, "POST", r.URL+"/v1/assessments", string(example), all)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("POST through %s: %d %s", r.URL, resp.StatusCode, body)
			}
			var d struct {
				Assignment *struct {
					PractitionerID string `json:"practitioner_id"`
				} `json:"assignment"`
			}
			if err := json.Unmarshal(body, &d); err != nil || d.Assignment == nil {
				t.Fatalf("no booking through %s: %v %s", r.URL, err, body)
			}
			return d.Assignment.PractitionerID, body
		}
		first, _ := booked(b)
		demo, err := fixtures.Practitioners()
		if err != nil {
			t.Fatal(err)
		}
		var like *routing.Practitioner
		for i := range demo {
			if demo[i].ID == first {
				like = &demo[i]
			}
		}
		if like == nil {
			t.Fatalf("B booked %s, not a demo practitioner", first)
		}
		var hours []map[string]string
		for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			hours = append(hours, map[string]string{"day": d, "start": "00:00", "end": "23:59"})
		}
		added := map[string]any{"id": "replica-new", "name": "Added through A", "skills": like.Skills, "service_ids": like.ServiceIDs,
			"base": map[string]float64{"lat": 52.95, "lon": -1.15}, "max_visits_per_day": 20, "working_hours": hours}
		roster, _ := json.Marshal([]any{added})
		if resp, body := do(t, "POST", a.URL+"/v1/practitioners", string(roster), all); resp.StatusCode != http.StatusOK {
			t.Fatalf("add through A: %d %s", resp.StatusCode, body)
		}
		start := time.Now()
		for {
			id, body := booked(b)
			if id == "replica-new" {
				t.Logf("practitioner added through A booked through B %v after", time.Since(start))
				break
			}
			if time.Since(start) > 3*refdata.DefaultBound {
				t.Fatalf("B books %s, not the practitioner added through A: %s", id, body)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if b.refs.Reads() == 0 {
			t.Errorf("replica B's watcher never read the marker")
		}
	}
}

// referenceTables are what every decision needed to read before reference data was held in memory.
var referenceTables = []string{"forms", "pathways", "rulesets", "ruleset_activations", "services", "shadow_runs"}

// scans is how often PostgreSQL has scanned each table of the test's schema. The pool's idle
// connections are closed first, since a backend flushes its statistics for certain only as it
// exits; stats, a pool of its own, reads them.
func scans(t *testing.T, db, stats *database.DB) map[string]int64 {
	t.Helper()
	db.SetMaxIdleConns(0)
	defer db.SetMaxIdleConns(2)
	time.Sleep(300 * time.Millisecond)
	if _, err := stats.Exec(`SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Table string `db:"relname"`
		Scans int64  `db:"scans"`
	}
	if err := stats.Select(&rows, `SELECT relname, COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) AS scans
		FROM pg_stat_user_tables WHERE schemaname = current_schema()`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Table] = r.Scans
	}
	return out
}

// mentalHealthExample is the demo's mental-health example: a subject with a location, so that the decision
// matches the directory and books a visit.
func mentalHealthExample(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "examples", "mental-health.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestStoredDecisionsReadNoReferenceData: on PostgreSQL, stored decisions (with booking) read
// forms, rule sets, activations, pathways, the directory and shadow runs from the database on
// every decision without the reference cache, and not once with it.
func TestStoredDecisionsReadNoReferenceData(t *testing.T) {
	const n = 20
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			dsn := databasetest.DSN(t, database.Postgres)
			db, err := database.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			stats, err := database.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stats.Close() })
			startEnv(t, db)
			engine, _ := referenceEngine(t, db, dsn, testNow, 1, cached)
			body := mentalHealthExample(t)
			submit := func() {
				if _, _, err := engine.Submit(context.Background(), body, triage.Options{Team: "central"}); err != nil {
					t.Fatal(err)
				}
			}
			submit() // warm: programs compiled, caches filled
			before := scans(t, db, stats)
			for range n {
				submit()
			}
			after := scans(t, db, stats)
			var total int64
			for _, table := range referenceTables {
				d := after[table] - before[table]
				total += d
				t.Logf("%-20s %.1f scans per decision", table, float64(d)/n)
			}
			t.Logf("cached=%v: %.1f reference-table scans per stored decision (and %.1f of practitioners, by the booking)",
				cached, float64(total)/n, float64(after["practitioners"]-before["practitioners"])/n)
			if cached && total != 0 {
				t.Errorf("%d scans of reference tables in %d decisions, want none", total, n)
			}
			if !cached && total < n {
				t.Errorf("%d scans of reference tables in %d uncached decisions; the measure does not see them", total, n)
			}
		})
	}
}

// BenchmarkStoredAssessmentReference compares a stored decision with booking, reading reference
// data on every decision (read-through) and holding it in memory with the watcher running
// (cached, as `carepath serve` runs). Run with -benchtime 300x, so the roster's slots last.
func BenchmarkStoredAssessmentReference(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		for _, cached := range []bool{false, true} {
			name := string(dialect) + "/read-through"
			if cached {
				name = string(dialect) + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
					b.Skip(databasetest.PostgresEnv + " is not set")
				}
				dsn := databasetest.DSN(b, dialect)
				db, err := database.Open(context.Background(), dsn)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				startEnv(b, db)
				engine, _ := referenceEngine(b, db, dsn, testNow, 1, cached)
				body := mentalHealthExample(b)
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := engine.Submit(context.Background(), body, triage.Options{Team: "central"}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestStoredDecisionRoundTrips holds a stored decision with its booking, its decision.made and
// appointment events, its case and step, and its access record to one transaction of at most four
// statements on PostgreSQL, BEGIN and COMMIT included: the booking claims its route with one, and
// every write goes with the decision's own INSERT in one more.
func TestStoredDecisionRoundTrips(t *testing.T) {
	const n = 20
	dsn := databasetest.DSN(t, database.Postgres)
	db, err := database.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	startEnv(t, db)
	engine, _ := referenceEngine(t, db, dsn, testNow, 1, true)
	engine.Publish = (&outbox.Publisher{Now: testNow}).Decided
	record := func(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
		return audit.AppendTx(ctx, tx, audit.Access{Subject: "user-1", Roles: []string{"clinician"}, At: testNow(),
			Action: audit.ActionDecisionCreate, Records: []string{d.ID}, Outcome: audit.Allowed})
	}
	body := mentalHealthExample(t)
	submit := func() *triage.Decision {
		d, _, err := engine.Submit(context.Background(), body, triage.Options{Team: "central", SubmittedBy: "user-1",
			InTx: cases.Then(record, cases.OpenInTx)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	submit() // warm: programs compiled, caches and the route book filled
	before := db.TxStats()
	booked := 0
	for range n {
		if d := submit(); d.Assignment != nil {
			booked++
		}
	}
	after := db.TxStats()
	txs, statements := after.Transactions-before.Transactions, after.Statements-before.Statements
	t.Logf("%d decisions (%d booked): %d transactions, %d statements", n, booked, txs, statements)
	if booked < n/2 {
		t.Fatalf("%d of %d decisions booked; the measure needs bookings", booked, n)
	}
	if txs != n {
		t.Errorf("%d transactions for %d decisions, want one each", txs, n)
	}
	if statements > 4*n {
		t.Errorf("%d statements in %d decisions' transactions, want at most 4 each", statements, n)
	}
	var steps, events, accesses int
	for _, q := range []struct {
		query string
		dest  *int
	}{
		{`SELECT COUNT(*) FROM case_steps`, &steps},
		{`SELECT COUNT(*) FROM outbox_events`, &events},
		{`SELECT COUNT(*) FROM access_audit WHERE subject = 'user-1'`, &accesses},
	} {
		if err := db.GetContext(context.Background(), q.dest, q.query); err != nil {
			t.Fatal(err)
		}
	}
	if steps < n+1 || events < n+1 || accesses != n+1 {
		t.Errorf("after %d decisions: %d case steps, %d events, %d access records; every write must land", n+1, steps, events, accesses)
	}
}
