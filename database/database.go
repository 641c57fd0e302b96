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
	"sync/atomic"
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
	stmts stmtCache
	// transactions and txStatements count PostgreSQL transactions committed and the statements
	// they ran, BEGIN and COMMIT included (see TxStats).
	transactions, txStatements atomic.Int64
	// writer is SQLite's one write connection, through which every InTx runs with group
	// commit; nil on PostgreSQL, whose transactions run on the pool.
	writer *writer
}

// stmtCache holds the statements prepared once for one pool, by query text.
type stmtCache struct {
	pool      *sqlx.DB
	stmts     sync.Map
	preparing sync.Map // queries being prepared in the background
	mu        sync.Mutex
	closed    bool
}

// sqliteParams makes every SQLite connection safe for concurrent use: WAL lets
// readers proceed during a write, busy_timeout waits for the writer instead of
// failing (the writer connection waits for the rare write made on the pool, and
// those for it), and _txlock=immediate takes the write lock at BEGIN so a
// read-then-write transaction cannot deadlock into SQLITE_BUSY with one.
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
	open := func(conns int) (*sqlx.DB, error) {
		sqlDB, err := sql.Open("sqlite", "file:"+path+"?"+sqliteParams)
		if err != nil {
			return nil, fmt.Errorf("database: unable to open SQLite %q: %w", path, err)
		}
		sqlDB.SetMaxOpenConns(conns)
		sqlDB.SetMaxIdleConns(conns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		if err := sqlDB.PingContext(ctx); err != nil {
			_ = sqlDB.Close()
			return nil, fmt.Errorf("database: unable to open SQLite %q: %w", path, err)
		}
		// "sqlite3" is the name sqlx knows for ?-placeholders; modernc registers
		// itself as "sqlite", which sqlx would not recognise.
		return sqlx.NewDb(sqlDB, "sqlite3"), nil
	}
	// Readers run side by side under WAL on the pool; writes are SQLite's one at a time
	// whatever the pool, so every InTx goes through one writer connection that commits
	// the transactions waiting for it together (see writer).
	readers, err := open(SQLiteReaders)
	if err != nil {
		return nil, err
	}
	w, err := open(1)
	if err != nil {
		_ = readers.Close()
		return nil, err
	}
	return &DB{DB: readers, Dialect: SQLite, stmts: stmtCache{pool: readers}, writer: newWriter(w)}, nil
}

// SQLiteReaders is the size of SQLite's reader pool unless configured otherwise: reads
// under WAL run alongside the writer, and a handful covers the requests a small server
// runs at once without each connection's page cache costing much memory.
const SQLiteReaders = 8

// TxStats counts the transactions committed on PostgreSQL and the statements they ran, BEGIN and
// COMMIT included: each is a round trip, and their ratio is what a transaction costs in them.
type TxStats struct {
	Transactions, Statements int64
}

// TxStats returns the counts since the pool was opened.
func (db *DB) TxStats() TxStats {
	return TxStats{Transactions: db.transactions.Load(), Statements: db.txStatements.Load()}
}

// PostgresConns is the size of a PostgreSQL pool unless configured otherwise: enough for a
// 2-core server's requests in flight without queueing on the database's own locks.
const PostgresConns = 16

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	sqlDB, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("database: unable to open PostgreSQL %s: %w", redact(dsn), err)
	}
	// Every open connection stays idle-ready: a smaller idle pool closes and reopens
	// connections (a PostgreSQL backend process each) all through a busy spell.
	sqlDB.SetMaxOpenConns(PostgresConns)
	sqlDB.SetMaxIdleConns(PostgresConns)
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("database: unable to connect to PostgreSQL %s: %w", redact(dsn), err)
	}
	pool := sqlx.NewDb(sqlDB, "postgres")
	return &DB{DB: pool, Dialect: Postgres, stmts: stmtCache{pool: pool}}, nil
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
// from fn is returned unchanged, and a panic in fn is raised again in the caller.
//
// On SQLite, transactions run one at a time on the writer connection and those
// waiting are committed together (group commit): each in its own savepoint, so
// one that fails or panics is rolled back alone. fn must not call InTx itself (it
// would wait for its own transaction) and, on SQLite, ctx is checked before each
// statement rather than interrupting one, since an interrupted write would roll
// back the whole batch.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.writer != nil {
		return db.writer.do(ctx, db, fn)
	}
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
	t := &Tx{tx: tx, Dialect: db.Dialect, stmts: &db.stmts}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flushGathered(ctx); err != nil {
		return err
	}
	committed = true
	// BEGIN and COMMIT are statements too, each a round trip.
	db.txStatements.Add(t.statements + 2)
	db.transactions.Add(1)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("database: unable to commit transaction: %w", err)
	}
	return nil
}

// QueryRowPrepared runs a query expected to return at most one row outside any transaction,
// through a statement prepared once for the pool (the readers, on SQLite): for reads that every
// request makes. query is in ?-placeholders, as for Tx.ExecPrepared.
func (db *DB) QueryRowPrepared(ctx context.Context, query string, args ...any) *sql.Row {
	st := db.stmts.prepared(query)
	if st == nil {
		return db.DB.QueryRowContext(ctx, db.Rebind(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryPrepared runs a query outside any transaction through a statement prepared once for
// the pool, for the caller to scan and close; query is in ?-placeholders.
func (db *DB) QueryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st := db.stmts.prepared(query)
	if st == nil {
		return db.DB.QueryContext(ctx, db.Rebind(query), args...)
	}
	return st.QueryContext(ctx, args...)
}

// prepared returns query, in ?-placeholders, rebound to the backend's own and prepared for the
// pool, or nil the first time, when it starts preparing it in the background. Hot statements go through it so that SQLite parses them once per
// connection, not once per call, and PostgreSQL binds and executes them in one round trip
// instead of parsing first. It never waits for a connection itself: a transaction that asked for
// one while holding SQLite's write lock, with every other connection waiting for that lock,
// would wait for ever.
//
// Each pool has its own: a statement prepared on the readers cannot run on SQLite's writer.
func (c *stmtCache) prepared(query string) *sql.Stmt {
	if st, ok := c.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if _, busy := c.preparing.LoadOrStore(query, true); busy {
		return nil
	}
	go func() {
		// On SQLite's writer this waits for its one connection, which the transaction that
		// asked holds; it runs in between transactions, and nothing waits for it meanwhile.
		st, err := c.pool.PrepareContext(context.Background(), c.pool.Rebind(query))
		if err != nil {
			// Running unprepared reports the error to the caller; try again next time.
			c.preparing.Delete(query)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			_ = st.Close()
			return
		}
		c.stmts.Store(query, st)
	}()
	return nil
}

// close closes the prepared statements; those still being prepared close themselves.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		c.stmts.Delete(k)
		return true
	})
}

// Close closes the prepared statements and then the pools.
func (db *DB) Close() error {
	db.stmts.close()
	var werr error
	if db.writer != nil {
		werr = db.writer.close()
	}
	return errors.Join(werr, db.DB.Close())
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
