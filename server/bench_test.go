package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/audit"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
	"github.com/carepath/carepath/triage"
)

// BenchmarkStoredAssessment measures what signing in, authorisation and the access record add to
// a stored assessment on each backend: the engine alone, the engine with the token check, the policy
// check and the access record written in the decision's transaction, and the whole HTTP handler.
// The server runs as `carepath serve` runs it (env.asServed), so no reference data is read per
// decision. Run with -benchtime 200x, as the triage booking benchmark, so the roster's slots do not
// run out.
func BenchmarkStoredAssessment(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			benchmarkStoredAssessment(b, dialect)
		})
	}
}

func benchmarkStoredAssessment(b *testing.B, dialect database.Dialect) {
	body := []byte(assessment)
	ctx := context.Background()
	// Each variant starts from a fresh database, so that none books into a roster the one
	// before it filled.
	var e *env
	var tok string
	fresh := func(b *testing.B) {
		b.Helper()
		e = startEnv(b, databasetest.Open(b, dialect))
		e.asServed(b)
		tok = e.user(b, "carol", "central", "", identity.Clinician)
	}
	b.Run("engine", func(b *testing.B) {
		fresh(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := e.api.Engine.Submit(ctx, body, triage.Options{Team: "central"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("engine+auth+audit", func(b *testing.B) {
		fresh(b)
		b.ReportAllocs()
		for b.Loop() {
			auditedSubmit(b, e, tok, body)
		}
	})
	// paired alternates the two on two fresh databases in one loop, so that the drift of a shared
	// machine (PostgreSQL's fsync above all) falls on both alike, and reports what the access
	// record, the token check and the policy check add as a percentage of the engine's time.
	b.Run("paired", func(b *testing.B) {
		fresh(b)
		plain := e
		fresh(b)
		audited, tok := e, tok
		var tPlain, tAudited time.Duration
		submitPlain := func() time.Duration {
			t0 := time.Now()
			if _, _, err := plain.api.Engine.Submit(ctx, body, triage.Options{Team: "central"}); err != nil {
				b.Fatal(err)
			}
			return time.Since(t0)
		}
		submitAudited := func() time.Duration {
			t0 := time.Now()
			auditedSubmit(b, audited, tok, body)
			return time.Since(t0)
		}
		b.ReportAllocs()
		// The order alternates: what one submission leaves running after it returns (its
		// route book's update, the collector) falls on the other kind as often as on its own.
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				tPlain += submitPlain()
				tAudited += submitAudited()
			} else {
				tAudited += submitAudited()
				tPlain += submitPlain()
			}
		}
		b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N), "engine-ns/op")
		b.ReportMetric(float64(tAudited.Nanoseconds())/float64(b.N), "audited-ns/op")
		b.ReportMetric(100*(float64(tAudited)/float64(tPlain)-1), "overhead-%")
	})
	b.Run("http", func(b *testing.B) {
		fresh(b)
		b.ReportAllocs()
		h := e.api.Handler()
		reads := e.refs.Reads()
		for b.Loop() {
			req := httptest.NewRequest("POST", "/v1/assessments", strings.NewReader(assessment))
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
		// The reference marker as read per decision: the watcher's background polls only, as in serve.
		b.ReportMetric(float64(e.refs.Reads()-reads)/float64(b.N), "marker-reads/op")
	})
}

// auditedSubmit stores an assessment as the API does: the token check, the policy check, and the
// access record written in the decision's transaction.
func auditedSubmit(b *testing.B, e *env, tok string, body []byte) {
	ctx := context.Background()
	p, err := e.api.Auth.Bearer(ctx, tok)
	if err != nil {
		b.Fatal(err)
	}
	if err := identity.Authorize(p, identity.SubmitAssessment); err != nil {
		b.Fatal(err)
	}
	record := func(ctx context.Context, tx *database.Tx, d *triage.Decision) error {
		return audit.AppendTx(ctx, tx, audit.Access{Subject: p.Subject, Roles: []string{"clinician"}, Team: p.Team(),
			At: testNow(), Action: audit.ActionDecisionCreate, Records: []string{d.ID}, Outcome: audit.Allowed, Client: "127.0.0.1"})
	}
	if _, _, err := e.api.Engine.Submit(identity.WithPrincipal(ctx, p), body, triage.Options{Team: p.Team(), SubmittedBy: p.Subject, InTx: record}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCredentialCheck measures the cached token and session checks on the hot path: no
// database round trip once the first check has read the store.
func BenchmarkCredentialCheck(b *testing.B) {
	e := startEnv(b, databasetest.Open(b, database.SQLite))
	tok := e.user(b, "carol", "central", "", identity.Clinician)
	ctx := context.Background()
	b.Run("token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.api.Auth.Bearer(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session", func(b *testing.B) {
		id, _, err := e.api.Auth.SignIn(ctx, "carol", "correct horse battery")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.api.Auth.Session(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("authorize", func(b *testing.B) {
		p, _ := e.api.Auth.Bearer(ctx, tok)
		b.ReportAllocs()
		for b.Loop() {
			if err := identity.Authorize(p, identity.SubmitAssessment); err != nil {
				b.Fatal(err)
			}
		}
	})
}
