package database

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// gathered is the writes a transaction has deferred, to be sent with its last statement.
type gathered struct {
	names []string
	query []string
	args  [][]any
}

// Gather makes tx collect the writes given to Defer and send them with the statement given to
// ExecGathered, as one statement of data-modifying common table expressions on PostgreSQL, so a
// transaction that writes to many tables costs one round trip instead of one per row. On SQLite,
// where a statement costs no round trip, Defer keeps running each write at once.
func (t *Tx) Gather() {
	if t.Dialect == Postgres && t.gathered == nil {
		t.gathered = &gathered{}
	}
}

// Gathering reports whether writes given to Defer are held back until ExecGathered.
func (t *Tx) Gathering() bool { return t.gathered != nil }

// Defer runs a write (an INSERT, UPDATE or DELETE in ?-placeholders) whose effect nothing later in
// the transaction reads: at once, or, when the transaction gathers, with ExecGathered's statement.
// Deferred writes all see the database as it was before any of them ran, as statements of one
// WITH do.
func (t *Tx) Defer(ctx context.Context, query string, args ...any) error {
	return t.DeferAs(ctx, "", query, args...)
}

// DeferAs is Defer for a write that later deferred writes of the same transaction refer to by
// name (through its RETURNING clause). Only a gathering transaction can run such writes, so
// callers build them only when Gathering says so; name is a plain SQL identifier.
func (t *Tx) DeferAs(ctx context.Context, name, query string, args ...any) error {
	if t.gathered == nil {
		if name != "" {
			return fmt.Errorf("database: unable to defer %s: only a gathering transaction names its writes", name)
		}
		_, err := t.ExecPrepared(ctx, query, args...)
		return err
	}
	g := t.gathered
	if name == "" {
		name = "w" + strconv.Itoa(len(g.names)+1)
	}
	g.names = append(g.names, name)
	g.query = append(g.query, query)
	g.args = append(g.args, args)
	return nil
}

// ExecGathered runs query (in ?-placeholders) together with the writes deferred so far, which
// run as the common table expressions before it; its result is query's own. The transaction
// gathers again afterwards, afresh.
func (t *Tx) ExecGathered(ctx context.Context, query string, args ...any) (sql.Result, error) {
	g := t.gathered
	if g == nil || len(g.names) == 0 {
		return t.ExecPrepared(ctx, query, args...)
	}
	var b strings.Builder
	n := len(args)
	for _, a := range g.args {
		n += len(a)
	}
	all := make([]any, 0, n)
	b.WriteString("WITH ")
	for i, name := range g.names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteString(" AS (")
		b.WriteString(g.query[i])
		b.WriteString(")")
		all = append(all, g.args[i]...)
	}
	b.WriteString(" ")
	b.WriteString(query)
	all = append(all, args...)
	t.gathered = &gathered{}
	// The statement's text depends only on which writes a code path defers, so there are few
	// and each is prepared once.
	return t.ExecPrepared(ctx, b.String(), all...)
}

// flushGathered sends the writes still deferred when the transaction's function returned, so
// that none is lost to a caller that gathered without a last statement.
func (t *Tx) flushGathered(ctx context.Context) error {
	if t.gathered == nil || len(t.gathered.names) == 0 {
		return nil
	}
	if _, err := t.ExecGathered(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("database: unable to write what the transaction deferred: %w", err)
	}
	return nil
}
