package server

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

// TestWriterMetrics: on SQLite, /metrics shows the one writer's busy time and the transactions it
// committed, so an operator sees it near saturation; PostgreSQL has no such writer and no series.
func TestWriterMetrics(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		m := NewMetrics()
		m.WriterMetrics(db)
		if _, err := db.ExecContext(ctx, `CREATE TABLE metrics_probe (k TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		scrape := func() string {
			rec := httptest.NewRecorder()
			m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			return rec.Body.String()
		}
		value := func(body, name string) float64 {
			t.Helper()
			got := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
			if got == nil {
				t.Fatalf("/metrics lacks %s", name)
			}
			v, err := strconv.ParseFloat(got[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if db.Dialect != database.SQLite {
			if body := scrape(); strings.Contains(body, "carepath_sqlite_writer") {
				t.Error("PostgreSQL exports SQLite's writer series")
			}
			return
		}
		before := scrape()
		const n = 5
		for i := range n {
			if err := db.InTx(ctx, func(tx *database.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO metrics_probe (k) VALUES (?)`, strconv.Itoa(i))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		after := scrape()
		if d := value(after, "carepath_sqlite_writer_transactions_total") - value(before, "carepath_sqlite_writer_transactions_total"); d != n {
			t.Errorf("%v transactions counted, want %d", d, n)
		}
		if d := value(after, "carepath_sqlite_writer_batches_total") - value(before, "carepath_sqlite_writer_batches_total"); d < 1 || d > n {
			t.Errorf("%v batches for %d transactions", d, n)
		}
		if d := value(after, "carepath_sqlite_writer_busy_seconds_total") - value(before, "carepath_sqlite_writer_busy_seconds_total"); d <= 0 {
			t.Errorf("busy time grew by %v over %d transactions", d, n)
		}
	})
}
