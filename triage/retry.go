package triage

import (
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/carepath/carepath/routing"
)

// retryAtOnce retries without waiting, up to retries more times: a lost slot is retried with
// fresh bookings straight away, since the loser's next choice is already free to take.
func retryAtOnce(retries int) retry.Backoff {
	return retry.WithMaxRetries(uint64(max(retries, 0)), retry.BackoffFunc(func() (time.Duration, bool) { return 0, false }))
}

// retryIfSlotTaken marks a lost slot as worth retrying and passes any other error through.
func retryIfSlotTaken(err error) error {
	if routing.IsSlotTaken(err) {
		return retry.RetryableError(err)
	}
	return err
}
