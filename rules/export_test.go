package rules

import (
	"context"

	"github.com/carepath/carepath/database"
)

// PutVersion and Activate give the store's tests the unexported steps the Lifecycle is built on.
func (s *SQLStore) PutVersion(ctx context.Context, v Version) (bool, error) {
	return s.putVersion(ctx, v)
}

func (s *SQLStore) Activate(ctx context.Context, a Activation) error {
	return s.DB.InTx(ctx, func(tx *database.Tx) error { return s.activate(ctx, tx, a) })
}
