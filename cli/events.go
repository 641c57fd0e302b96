package cli

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/carepath/carepath/config"
	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/notify"
	"github.com/carepath/carepath/notify/contacts"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/server"
	"github.com/carepath/carepath/triage"
)

// wakeDeliverer tells the delivery workers of this process that a decision has committed, so it
// is sent without waiting for their next poll.
type wakeDeliverer struct{ d *outbox.Deliverer }

// Observe wakes the deliverer.
func (w wakeDeliverer) Observe(context.Context, *triage.Decided) { w.d.Notify() }

// cancelVisit cancels an appointment and writes appointment.cancelled in the same transaction, as
// the server does, so a running server tells the subscribers.
func cancelVisit(ctx context.Context, s *services, p *triage.Placement, id string, now time.Time) (routing.StoredVisit, error) {
	var v routing.StoredVisit
	err := s.db.InTx(ctx, func(tx *database.Tx) error {
		var err error
		if v, err = p.Routing.Cancel(ctx, tx, id, now); err != nil {
			return err
		}
		return s.events.AppointmentChanged(ctx, tx, outbox.AppointmentCancelled, v)
	})
	return v, err
}

// startDelivery runs the outbox's delivery workers until ctx ends or the returned function is
// called, when configured; that function stops them and waits for the round in progress.
func (c *commands) startDelivery(ctx context.Context, cfg config.Config, s *services, api *server.Server, log *slog.Logger) func() {
	api.Events = s.events
	if api.Metrics == nil {
		api.Metrics = server.NewMetrics()
	}
	observe := api.Metrics.OutboxMetrics(s.db)
	api.Metrics.WriterMetrics(s.db)
	o := cfg.Outbox
	if !o.Deliver {
		return func() {}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = o.Senders
	d := &outbox.Deliverer{DB: s.db, Client: &http.Client{Timeout: o.Timeout, Transport: transport}, Now: c.now, Rand: rand.Float64,
		BatchSize: o.BatchSize, Senders: o.Senders, BackoffBase: o.BackoffBase, BackoffMax: o.BackoffMax, MaxAttempts: o.MaxAttempts,
		Lease: o.Lease, Poll: o.Poll, Gather: o.Gather, Logger: log, Observe: observe}
	if cfg.Notify.Enabled() {
		sender, err := notifySender(cfg, o.Timeout, c.now)
		if err != nil {
			log.Error("notify subscriptions are not sent", "error", err)
		} else {
			sender.Contacts = contacts.FromDecisions(s.db) // the preference the assessment stated
			d.Handlers = map[string]outbox.Handler{outbox.FormatNotify: outbox.NotifyHandler(sender)}
		}
	}
	s.engine.Observers = append(s.engine.Observers, wakeDeliverer{d})
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx) })
	log.Info("delivering events to webhook subscribers", "batch", o.BatchSize, "senders", o.Senders)
	return func() {
		cancel()
		wg.Wait()
	}
}

// notifySender makes the sender of notify subscriptions' messages from the configuration, with
// the API key from the configuration or the file it names.
func notifySender(cfg config.Config, timeout time.Duration, now func() time.Time) (*notify.Sender, error) {
	n := cfg.Notify
	raw := n.APIKey.Reveal()
	if n.APIKeyFile != "" {
		b, err := os.ReadFile(n.APIKeyFile)
		if err != nil {
			return nil, fmt.Errorf("notify.api_key_file: unable to read it: %w", err)
		}
		raw = string(b)
	}
	key, err := notify.ParseKey(raw)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone: %w", err)
	}
	return &notify.Sender{
		Client: &notify.Client{BaseURL: n.BaseURL, Key: key, HTTP: &http.Client{Timeout: timeout}, Now: now},
		Config: notify.Config{UrgentCase: n.UrgentCase, OnCallPhone: n.OnCallPhone, Escalation: n.Escalation, CoordinatorEmail: n.CoordinatorEmail,
			AppointmentConfirmation: notify.Channels{SMS: n.AppointmentSMS, Email: n.AppointmentEmail, Letter: n.AppointmentLetter}},
		Location: loc,
	}, nil
}

func (c *commands) subscriptionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "subscriptions",
		Usage: "webhook receivers of events (Standard Webhooks signatures)",
		Subcommands: []*cli.Command{
			{
				Name:  "add",
				Usage: "subscribe a URL to events; prints the subscription id (and the secret when one was made)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "url", Usage: "the receiver's https URL (plain http only to this machine); none with --format notify"},
					&cli.StringFlag{Name: "secret", Usage: "signing secret whsec_BASE64 shared with the receiver (default: a new one, printed once)"},
					&cli.StringFlag{Name: "events", Usage: "comma-separated event types (default: all): " + strings.Join(outbox.Types, ",")},
					&cli.StringFlag{Name: "format", Value: outbox.FormatCarepath, Usage: "carepath (JSON), fhir (FHIR R4 resources) or notify (GOV.UK Notify messages as configured under notify:, default events " + strings.Join(outbox.NotifyTypes, ",") + ")"},
				},
				Action: func(ctx *cli.Context) error {
					sub := outbox.Subscription{ID: "sub_" + uuid.Must(uuid.NewV7()).String(), URL: ctx.String("url"), Secret: ctx.String("secret"),
						Format: ctx.String("format"), CreatedAt: c.now()}
					made := sub.Secret == "" && sub.Format != outbox.FormatNotify
					if sub.Format != outbox.FormatNotify && sub.URL == "" {
						return cli.Exit("carepath subscriptions add: --url is required, except with --format notify", ExitInvalid)
					}
					if made {
						sub.Secret = outbox.NewSecret()
					}
					for e := range strings.SplitSeq(ctx.String("events"), ",") {
						if e = strings.TrimSpace(e); e != "" {
							sub.Events = append(sub.Events, e)
						}
					}
					if err := outbox.CheckSubscription(&sub); err != nil {
						return cli.Exit("carepath subscriptions add: "+err.Error(), ExitInvalid)
					}
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					if sub, err = outbox.AddSubscription(ctx.Context, s.db, sub); err != nil {
						return err
					}
					fmt.Fprintln(c.io.Stdout, sub.ID)
					if made {
						fmt.Fprintln(c.io.Stdout, sub.Secret)
						fmt.Fprintln(c.io.Stderr, "the second line is the signing secret: give it to the receiver now; it is not shown again")
					}
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list subscriptions (never their secrets)",
				Flags: []cli.Flag{formatFlag()},
				Action: func(ctx *cli.Context) error {
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					subs, err := outbox.Subscriptions(ctx.Context, s.db)
					if err != nil {
						return err
					}
					if ctx.String("format") == "json" {
						return c.printJSON(subs)
					}
					w := tabwriter.NewWriter(c.io.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "ID\tURL\tFORMAT\tEVENTS\tSTATUS")
					for _, sub := range subs {
						status := "active"
						if !sub.Active {
							status = "removed"
						}
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", sub.ID, sub.URL, sub.Format, listOrAll(sub.Events), status)
					}
					return w.Flush()
				},
			},
			{
				Name:      "remove",
				Usage:     "stop sending to a subscription; its pending deliveries are dead-lettered",
				ArgsUsage: "ID",
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() != 1 {
						return cli.Exit("carepath subscriptions remove: give one subscription ID", ExitInvalid)
					}
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					if err := outbox.RemoveSubscription(ctx.Context, s.db, ctx.Args().First(), c.now()); err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "removed subscription %s\n", ctx.Args().First())
					return nil
				},
			},
		},
	}
}

func listOrAll(s []string) string {
	if len(s) == 0 {
		return "all"
	}
	return strings.Join(s, ",")
}

func (c *commands) eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "the outbox: deliveries of events to subscribers, dead letters, retries and replays",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list deliveries, newest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "status", Usage: "pending, delivered or dead"},
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many"},
					formatFlag(),
				},
				Action: func(ctx *cli.Context) error {
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					list, err := outbox.Deliveries(ctx.Context, s.db, outbox.Filter{Status: ctx.String("status"), Limit: ctx.Int("limit")})
					if failure.CodeOf(err) == failure.Invalid {
						return cli.Exit("carepath events list: "+err.Error(), ExitInvalid)
					} else if err != nil {
						return err
					}
					if ctx.String("format") == "json" {
						return c.printJSON(list)
					}
					w := tabwriter.NewWriter(c.io.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "EVENT\tTYPE\tCASE\tSUBSCRIPTION\tSTATUS\tATTEMPTS\tCREATED\tLAST ERROR")
					for _, d := range list {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.EventID, d.Type, d.Case, d.Subscription, d.Status, d.Attempts,
							d.CreatedAt.UTC().Format(time.RFC3339), d.LastError)
					}
					return w.Flush()
				},
			},
			{
				Name:      "retry",
				Usage:     "send an event's dead-lettered deliveries again",
				ArgsUsage: "EVENT",
				Action: func(ctx *cli.Context) error {
					if ctx.NArg() != 1 {
						return cli.Exit("carepath events retry: give one EVENT id", ExitInvalid)
					}
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					n, err := outbox.Retry(ctx.Context, s.db, ctx.Args().First(), c.now())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "queued %d deliveries of event %s again; a running server sends them\n", n, ctx.Args().First())
					return nil
				},
			},
			{
				Name:  "replay",
				Usage: "send every event since a time again (same ids), to one subscription or all",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "since", Required: true, Usage: "events created at or after `WHEN`: YYYY-MM-DD (UTC) or RFC 3339"},
					&cli.StringFlag{Name: "subscription", Usage: "only to this subscription (default: every active one whose filter takes the event)"},
				},
				Action: func(ctx *cli.Context) error {
					since, err := parseDay("since", ctx.String("since"))
					if err != nil {
						return err
					}
					s, err := c.open(ctx, false)
					if err != nil {
						return err
					}
					defer s.close()
					n, err := outbox.Replay(ctx.Context, s.db, since, ctx.String("subscription"), c.now())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.io.Stdout, "queued %d deliveries again; a running server sends them\n", n)
					return nil
				},
			},
		},
	}
}
