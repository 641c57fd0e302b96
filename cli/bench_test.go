package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

// BenchmarkAssess runs `carepath assess FILE` end to end in process on SQLite: open the database,
// check its schema, read and decide the assessment, commit the decision and print it.
func BenchmarkAssess(b *testing.B) {
	dsn := databasetest.EmptyDSN(b, database.SQLite)
	if code, _, stderr := run(b, "", "--db", dsn, "fixtures", "load"); code != 0 {
		b.Fatal(stderr)
	}
	file := filepath.Join("..", "fixtures", "examples", "mental-health.json")
	if _, err := os.Stat(file); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if code, _, stderr := run(b, "", "--db", dsn, "assess", file); code != 0 {
			b.Fatal(stderr)
		}
	}
}
