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
// and the server runs as `carepath serve` runs it (env.asServed), with the form and rule sets in
// memory, so that no reference data is read per decision.
func BenchmarkDecide(b *testing.B) {
	for _, dialect := range databasetest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			if dialect == database.Postgres && os.Getenv(databasetest.PostgresEnv) == "" {
				b.Skip(databasetest.PostgresEnv + " is not set")
			}
			e := startEnv(b, databasetest.Open(b, dialect))
			e.asServed(b)
			tok := e.user(b, "carol", "central", "", identity.Clinician)
			e.api.DecideRate, e.api.DecideBurst = 1e6, 1e9 // measure the work, not the limit
			e.api.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			h := e.api.Handler()
			b.ReportAllocs()
			reads := e.refs.Reads()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/decide", strings.NewReader(assessment))
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(e.refs.Reads()-reads)/float64(b.N), "marker-reads/op")
		})
	}
}
