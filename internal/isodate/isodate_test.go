package isodate

import (
	"testing"
	"time"
)

func FuzzDate(f *testing.F) {
	for _, s := range []string{"2026-11-26", "2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31", "2026-13-01",
		"2026-00-10", "2026-04-31", "2026-1-01", "2026-01-1", "+026-01-01", "2026/01/01", "20260101", "", "1900-02-29", "2000-02-29"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		y, m, d, ok := Date(s)
		want, err := time.Parse(time.DateOnly, s)
		if ok != (err == nil) {
			t.Fatalf("Date(%q) ok = %v; time.Parse: %v", s, ok, err)
		}
		if ok && (y != want.Year() || m != int(want.Month()) || d != want.Day()) {
			t.Fatalf("Date(%q) = %d-%d-%d; time.Parse: %s", s, y, m, d, want)
		}
		if by, bm, bd, bok := Date([]byte(s)); bok != ok || by != y || bm != m || bd != d {
			t.Fatalf("Date([]byte(%q)) differs from Date(%q)", s, s)
		}
	})
}

// BenchmarkDate is the case for keeping Date beside time.Parse.
func BenchmarkDate(b *testing.B) {
	date := []byte("1987-01-12")
	b.Run("isodate.Date", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, ok := Date(date); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("time.Parse/DateOnly", func(b *testing.B) {
		for b.Loop() {
			if _, err := time.Parse(time.DateOnly, string(date)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
