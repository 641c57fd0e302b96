// Package database owns Carepath's connections, SQL dialects and schema
// migrations; the domain packages keep their own stores and build on it.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL backend behind a DB.
type Dialect string

const (
	// SQLite is the embedded default backend (modernc.org/sqlite).
	SQLite Dialect = "sqlite"
	// Postgres is the production backend (github.com/lib/pq).
	Postgres Dialect = "postgres"
)

// DB is a connection pool together with the dialect it speaks.
type DB struct {
	*sqlx.DB
	Dialect Dialect

	// stmts holds the statements prepared once for the pool, by query text; database/sql
	// prepares each on a connection the first time it runs there and reuses it after.
	stmts     sync.Map
	preparing sync.Map // queries being prepared in the background
	stmtsMu   sync.Mutex
	closed    bool
}

// sqliteParams makes every SQLite connection safe for concurrent use: WAL lets
// readers proceed during a write, busy_timeout waits for the writer instead of
// failing, and _txlock=immediate takes the write lock at BEGIN so two
// read-then-write transactions cannot deadlock into SQLITE_BUSY.
var sqliteParams = url.Values{
	"_pragma": {
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(NORMAL)",
	},
	"_txlock": {"immediate"},
}.Encode()

// Open connects to the database named by dsn, which is either
// "sqlite:PATH" (a file, created if missing) or a "postgres://" or
// "postgresql://" URL. It does not migrate; call Migrate or CheckSchema.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("database: unable to open %q: unsupported DSN, want sqlite:PATH or a postgres:// or postgresql:// URL", redact(dsn))
	}
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("database: unable to open SQLite: empty path in DSN, want sqlite:PATH")
	}
	// Pool connections are independent, so an in-memory database would be a
	// different empty database on each one; and URI syntax would collide with
	// the parameters added below.
	if path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("database: unable to open SQLite %q: want a plain file path", path)
	}
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?"+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("database: unable to open SQLite %q: %w", path, err)
	}
	// One writer at a time is SQLite's nature; a few connections still let
	// readers run alongside it under WAL.
	sqlDB.SetMaxOpenConns(4)
	sqlDB.SetMaxIdleConns(4)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("database: unable to open SQLite %q: %w", path, err)
	}
	// "sqlite3" is the name sqlx knows for ?-placeholders; modernc registers
	// itself as "sqlite", which sqlx would not recognise.
	return &DB{DB: sqlx.NewDb(sqlDB, "sqlite3"), Dialect: SQLite}, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	sqlDB, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("database: unable to open PostgreSQL %s: %w", redact(dsn), err)
	}
	sqlDB.SetMaxOpenConns(16)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("database: unable to connect to PostgreSQL %s: %w", redact(dsn), err)
	}
	return &DB{DB: sqlx.NewDb(sqlDB, "postgres"), Dialect: Postgres}, nil
}

// redact hides a URL's password so DSNs can appear in error messages and logs.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

// InTx runs fn inside a transaction, committing if fn returns nil and rolling
// back otherwise. fn gets the transaction as a *Tx, which stores pass to each
// other so their statements commit together. It returns only once the commit has succeeded, so callers
// may acknowledge work to their own callers after it returns nil. An error
// from fn is returned unchanged.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("database: unable to begin transaction: %w", err)
	}
	committed := false
	defer func() {
		// Also covers panics in fn: the transaction must not stay open
		// holding locks (on SQLite, the single write lock).
		if !committed {
			if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && err != nil {
				err = errors.Join(err, fmt.Errorf("database: unable to roll back transaction: %w", rbErr))
			}
		}
	}()
	if err := fn(&Tx{tx: tx, Dialect: db.Dialect, db: db}); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("database: unable to commit transaction: %w", err)
	}
	return nil
}

// prepared returns query, in ?-placeholders, rebound to the backend's own and prepared for the
// pool, or nil the first time, when it starts preparing it in the background. Hot statements go through it so that SQLite parses them once per
// connection, not once per call, and PostgreSQL binds and executes them in one round trip
// instead of parsing first. It never waits for a connection itself: a transaction that asked for
// one while holding SQLite's write lock, with every other connection waiting for that lock,
// would wait for ever.
func (db *DB) prepared(query string) *sql.Stmt {
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if _, busy := db.preparing.LoadOrStore(query, true); busy {
		return nil
	}
	go func() {
		st, err := db.DB.PrepareContext(context.Background(), db.Rebind(query))
		if err != nil {
			// Running unprepared reports the error to the caller; try again next time.
			db.preparing.Delete(query)
			return
		}
		db.stmtsMu.Lock()
		defer db.stmtsMu.Unlock()
		if db.closed {
			_ = st.Close()
			return
		}
		db.stmts.Store(query, st)
	}()
	return nil
}

// Close closes the prepared statements and then the pool.
func (db *DB) Close() error {
	db.stmtsMu.Lock()
	db.closed = true
	db.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		db.stmts.Delete(k)
		return true
	})
	db.stmtsMu.Unlock()
	return db.DB.Close()
}

// IsUniqueViolation reports whether err comes from a UNIQUE or PRIMARY KEY
// constraint, on either backend, so stores can turn it into a domain conflict.
func IsUniqueViolation(err error) bool {
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == pqerror.UniqueViolation
	}
	return false
}
