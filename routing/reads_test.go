package routing_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
	"github.com/carepath/carepath/routing"
)

// TestPlacementReadsThroughPoolAndTransaction covers the two reads a placement makes on every
// decision (who last saw the person, and who is on call), which run as prepared statements:
// the same answers through the pool, inside a transaction, and before and after each
// statement has been prepared.
func TestPlacementReadsThroughPoolAndTransaction(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store := routing.NewSQLStore(db)
		at := func(d, hh int) time.Time { return time.Date(2026, 11, d, hh, 0, 0, 0, time.UTC) }
		visits := []routing.StoredVisit{storedVisit("a", "p1", at(23, 10)), storedVisit("b", "p2", at(24, 10)),
			storedVisit("c", "p3", at(26, 10)), storedVisit("other", "p4", at(24, 11))}
		for i := range 3 {
			visits[i].SubjectRef = "person"
		}
		for _, v := range visits {
			if err := store.Book(ctx, db, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.Cancel(ctx, nil, "b", storeNow); err != nil {
			t.Fatal(err)
		}
		rota := []routing.OnCall{
			{ID: "n1", ServiceID: "svc-a", PractitionerID: "p1", Starts: at(24, 18), Ends: at(25, 8)},
			{ID: "n2", ServiceID: "svc-b", PractitionerID: "p2", Starts: at(24, 18), Ends: at(25, 8), Note: "second line"},
			{ID: "n3", ServiceID: "svc-a", PractitionerID: "p3", Starts: at(25, 18), Ends: at(26, 8)},
		}
		ps, err := routing.ParsePractitioners([]byte(`[
			{"id":"p1","name":"P1","skills":["reablement"],"service_ids":["svc-a"],"base":{"lat":52.9,"lon":-1.1},"max_visits_per_day":6,"working_hours":[{"day":"fri","start":"09:00","end":"17:00"}]},
			{"id":"p2","name":"P2","skills":["reablement"],"service_ids":["svc-b"],"base":{"lat":52.9,"lon":-1.1},"max_visits_per_day":6,"working_hours":[{"day":"fri","start":"09:00","end":"17:00"}]},
			{"id":"p3","name":"P3","skills":["reablement"],"service_ids":["svc-a"],"base":{"lat":52.9,"lon":-1.1},"max_visits_per_day":6,"working_hours":[{"day":"fri","start":"09:00","end":"17:00"}]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.PutPractitioners(ctx, ps, storeNow); err != nil {
			t.Fatal(err)
		}
		if err := store.PutOnCall(ctx, rota, storeNow); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			before time.Time
			want   string
		}{
			{"cancelled visits do not count", at(25, 0), "p1"},
			{"the latest before the time", at(27, 0), "p3"},
			{"nobody yet", at(22, 0), ""},
		} {
			for round := range 3 { // the first run may go unprepared while the statement prepares
				got, err := store.LastPractitioner(ctx, nil, "person", tc.before)
				if err != nil || got != tc.want {
					t.Errorf("%s, pool, round %d: %q, %v; want %q", tc.name, round, got, err, tc.want)
				}
				err = db.InTx(ctx, func(tx *database.Tx) error {
					got, err := store.LastPractitioner(ctx, tx, "person", tc.before)
					if err == nil && got != tc.want {
						t.Errorf("%s, transaction, round %d: %q; want %q", tc.name, round, got, tc.want)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		for _, tc := range []struct {
			name     string
			from, to time.Time
			services []string
			want     []string
		}{
			{"the night", at(24, 20), at(24, 22), nil, []string{"n1", "n2"}},
			{"one service", at(24, 20), at(24, 22), []string{"svc-b"}, []string{"n2"}},
			{"two nights", at(24, 20), at(25, 20), []string{"svc-a"}, []string{"n1", "n3"}},
			{"the day", at(25, 9), at(25, 17), nil, nil},
		} {
			for round := range 3 {
				got, err := store.OnCallBetween(ctx, nil, tc.from, tc.to, tc.services...)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, e := range got {
					ids = append(ids, e.ID)
					for _, r := range rota {
						if r.ID == e.ID && !reflect.DeepEqual(r, routing.OnCall{ID: e.ID, ServiceID: e.ServiceID,
							PractitionerID: e.PractitionerID, Starts: e.Starts.UTC(), Ends: e.Ends.UTC(), Note: e.Note}) {
							t.Errorf("%s: entry read back as %+v, stored %+v", tc.name, e, r)
						}
					}
				}
				if !reflect.DeepEqual(ids, tc.want) {
					t.Errorf("%s, round %d: %v, want %v", tc.name, round, ids, tc.want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
}
