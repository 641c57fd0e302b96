package outbox

import (
	"context"

	"github.com/carepath/carepath/notify"
)

// NotifyHandler sends the events of notify subscriptions as GOV.UK Notify messages through s. The
// event id is each message's reference; a message Notify refuses for good (an invalid template, a
// missing phone number) is dead-lettered with Notify's reason, and a rate limit, a server error
// or no answer is retried with backoff. Because the events come from the outbox, a notification
// is never sent for a change that was rolled back.
func NotifyHandler(s *notify.Sender) Handler {
	return func(ctx context.Context, e *Event) error {
		return s.Send(ctx, notify.Event{ID: e.ID, Type: e.Type, Payload: e.Payload})
	}
}
