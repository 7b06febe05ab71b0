// Package pgdb is what the PostgreSQL engines (store/postgres for the
// board's log, issuer/postgres for the issuer's roll) share: opening a
// connection pool from a DSN, and a versioned schema each engine migrates
// on open.
//
// The schema's versions are rows of one table, evote_schema, one row per
// part (the board's log, the issuer's roll), so the two may share a
// database or keep their own. A migration runs in one transaction under
// an advisory lock, so processes that start at once migrate once, and a
// database whose schema is newer than the program is refused, never
// written: an older program would not know what the newer one stores.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune a pool. The zero value is the default.
type Options struct {
	// MaxConns bounds the pool's connections; zero means pgxpool's
	// default (4, or the number of CPUs if more).
	MaxConns int
}

// Open opens a pool on dsn (a postgres:// URL or key=value string) and
// checks that the server answers. Its errors never hold the password.
func Open(ctx context.Context, dsn string, opts *Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, password and all.
		return nil, fmt.Errorf("the PostgreSQL DSN %s does not parse: write postgres://USER@HOST:PORT/DATABASE (see the PostgreSQL manual, 'Connection Strings')", Redact(dsn))
	}
	if opts != nil && opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	// A server whose host drops packets, rather than refusing them, would
	// hold every request until TCP gives up (minutes): 5 s unless the DSN
	// says (connect_timeout).
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", Redact(dsn), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w; %s", Redact(dsn), err, connectHint(err))
	}
	return pool, nil
}

// Redact is dsn without its password, for messages: the URL's user
// part's, and any password parameter's (password=, sslpassword=, which
// pgx and libpq read from the query as well).
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(a key=value DSN)"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		u.RawQuery = "(unparsed)"
	} else {
		hidden := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q[k] = []string{"xxxxx"}
				hidden = true
			}
		}
		if hidden {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// schemaLock is the advisory lock key migrations hold (any fixed number;
// this one is "evote" in ASCII).
const schemaLock = 0x65766f7465

// Migrate brings part's schema to len(steps): it applies, in one
// transaction, the steps after the version the database records, and
// records the new version. steps[i] takes the schema from version i to
// i+1; a step, once released, is never edited, only followed by another.
func Migrate(ctx context.Context, pool *pgxpool.Pool, part string, steps []string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS evote_schema (part text PRIMARY KEY, version integer NOT NULL)`); err != nil {
			return err
		}
		var v int
		err := tx.QueryRow(ctx, "SELECT version FROM evote_schema WHERE part = $1", part).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			v = 0
		} else if err != nil {
			return err
		}
		if v > len(steps) {
			return fmt.Errorf("%w: the database's %s schema is version %d, this evote knows up to %d; run the newer evote that wrote it", ErrNewerSchema, part, v, len(steps))
		}
		for i := v; i < len(steps); i++ {
			if _, err := tx.Exec(ctx, steps[i]); err != nil {
				return fmt.Errorf("migrating the %s schema to version %d: %w", part, i+1, err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO evote_schema (part, version) VALUES ($1, $2)
			ON CONFLICT (part) DO UPDATE SET version = EXCLUDED.version`, part, len(steps))
		return err
	})
}

// ErrNewerSchema means the database was migrated by a newer program.
var ErrNewerSchema = errors.New("the database schema is newer than this program")

// Retryable reports whether err is a transaction PostgreSQL aborted that
// may simply be run again: a serialization failure or a deadlock.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// ConnLost reports whether err is a connection that failed under a
// statement: dropped by the server (a restart, pg_terminate_backend), or
// cut. A pool may hand out such a connection once after a restart; a
// transaction that failed so before its commit wrote nothing and may run
// again on another.
func ConnLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02"
	}
	return pgconn.SafeToRetry(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, new(net.Error))
}

// Unavailable reports whether err means the database could not do the
// work at all, for a while, rather than refused it: the server not
// answering or going away, not yet accepting connections, out of disk,
// memory or connections, read-only (a standby before a failover
// completes), an I/O error, or aborting the transaction again and again.
// A service answers such a failure 503 with Retry-After.
func Unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources: disk full, too many connections
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, crashed, starting up
			pe.Code == "25006", // read-only transaction
			pe.Code == "58030": // I/O error
			return true
		}
		return Retryable(err)
	}
	return ConnLost(err) || errors.As(err, new(*pgconn.ConnectError)) || errors.Is(err, context.DeadlineExceeded)
}

// connectHint says what to do about a failed connection, by what the
// server answered.
func connectHint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01":
			return "the server refused the password: check the line for this host, database and user in ~/.pgpass (or the file PGPASSFILE names)"
		case "28000":
			return "the server refuses this user from this host: create the role (CREATE ROLE ... LOGIN), or add a line for it to the server's pg_hba.conf"
		case "3D000":
			return "there is no such database on the server: create it (createdb), or fix its name in the DSN"
		case "42501":
			return "the user may not connect to this database: GRANT CONNECT ON DATABASE ... TO it"
		case "53300":
			return "the server has no connection left: lower --db-pool on the services, or raise the server's max_connections"
		}
	}
	return "is the server running and listening at that address?"
}
