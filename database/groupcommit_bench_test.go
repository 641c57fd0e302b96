package database_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/carepath/carepath/database"
)

// BenchmarkGroupCommit stores one row per InTx from 1, 16 and 64 parallel writers on SQLite, the
// pattern of a stored decision: a short read-then-write transaction per request.
func BenchmarkGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			db, err := database.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, `CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, body TEXT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			body := string(make([]byte, 512))
			var next atomic.Int64
			insert := func() error {
				n := fmt.Sprint(next.Add(1))
				return db.InTx(ctx, func(tx *database.Tx) error {
					var seen int
					if err := tx.QueryRowPrepared(ctx, `SELECT COUNT(*) FROM bench_rows WHERE k = ?`, n).Scan(&seen); err != nil {
						return err
					}
					_, err := tx.ExecPrepared(ctx, `INSERT INTO bench_rows (k, body) VALUES (?, ?)`, n, body)
					return err
				})
			}
			b.ReportAllocs()
			if writers == 1 {
				for b.Loop() {
					if err := insert(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				// RunParallel starts parallelism x GOMAXPROCS goroutines.
				b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := insert(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
		})
	}
}
