package directory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/failure"
)

// Store keeps the services directory and the postcode gazetteer.
type Store interface {
	// PutServices validates services and upserts them in one transaction; nothing is stored when
	// any record is invalid.
	PutServices(ctx context.Context, services []Service, knownPathway func(string) bool, now time.Time) (int, error)
	Services(ctx context.Context) ([]Service, error)
	// Marker changes whenever the stored directory changes, for caches shared by replicas.
	Marker(ctx context.Context) (Marker, error)
	PutGazetteer(ctx context.Context, g *Gazetteer) (int, error)
	// Locate resolves a postcode through the stored gazetteer.
	Locate(ctx context.Context, postcode string) (lat, lon float64, ok bool, err error)
}

// Marker is a cheap fingerprint of the stored directory: a counter that every insert, update and
// delete of a stored service raises (triggers of migration 00023), so any change moves it.
type Marker struct {
	Changes int64
}

// SQLStore is the Store on SQLite or PostgreSQL.
type SQLStore struct {
	DB *database.DB
}

// NewSQLStore returns a Store over db.
func NewSQLStore(db *database.DB) *SQLStore { return &SQLStore{DB: db} }

// PutServices validates services against the HSDS rules and known pathway codes, then upserts each
// service as its HSDS 3.1 document, keyed by its code, in one transaction. A service without
// last_modified is stamped with now, so that HSDS clients can ask what changed since.
func (s *SQLStore) PutServices(ctx context.Context, services []Service, knownPathway func(string) bool, now time.Time) (int, error) {
	if err := Validate(services, knownPathway); err != nil {
		return 0, failure.Errorf(failure.Invalid, "%w", err)
	}
	seen := make(map[string]int, len(services))
	for i, svc := range services {
		if j, dup := seen[svc.key()]; dup {
			return 0, failure.Errorf(failure.Invalid, "directory: service %q field id: duplicate of record [%d] at [%d]", svc.key(), j, i)
		}
		seen[svc.key()] = i
	}
	docs := make([]string, len(services))
	for i, svc := range services {
		svc = canonical(svc)
		if svc.LastModified == "" {
			svc.LastModified = now.UTC().Format(time.RFC3339)
		}
		b, err := json.Marshal(svc)
		if err != nil {
			return 0, fmt.Errorf("directory: unable to encode service %q: %w", svc.key(), err)
		}
		docs[i] = string(b)
	}
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		q := tx.Rebind(`INSERT INTO services (id, document, revision, updated_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (id) DO UPDATE SET document = excluded.document, revision = services.revision + 1,
			updated_at = excluded.updated_at`)
		for i, svc := range services {
			if _, err := tx.ExecContext(ctx, q, svc.key(), docs[i], database.NewTime(now)); err != nil {
				return fmt.Errorf("directory: unable to store service %q: %w", svc.key(), err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(services), nil
}

// Services returns every stored service, sorted by code; documents stored by an older Carepath
// are read as HSDS 3.1 like any import.
func (s *SQLStore) Services(ctx context.Context) ([]Service, error) {
	rows, err := s.ServiceDocuments(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Service, len(rows))
	for i := range rows {
		if err := rows[i].decode(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Marker reads the directory's change counter, one row.
func (s *SQLStore) Marker(ctx context.Context) (Marker, error) {
	var m Marker
	if err := s.DB.QueryRowPrepared(ctx, `SELECT counter FROM directory_marker WHERE id = 1`).Scan(&m.Changes); err != nil {
		return Marker{}, fmt.Errorf("directory: unable to read the directory marker: %w", err)
	}
	return m, nil
}

// Entries lists the gazetteer's postcodes in their canonical form with coordinates and local
// authority, in no particular order.
func (g *Gazetteer) Entries() []GazetteerEntry {
	out := make([]GazetteerEntry, 0, len(g.entries))
	for key, e := range g.entries {
		var b [8]byte
		n := 0
		for k := key; k != 0; k >>= 8 {
			n++
		}
		for i := n - 1; i >= 0; i-- {
			b[i] = byte(key)
			key >>= 8
		}
		pc, _ := NormalizePostcode(string(b[:n]))
		out = append(out, GazetteerEntry{Postcode: pc, Lat: float64(e.lat) / 1e6, Lon: float64(e.lon) / 1e6, LocalAuthority: g.authorities[e.authority]})
	}
	return out
}

// GazetteerEntry is one postcode of a gazetteer.
type GazetteerEntry struct {
	Postcode       string
	Lat, Lon       float64
	LocalAuthority string
}

// PutGazetteer upserts every postcode of g in one transaction.
func (s *SQLStore) PutGazetteer(ctx context.Context, g *Gazetteer) (int, error) {
	entries := g.Entries()
	err := s.DB.InTx(ctx, func(tx *database.Tx) error {
		q := tx.Rebind(`INSERT INTO gazetteer (postcode, lat, lon, oslaua) VALUES (?, ?, ?, ?)
			ON CONFLICT (postcode) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, oslaua = excluded.oslaua`)
		for _, e := range entries {
			if _, err := tx.ExecContext(ctx, q, e.Postcode, e.Lat, e.Lon, e.LocalAuthority); err != nil {
				return fmt.Errorf("directory: unable to store postcode %s: %w", e.Postcode, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(entries), nil
}

// PostcodeCount is how many postcodes the stored gazetteer holds.
func (s *SQLStore) PostcodeCount(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.GetContext(ctx, &n, `SELECT COUNT(*) FROM gazetteer`); err != nil {
		return 0, fmt.Errorf("directory: unable to count postcodes: %w", err)
	}
	return n, nil
}

// Locate resolves a postcode, in any spacing or case, through the stored gazetteer.
func (s *SQLStore) Locate(ctx context.Context, postcode string) (float64, float64, bool, error) {
	pc, ok := NormalizePostcode(strings.TrimSpace(postcode))
	if !ok {
		return 0, 0, false, nil
	}
	var lat, lon float64
	err := s.DB.QueryRowContext(ctx, s.DB.Rebind(`SELECT lat, lon FROM gazetteer WHERE postcode = ?`), pc).Scan(&lat, &lon)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	} else if err != nil {
		return 0, 0, false, fmt.Errorf("directory: unable to look up postcode %s: %w", pc, err)
	}
	return lat, lon, true, nil
}

// CachedIndex keeps a compiled Index of a Store and rebuilds it when the store's Marker changes,
// so that an import through any replica reaches every replica's next query; checking the marker
// is one single-row read, rebuilding is done once per change.
type CachedIndex struct {
	Store Store
	// Generation, when set, is checked first: while the reference generation stands (see package
	// refdata) the index is used with no query at all. When it moves, the directory's own Marker
	// says whether the services changed, so a rule-set activation or a new practitioner does not
	// make the next decision wait for the whole directory to compile again.
	Generation func(ctx context.Context) (uint64, error)

	mu     sync.Mutex
	index  *Index
	marker Marker
	gen    uint64 // the generation index was last confirmed at
}

// NewCachedIndex returns a cache over store.
func NewCachedIndex(store Store) *CachedIndex { return &CachedIndex{Store: store} }

// Index returns the compiled directory as it is stored now.
func (c *CachedIndex) Index(ctx context.Context) (*Index, error) {
	var gen uint64
	if c.Generation != nil {
		var err error
		if gen, err = c.Generation(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.index != nil && c.gen == gen {
			ix := c.index
			c.mu.Unlock()
			return ix, nil
		}
		c.mu.Unlock()
	}
	m, err := c.Store.Marker(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.index != nil && c.marker == m {
		// Confirmed at a generation read before the marker: the marker covers every change up to it.
		c.gen = gen
		return c.index, nil
	}
	ix, err := c.build(ctx)
	if err != nil {
		return nil, err
	}
	// The marker read before the services may be older than them; that only costs one spare
	// rebuild on the next call, never a stale index.
	c.index, c.marker, c.gen = ix, m, gen
	return ix, nil
}

// build compiles the stored directory; over a DocumentStore it reuses the current index's
// compiled form of every service whose stored document is unchanged.
func (c *CachedIndex) build(ctx context.Context) (*Index, error) {
	var ix *Index
	var err error
	if ds, ok := c.Store.(DocumentStore); ok {
		var rows []StoredService
		if rows, err = ds.ServiceDocuments(ctx); err != nil {
			return nil, err
		}
		var b *storedBuild
		if b, err = decodeStored(c.index, rows); err != nil {
			return nil, err
		}
		ix, err = b.build()
	} else {
		var services []Service
		if services, err = c.Store.Services(ctx); err != nil {
			return nil, err
		}
		ix, err = NewIndex(services)
	}
	if err != nil {
		return nil, fmt.Errorf("directory: stored services do not compile: %w", err)
	}
	return ix, nil
}
