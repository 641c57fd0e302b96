package database

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"
)

// Tx is a transaction in progress, handed to the function given to DB.InTx. It offers only the
// statements stores run, so domain packages pass it between each other without naming the
// driver or the SQL toolkit behind it.
type Tx struct {
	tx *sqlx.Tx
	// Dialect is the SQL backend the transaction runs on, for the statements that differ.
	Dialect Dialect
	// stmts are the statements prepared for the pool the transaction runs on.
	stmts *stmtCache
	// shared says the transaction is SQLite's group commit, shared with other callers.
	shared bool
	// gathered holds writes deferred by Defer until ExecGathered sends them (see gather.go).
	gathered *gathered
	// statements counts the statements run, for DB.TxStats.
	statements int64
}

// detach keeps a cancellation arriving in the middle of a statement from reaching the driver
// when the transaction is shared: SQLite interrupts the statement, and an interrupted write
// rolls back the whole transaction, other callers' work included. A context already done
// still fails the statement before it starts, so fn stops at its next statement.
func (t *Tx) detach(ctx context.Context) context.Context {
	t.statements++
	if t.shared && ctx.Err() == nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// Querier runs statements either on a caller's transaction (*Tx) or on the pool (*DB), for store
// methods that take part in a larger transaction when given one.
type Querier interface {
	// ExecContext runs a statement that returns no rows.
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	// GetContext scans the single row the query returns into dest (sql.ErrNoRows when none).
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	// SelectContext scans every row the query returns into the slice dest points to.
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	// QueryContext runs a query and returns its rows for the caller to scan and close.
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	// QueryRowContext runs a query expected to return at most one row.
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	// Rebind turns the ?-placeholders of query into the backend's own.
	Rebind(query string) string
}

var (
	_ Querier = (*Tx)(nil)
	_ Querier = (*DB)(nil)
)

// ExecContext runs a statement that returns no rows.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.detach(ctx), query, args...)
}

// GetContext scans the single row the query returns into dest (sql.ErrNoRows when none).
func (t *Tx) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return t.tx.GetContext(t.detach(ctx), dest, query, args...)
}

// SelectContext scans every row the query returns into the slice dest points to.
func (t *Tx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return t.tx.SelectContext(t.detach(ctx), dest, query, args...)
}

// QueryContext runs a query and returns its rows for the caller to scan and close.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.detach(ctx), query, args...)
}

// QueryRowContext runs a query expected to return at most one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.detach(ctx), query, args...)
}

// PrepareContext prepares a statement on the transaction; PostgreSQL's COPY goes through it.
func (t *Tx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(t.detach(ctx), query)
}

// Rebind turns the ?-placeholders of query into the backend's own.
func (t *Tx) Rebind(query string) string {
	return t.tx.Rebind(query)
}

// ExecPrepared runs a statement that returns no rows as ExecContext does, through a statement
// prepared once for the pool: for statements every request runs, where parsing would cost more
// than running. query is in ?-placeholders, rebound once when it is prepared; a query already
// in the backend's own placeholders is used as it is.
func (t *Tx) ExecPrepared(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.detach(ctx)
	st := t.stmts.prepared(query)
	if st == nil {
		return t.tx.ExecContext(ctx, t.tx.Rebind(query), args...)
	}
	return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// QueryRowPrepared runs a query expected to return at most one row, as QueryRowContext does,
// through a statement prepared once for the pool; query is in ?-placeholders, as for ExecPrepared.
func (t *Tx) QueryRowPrepared(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = t.detach(ctx)
	st := t.stmts.prepared(query)
	if st == nil {
		return t.tx.QueryRowContext(ctx, t.tx.Rebind(query), args...)
	}
	return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// QueryPrepared runs a query through a statement prepared once for the pool, for the caller to
// scan and close; query is in ?-placeholders, as for ExecPrepared.
func (t *Tx) QueryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = t.detach(ctx)
	st := t.stmts.prepared(query)
	if st == nil {
		return t.tx.QueryContext(ctx, t.tx.Rebind(query), args...)
	}
	return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

// PreparedQuerier is what both a DB and a Tx offer for reads every request makes: statements
// prepared once for the pool, in ?-placeholders.
type PreparedQuerier interface {
	// QueryRowPrepared runs a query expected to return at most one row.
	QueryRowPrepared(ctx context.Context, query string, args ...any) *sql.Row
	// QueryPrepared runs a query for the caller to scan and close.
	QueryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var (
	_ PreparedQuerier = (*DB)(nil)
	_ PreparedQuerier = (*Tx)(nil)
)
