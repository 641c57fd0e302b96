package server

import (
	"fmt"
	"testing"
	"time"
)

func TestDecideBucketsRefillAndStayBounded(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tb := newTokenBuckets(10, 3)
	for i := range 3 {
		if ok, _ := tb.allow("a", now); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait := tb.allow("a", now)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("fourth: allowed %v, wait %s, want refused for 100ms", ok, wait)
	}
	if ok, _ := tb.allow("a", now.Add(100*time.Millisecond)); !ok {
		t.Error("refused after a token refilled")
	}
	if ok, _ := tb.allow("b", now); !ok {
		t.Error("another key shares a's bucket")
	}
	// Idle buckets are dropped first, and the map never grows past its bound.
	for i := range maxDecideBuckets + 500 {
		tb.allow(fmt.Sprint("k", i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(tb.buckets); n > maxDecideBuckets {
		t.Errorf("%d buckets, want at most %d", n, maxDecideBuckets)
	}
	if _, kept := tb.buckets["a"]; kept {
		t.Error("a long-idle bucket was kept while the map was full")
	}
}
