package database

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// TimeFormat is how Time is written: fixed-width UTC with microseconds, so
// SQLite's TEXT comparison orders instants correctly and PostgreSQL casts it
// to TIMESTAMPTZ without loss.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Time is a timestamp column value, normalised to UTC and microsecond
// precision (PostgreSQL's resolution) so it reads back exactly as written.
type Time struct {
	time.Time
}

// NewTime returns t normalised as it will be stored.
func NewTime(t time.Time) Time {
	return Time{Time: normalise(t)}
}

func normalise(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// Value writes the time as TimeFormat text.
func (t Time) Value() (driver.Value, error) {
	return normalise(t.Time).Format(TimeFormat), nil
}

// Scan reads a time.Time (PostgreSQL) or TimeFormat or RFC 3339 text (SQLite).
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		t.Time = normalise(v)
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case nil:
		return fmt.Errorf("database: unable to scan NULL into Time: use *Time for a nullable column")
	default:
		return fmt.Errorf("database: unable to scan %T into Time", src)
	}
}

func (t *Time) parse(s string) error {
	// RFC3339Nano also accepts TimeFormat and offsets other than Z.
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("database: unable to parse time %q: %w", s, err)
	}
	t.Time = normalise(parsed)
	return nil
}

// String returns the stored representation.
func (t Time) String() string {
	return normalise(t.Time).Format(TimeFormat)
}
