package routing

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// cacheScale rounds coordinates to 1e-5 degrees (about 1.1 m of latitude), so repeat lookups for
// the same address hit the cache even when geocoders disagree in the last digits.
const cacheScale = 1e5

type pairKey struct {
	fromLat, fromLon, toLat, toLon int32
}

func roundCoord(v float64) int32 { return int32(math.Round(v * cacheScale)) }

func keyOf(a, b Point) pairKey {
	return pairKey{roundCoord(a.Lat), roundCoord(a.Lon), roundCoord(b.Lat), roundCoord(b.Lon)}
}

// Cached remembers travel times from another Travel in a bounded least-recently-used cache; it is
// safe for concurrent use. Concurrent misses for the same pair may both ask the inner Travel.
type Cached struct {
	inner Travel

	// mu guards the cache and the counters together, so a matrix's lookups take the lock once
	// rather than once per pair, which is why the cache is simplelru's rather than lru's own locked one.
	mu     sync.Mutex
	pairs  *simplelru.LRU[pairKey, float64]
	hits   uint64
	misses uint64
}

// NewCached wraps inner with a cache holding at most capacity pairs.
func NewCached(inner Travel, capacity int) (*Cached, error) {
	if inner == nil {
		return nil, fmt.Errorf("routing: unable to build travel cache: inner travel is nil")
	}
	if capacity < 1 {
		return nil, fmt.Errorf("routing: unable to build travel cache: capacity %d must be at least 1", capacity)
	}
	pairs, err := simplelru.NewLRU[pairKey, float64](capacity, nil)
	if err != nil {
		return nil, fmt.Errorf("routing: unable to build travel cache: %w", err)
	}
	return &Cached{inner: inner, pairs: pairs}, nil
}

// Symmetric reports whether the inner travel is the same both ways.
func (c *Cached) Symmetric() bool {
	s, ok := c.inner.(interface{ Symmetric() bool })
	return ok && s.Symmetric()
}

// Stats reports cache hits, misses and current size, for metrics.
func (c *Cached) Stats() (hits, misses uint64, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, c.pairs.Len()
}

// Matrix implements Travel, asking the inner Travel once for the rows and columns that hold any
// miss (a sub-matrix), since routing servers price a table far below separate pair requests.
func (c *Cached) Matrix(ctx context.Context, from, to []Point) ([][]float64, error) {
	m := newMatrix(len(from), len(to))
	missRow := make([]bool, len(from))
	missCol := make([]bool, len(to))
	anyMiss := false
	c.mu.Lock()
	for i, a := range from {
		for j, b := range to {
			if minutes, ok := c.pairs.Get(keyOf(a, b)); ok {
				m[i][j] = minutes
				c.hits++
				continue
			}
			c.misses++
			missRow[i], missCol[j], anyMiss = true, true, true
		}
	}
	c.mu.Unlock()
	if !anyMiss {
		return m, nil
	}
	var rows, cols []int
	var subFrom, subTo []Point
	for i, miss := range missRow {
		if miss {
			rows = append(rows, i)
			subFrom = append(subFrom, from[i])
		}
	}
	for j, miss := range missCol {
		if miss {
			cols = append(cols, j)
			subTo = append(subTo, to[j])
		}
	}
	sub, err := c.inner.Matrix(ctx, subFrom, subTo)
	if err != nil {
		return nil, err
	}
	if len(sub) != len(rows) {
		return nil, fmt.Errorf("routing: unable to fill travel cache: inner matrix has %d rows, want %d", len(sub), len(rows))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for si, i := range rows {
		if len(sub[si]) != len(cols) {
			return nil, fmt.Errorf("routing: unable to fill travel cache: inner matrix row %d has %d columns, want %d", si, len(sub[si]), len(cols))
		}
		for sj, j := range cols {
			v := sub[si][sj]
			m[i][j] = v
			c.pairs.Add(keyOf(from[i], to[j]), v)
		}
	}
	return m, nil
}
