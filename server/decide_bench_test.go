package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/identity"
)

// BenchmarkDecide measures POST /v1/decide through the whole handler (token check, policy, rate
// limit, parse, validation, rules, compact JSON) in process, on each backend: nothing is stored,
// so what remains of the database is the token lookup and the form and rule-set reads.
func BenchmarkDecide(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			e := startEnv(b, databasetest.Open(b, dialect))
			tok := e.user(b, "carol", "central", "", identity.Clinician)
			e.api.DecideRate, e.api.DecideBurst = 1e6, 1e9 // measure the work, not the limit
			e.api.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			h := e.api.Handler()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/decide", strings.NewReader(assessment))
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
