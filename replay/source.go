package replay

import (
	"context"

	"github.com/carepath/carepath/triage"
)

// Source streams stored cases in a stable order, a page at a time; fn owns each page.
type Source interface {
	Cases(ctx context.Context, fn func([]triage.StoredCase) error) error
}

// Counter is a Source that can say how many cases it will stream, for progress bars.
type Counter interface {
	Count(ctx context.Context) (int64, error)
}

// SQLSource streams the stored decisions a filter selects, in seq order.
type SQLSource struct {
	Store    *triage.SQLStore
	Filter   triage.DecisionFilter
	PageSize int // 2000 when zero
}

// Cases implements Source.
func (s *SQLSource) Cases(ctx context.Context, fn func([]triage.StoredCase) error) error {
	size := s.PageSize
	if size <= 0 {
		size = 2000
	}
	return s.Store.StreamDecisions(ctx, s.Filter, size, fn)
}

// Count implements Counter.
func (s *SQLSource) Count(ctx context.Context) (int64, error) {
	return s.Store.CountDecisions(ctx, s.Filter)
}

// Cases is an in-memory Source, for tests, benchmarks and callers that already hold the cases.
type Cases []triage.StoredCase

// Cases implements Source, in slice order, in pages of 1000.
func (cs Cases) Cases(ctx context.Context, fn func([]triage.StoredCase) error) error {
	for start := 0; start < len(cs); start += 1000 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(cs[start:min(start+1000, len(cs))]); err != nil {
			return err
		}
	}
	return nil
}

// Count implements Counter.
func (cs Cases) Count(context.Context) (int64, error) { return int64(len(cs)), nil }
