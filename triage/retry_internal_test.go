package triage

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sethvargo/go-retry"

	"github.com/carepath/carepath/routing"
)

// TestRetryAtOnce holds the booking retries to what the hand-written loops did: a lost slot is
// tried again up to the limit and then returned as it was; any other error, or success, ends it.
func TestRetryAtOnce(t *testing.T) {
	taken := fmt.Errorf("routing: unable to book: %w", routing.ErrSlotTaken)
	other := errors.New("database unreachable")
	tests := []struct {
		name      string
		retries   int
		errs      []error // what each try returns; nil after the list
		wantTries int
		wantErr   error
	}{
		{"success", 4, nil, 1, nil},
		{"won on the third try", 4, []error{taken, taken}, 3, nil},
		{"lost every try", 4, []error{taken, taken, taken, taken, taken, taken}, 5, routing.ErrSlotTaken},
		{"no retries", 0, []error{taken}, 1, routing.ErrSlotTaken},
		{"negative is none", -1, []error{taken}, 1, routing.ErrSlotTaken},
		{"other error stops", 4, []error{taken, other}, 2, other},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			err := retry.Do(context.Background(), retryAtOnce(tc.retries), func(context.Context) error {
				tries++
				if tries <= len(tc.errs) {
					return retryIfSlotTaken(tc.errs[tries-1])
				}
				return nil
			})
			if tries != tc.wantTries || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("%d tries, %v; want %d, %v", tries, err, tc.wantTries, tc.wantErr)
			}
			if err != nil && err.Error() != tc.errs[tries-1].Error() {
				t.Errorf("error %q, want the last try's %q", err, tc.errs[tries-1])
			}
		})
	}
}
