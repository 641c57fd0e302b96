package database_test

import (
	"database/sql/driver"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/database/databasetest"
)

func TestTimeValue(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"utc", time.Date(2025, 3, 1, 9, 5, 7, 0, time.UTC), "2025-03-01T09:05:07.000000Z"},
		{"nanoseconds truncated", time.Date(2025, 3, 1, 9, 5, 7, 123456789, time.UTC), "2025-03-01T09:05:07.123456Z"},
		{"summer time converted", time.Date(2025, 7, 1, 10, 0, 0, 500, london), "2025-07-01T09:00:00.000000Z"},
		{"fixed offset converted", time.Date(2025, 1, 1, 0, 30, 0, 0, time.FixedZone("", -2*3600)), "2025-01-01T02:30:00.000000Z"},
		{"zero", time.Time{}, "0001-01-01T00:00:00.000000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := database.Time{Time: tt.in}.Value()
			if err != nil {
				t.Fatal(err)
			}
			if got != driver.Value(tt.want) {
				t.Errorf("Value = %#v, want %q", got, tt.want)
			}
			if s := database.NewTime(tt.in).String(); s != tt.want {
				t.Errorf("String = %q, want %q", s, tt.want)
			}
		})
	}
}

func TestTimeScan(t *testing.T) {
	want := time.Date(2025, 3, 1, 9, 5, 7, 123456000, time.UTC)
	tests := []struct {
		name    string
		src     any
		want    time.Time
		wantErr string
	}{
		{"stored text", "2025-03-01T09:05:07.123456Z", want, ""},
		{"stored bytes", []byte("2025-03-01T09:05:07.123456Z"), want, ""},
		{"rfc3339 with offset", "2025-03-01T10:05:07.123456789+01:00", want, ""},
		{"rfc3339 without fraction", "2025-03-01T09:05:07Z", want.Truncate(time.Second), ""},
		{"time in another zone", want.In(time.FixedZone("", 5*3600)).Add(789), want, ""},
		{"not a time", "yesterday", time.Time{}, "unable to parse time"},
		{"space separated", "2025-03-01 09:05:07", time.Time{}, "unable to parse time"},
		{"null", nil, time.Time{}, "NULL"},
		{"integer", int64(1740819907), time.Time{}, "unable to scan int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got database.Time
			err := got.Scan(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Scan(%#v) error = %v, want one containing %q", tt.src, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan(%#v): %v", tt.src, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("Scan(%#v) = %v (%v), want %v UTC", tt.src, got.Time, got.Location(), tt.want)
			}
		})
	}
}

func TestTimeInDatabase(t *testing.T) {
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	// Stored in an order, and with zones and precisions, that naive text
	// comparison of the inputs would get wrong.
	rows := []struct {
		id string
		at time.Time
	}{
		{"later", base.Add(90 * time.Minute).In(time.FixedZone("", -5*3600))},
		{"micro", base.Add(1500 * time.Nanosecond)},
		{"earlier-local-later-clock", base.Add(-30 * time.Minute).In(time.FixedZone("", 2*3600))},
		{"exact", base},
		{"year-end", time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	}
	queries := []struct {
		name  string
		query string
		arg   time.Time
		want  string
	}{
		{"at or before base", "SELECT id FROM forms WHERE created_at <= ? ORDER BY created_at", base, "year-end,earlier-local-later-clock,exact"},
		{"after base", "SELECT id FROM forms WHERE created_at > ? ORDER BY created_at", base, "micro,later"},
		{"bound in another zone", "SELECT id FROM forms WHERE created_at < ? ORDER BY created_at DESC", base.In(time.FixedZone("", 9*3600)), "earlier-local-later-clock,year-end"},
		{"sub-microsecond bound", "SELECT id FROM forms WHERE created_at >= ? ORDER BY created_at", base.Add(1999 * time.Nanosecond), "micro,later"},
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		for _, row := range rows {
			if _, err := db.Exec(db.Rebind("INSERT INTO forms (id, version, definition, sha256, created_at) VALUES (?, 1, '{}', 'x', ?)"),
				row.id, database.Time{Time: row.at}); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("round trip", func(t *testing.T) {
			for _, row := range rows {
				var got database.Time
				if err := db.Get(&got, db.Rebind("SELECT created_at FROM forms WHERE id = ?"), row.id); err != nil {
					t.Fatal(err)
				}
				want := database.NewTime(row.at)
				if !got.Equal(want.Time) || got.Location() != time.UTC {
					t.Errorf("%s: read %v (%v), want %v UTC", row.id, got.Time, got.Location(), want.Time)
				}
			}
		})
		for _, q := range queries {
			t.Run(q.name, func(t *testing.T) {
				var ids []string
				if err := db.Select(&ids, db.Rebind(q.query), database.Time{Time: q.arg}); err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(ids, ","); got != q.want {
					t.Errorf("ids = %s, want %s", got, q.want)
				}
			})
		}
	})
}
