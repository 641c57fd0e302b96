package routing

import (
	"context"
	"testing"
)

// BenchmarkCached measures a placement-sized lookup, one origin to 200 practitioners' bases:
// all hits once warm, and with a cache too small to hold them, all misses and evictions.
func BenchmarkCached(b *testing.B) {
	to := make([]Point, 200)
	for i := range to {
		to[i] = at(float64(i%20), float64(i/20))
	}
	from := []Point{at(3.3, 4.4)}
	ctx := context.Background()
	for _, bc := range []struct {
		name     string
		capacity int
	}{{"hits", 1000}, {"evicting", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := NewCached(GreatCircle{}, bc.capacity)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Matrix(ctx, from, to); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
