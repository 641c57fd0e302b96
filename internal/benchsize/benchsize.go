// Package benchsize sizes the long benchmarks from the environment and reports their memory, so
// that `go test ./...` stays fast while the documented commands measure at full size.
package benchsize

import (
	"os"
	"strconv"
	"syscall"
	"testing"
)

// FromEnv returns the positive whole number in the environment variable name, or def when it is
// unset; anything else fails the benchmark, so a typo never measures the wrong size.
func FromEnv(b testing.TB, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// ReportPeakRSS reports the process's peak resident memory so far as peak-RSS-MB; run one
// benchmark per process for a figure that belongs to it alone.
func ReportPeakRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
}
