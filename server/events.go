package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/outbox"
	"github.com/carepath/carepath/routing"
	"github.com/carepath/carepath/triage"
)

// cancelVisit cancels an appointment and, with Events set, writes appointment.cancelled in the
// same transaction.
func (s *Server) cancelVisit(ctx context.Context, p *triage.Placement, id string) (routing.StoredVisit, error) {
	if s.Events == nil || s.DB == nil {
		return p.Routing.Cancel(ctx, nil, id, s.Engine.Now())
	}
	var v routing.StoredVisit
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		var err error
		if v, err = p.Routing.Cancel(ctx, tx, id, s.Engine.Now()); err != nil {
			return err
		}
		return s.Events.AppointmentChanged(ctx, tx, outbox.AppointmentCancelled, v)
	})
	return v, err
}

// OutboxMetrics registers the outbox's series (queue depth, counted from db at each scrape;
// delivery latency and failures, from the returned observer, which a Deliverer calls per send).
func (m *Metrics) OutboxMetrics(db *database.DB) func(outbox.Result) {
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "carepath_outbox_pending", Help: "Webhook deliveries waiting to be sent."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			pending, _, err := outbox.Depth(ctx, db)
			if err != nil {
				return -1
			}
			return float64(pending)
		})
	dead := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "carepath_outbox_dead", Help: "Webhook deliveries dead-lettered after their last attempt."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, n, err := outbox.Depth(ctx, db)
			if err != nil {
				return -1
			}
			return float64(n)
		})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "carepath_outbox_delivery_latency_seconds", Help: "Time from an event's commit to its successful delivery, by event type.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 15, 60, 300, 3600},
	}, []string{"type"})
	sends := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "carepath_outbox_sends_total", Help: "Webhook sends by event type and outcome (delivered, retry, dead).",
	}, []string{"type", "outcome"})
	m.registry.MustRegister(depth, dead, latency, sends)
	return func(r outbox.Result) {
		switch r.Status {
		case outbox.StatusDelivered:
			latency.WithLabelValues(r.Type).Observe(r.Latency.Seconds())
			sends.WithLabelValues(r.Type, "delivered").Inc()
		case outbox.StatusDead:
			sends.WithLabelValues(r.Type, "dead").Inc()
		default:
			sends.WithLabelValues(r.Type, "retry").Inc()
		}
	}
}
