// Package postgres is the issuer's roll on PostgreSQL: an issuer.Roll that
// several issuer processes share, each with its own connection pool, so
// that one token per voter and the back-off of wrong codes hold across
// them as they hold inside one process on issuer/bolt.
//
// # Layout
//
// Two tables, prefixed roll_ so that the board's log (prefixed log_) may
// share the database; their version is the "issuer-roll" row of
// evote_schema (internal/pgdb), and Open migrates them.
//
//   - roll_voters holds one row per voter, keyed by the voter ID: the
//     entry as issuer/bolt serializes it (JSON, in a json column, byte for
//     byte), and an issued flag the Update that issues sets. It also holds
//     a few hundred decoy rows (decoy set), whose IDs start with a control
//     character no voter ID may hold (issuer.CheckVoterID); see Update.
//   - roll_meta is one row: the number of eligible voters, the purge (when,
//     and the count of tokens issued then), the election binding and the
//     count of contacts noted (the CLI's, which beside a bbolt roll are
//     files), and the key that spreads unknown voter IDs over the decoys.
//
// # One decision, one transaction
//
// Every method is one transaction at PostgreSQL's default READ COMMITTED
// level; what makes each decision atomic across processes is a lock the
// transaction holds until it commits, not the isolation level:
//
//   - Update locks the voter's row (SELECT ... FOR UPDATE), runs the
//     issuer's change on it in Go and writes it back: two processes
//     deciding for one voter (a wrong code counted, a token issued) take
//     turns on the row, and the second reads what the first wrote. So the
//     one blinded message signed per voter, and the FreeFailures+1 codes
//     tested from one address before it must wait, hold across processes.
//   - The count of issued tokens is no counter: Counts counts the issued
//     rows (a partial index holds just them), so issuances, each on its own
//     voter's row, never queue on one hot row; Purge records the count.
//   - Add refuses once a token was issued (issuer.ErrIssuanceStarted), and
//     decides it in its own transaction: it locks the meta row FOR UPDATE
//     and only then, in a new statement and so a new snapshot, looks for an
//     issued row. An Update that makes an entry issued first takes the meta
//     row FOR KEY SHARE, which conflicts with FOR UPDATE alone: an issuance
//     that committed before Add took the lock is seen by Add's look; one
//     still running holds its share lock, and Add waits for its commit and
//     then sees it; one that comes after waits for Add to commit, and issues
//     after the voters it added are on the roll. Issuances share the lock
//     among themselves, and wrong codes (no issuance) never take it.
//   - Purge locks roll_voters whole (ACCESS EXCLUSIVE: it waits for every
//     transaction on the table and holds off new ones), then the meta row;
//     it counts, empties the table and records the counts in one
//     transaction.
//
// Every transaction takes its locks in one order, roll_voters (the table,
// then rows) before roll_meta, so two of them never wait for each other in
// a cycle. A deadlock or serialization failure PostgreSQL reports anyway
// is retried (pgdb.Retryable), as is, once, a transaction whose connection
// was lost before it was committed (the server rolled it back).
//
// # Purge
//
// Purge empties roll_voters with TRUNCATE inside its transaction: at commit
// the table's files and its indexes' (which hold every voter ID too) are
// replaced by empty ones and the old ones dropped, as VACUUM FULL after a
// DELETE would drop them, but in the same transaction as the counts, with
// no window in which a purged roll still has its rows in the table files.
// The rows remain in what PostgreSQL wrote besides those files: the
// write-ahead log (until it is recycled; an archive keeps it), every
// replica's copy of it, and every backup taken before the purge. The
// operator must let those age out or delete them: PostgreSQL's own files
// are clean, the deployment's copies are the operator's.
//
// # Storage failures
//
// A server that does not answer (connection refused, lost, or the server
// shutting down or starting up, a full disk, a standby that became
// read-only) comes back as an error that wraps issuer.ErrRollUnavailable,
// which the issuer's HTTP API answers 503 with Retry-After. The pool
// reconnects by itself once the server is back.
package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evote/evote/internal/pgdb"
	"github.com/evote/evote/issuer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Part is the roll's name in evote_schema.
const Part = "issuer-roll"

// schema is the roll's migrations: schema[i] takes it from version i to
// i+1. A released step is never edited, only followed by another.
var schema = []string{
	// 1: the voters and the meta row, with the key that spreads unknown IDs
	// over the decoys: 244 random bits from the server's strong source. The
	// voters' pages are left a fifth empty (fillfactor) for the next
	// version of their rows: most updates change the entry alone, no
	// indexed column, and one that finds room on its page writes no index
	// (a HOT update).
	`CREATE TABLE roll_meta (
		one        boolean PRIMARY KEY DEFAULT true CHECK (one),
		eligible   bigint NOT NULL DEFAULT 0,
		purged_at  timestamptz,
		issued     bigint,
		binding    text,
		contacts   integer,
		decoy_key  bytea NOT NULL
	);
	INSERT INTO roll_meta (decoy_key) VALUES (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
	CREATE TABLE roll_voters (
		id      text PRIMARY KEY,
		entry   json NOT NULL,
		issued  boolean NOT NULL DEFAULT false,
		decoy   boolean NOT NULL DEFAULT false
	) WITH (fillfactor = 80);
	CREATE INDEX roll_voters_issued ON roll_voters (id) WHERE issued;`,
}

// Options tune a roll. The zero value is the default.
type Options struct {
	// MaxConns bounds the process's connections to the database; zero
	// means pgxpool's default (4, or the number of CPUs if more).
	MaxConns int
}

// Roll is the voter roll in a PostgreSQL database. It is safe for
// concurrent use, and any number of processes may open one database's roll
// at once.
type Roll struct {
	pool     *pgxpool.Pool
	decoyKey []byte
	decoy    issuer.CodeHash // the decoys' code hash: of a random code

	serving *pgx.Conn // holds the serving lock (Serve), nil if none
}

// servingLock is the advisory lock every serving issuer holds shared and
// Purge takes exclusive ("roll" in ASCII).
const servingLock = 0x726f6c6c

// ErrServing means Purge found issuer processes serving the roll.
var ErrServing = errors.New("issuer: issuer processes are serving this roll; stop every evote issuer serve on it first (nothing was purged)")

// Serve marks this process as serving the roll until Close: it holds the
// serving lock shared, on a connection of its own, so that Purge, from
// any process, refuses while an issuer serves (a bbolt roll's file lock
// does the same). The lock ends with the connection, so a killed issuer
// holds nothing.
func (r *Roll) Serve(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, r.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("issuer: the roll's database: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", int64(servingLock)); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("issuer: the roll's database: %w", err)
	}
	r.serving = conn
	return nil
}

// decoys is the number of decoy rows; see Update.
const decoys = 256

// decoyPrefix starts every decoy's ID: a control character, which no voter
// ID may hold, so no voter is ever taken for a decoy.
const decoyPrefix = "\x01decoy-"

// Open opens the roll in the database dsn names, creating or migrating its
// tables. A database whose roll schema is newer than this program's is
// refused with pgdb.ErrNewerSchema, and nothing is written to it.
func Open(ctx context.Context, dsn string, opts *Options) (*Roll, error) {
	var po pgdb.Options
	if opts != nil {
		po.MaxConns = opts.MaxConns
	}
	pool, err := pgdb.Open(ctx, dsn, &po)
	if err != nil {
		return nil, fmt.Errorf("issuer: opening the roll: %w", err)
	}
	r := &Roll{pool: pool}
	if err := r.open(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("issuer: opening the roll in %s: %w", pgdb.Redact(dsn), err)
	}
	return r, nil
}

func (r *Roll) open(ctx context.Context) error {
	if err := pgdb.Migrate(ctx, r.pool, Part, schema); err != nil {
		return err
	}
	code, err := issuer.GenerateCode()
	if err != nil {
		return err
	}
	if r.decoy, err = issuer.HashCode(code); err != nil {
		return err
	}
	// The decoys, for a roll not purged; ON CONFLICT leaves those another
	// process made. The table lock (which Add and Update take too) comes
	// before the look at the meta row, as everywhere: a purge either
	// committed before it, and is seen, or waits for this to commit.
	return r.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE roll_voters IN ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		var purged bool
		if err := tx.QueryRow(ctx, "SELECT decoy_key, purged_at IS NOT NULL FROM roll_meta").Scan(&r.decoyKey, &purged); err != nil {
			return err
		}
		if purged {
			return nil
		}
		ids := make([]string, decoys)
		entries := make([]string, decoys)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s%03d", decoyPrefix, i)
			b, err := json.Marshal(issuer.RollEntry{VoterID: ids[i], Code: r.decoy})
			if err != nil {
				return err
			}
			entries[i] = string(b)
		}
		_, err := tx.Exec(ctx, `INSERT INTO roll_voters (id, entry, decoy)
			SELECT id, entry, true FROM unnest($1::text[], $2::json[]) AS d(id, entry)
			ON CONFLICT (id) DO NOTHING`, ids, entries)
		return err
	})
}

// Close releases the roll's connections.
func (r *Roll) Close() error {
	if r.serving != nil {
		r.serving.Close(context.Background())
	}
	r.pool.Close()
	return nil
}

// refusal is an answer a transaction gives that is not the database's:
// the transaction is rolled back and the error returned as it is, never
// retried.
type refusal struct{ error }

// maxRetries bounds the retries of a transaction PostgreSQL aborted.
const maxRetries = 10

// tx runs fn in a transaction and commits it, retrying as the package
// doc says; it returns fn's refusal, or the database's error (wrapping
// issuer.ErrRollUnavailable if the server could not be reached). fn may
// run more than once.
func (r *Roll) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return retry(ctx, func() (bool, error) {
		tx, err := r.pool.Begin(ctx)
		if err != nil {
			return false, err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if err := fn(tx); err != nil {
			return false, err
		}
		if err := tx.Commit(ctx); err != nil {
			return true, err
		}
		return false, nil
	})
}

// stmt runs fn, one statement (its own transaction), on the pool,
// retrying as tx does, also after a connection lost as the statement
// committed: so fn must be idempotent (a read, or a write that a second
// time changes nothing).
func (r *Roll) stmt(ctx context.Context, fn func(q *pgxpool.Pool) error) error {
	return retry(ctx, func() (bool, error) { return false, fn(r.pool) })
}

// retry runs try until it succeeds, refuses, or fails for good; try
// reports whether its failure was its commit's, whose outcome is unknown.
func retry(ctx context.Context, try func() (committing bool, err error)) error {
	lost := false
	for n := 0; ; n++ {
		committing, err := try()
		var rf refusal
		switch {
		case err == nil:
			return nil
		case errors.As(err, &rf):
			return rf.error
		case ctx.Err() != nil:
			return err
		case pgdb.Retryable(err) && n < maxRetries:
			// Deadlocks are rare (the locks have one order): wait a little,
			// at random, so that the two do not meet again.
			time.Sleep(time.Duration(1+rand.IntN(2<<min(n, 5))) * time.Millisecond)
			continue
		case !lost && !committing && pgdb.ConnLost(err):
			// The pool handed out a connection the server had dropped (it
			// restarted): nothing was committed; once more, on another.
			lost = true
			continue
		}
		if pgdb.Unavailable(err) {
			return fmt.Errorf("%w: %w", issuer.ErrRollUnavailable, err)
		}
		return fmt.Errorf("issuer: the roll's database: %w", err)
	}
}

func decode(id string, raw []byte) (issuer.RollEntry, error) {
	var e issuer.RollEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		// Not the ID: errors may be logged, and voter IDs are not.
		return issuer.RollEntry{}, fmt.Errorf("issuer: a roll entry is corrupt: %w", err)
	}
	if e.VoterID != id {
		return issuer.RollEntry{}, errors.New("issuer: a roll entry holds another voter ID than its row's")
	}
	return e, nil
}

// Add implements [issuer.Roll], in one transaction: all or none.
func (r *Roll) Add(ctx context.Context, recs []issuer.RollEntry) error {
	ids := make([]string, len(recs))
	entries := make([]string, len(recs))
	issued := make([]bool, len(recs))
	batch := make(map[string]bool, len(recs))
	var invalid error
	for i := range recs {
		id := recs[i].VoterID
		if err := issuer.CheckVoterID(id); err != nil {
			invalid = err
			break
		}
		if batch[id] {
			invalid = fmt.Errorf("%w: %q", issuer.ErrDuplicateVoter, id)
			break
		}
		batch[id] = true
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return err
		}
		ids[i], entries[i], issued[i] = id, string(b), recs[i].Issued()
	}
	return r.tx(ctx, func(tx pgx.Tx) error {
		// The table lock first (see the package doc): the order every
		// transaction takes its locks in. ROW EXCLUSIVE is what the insert
		// takes anyway; it holds off only Purge.
		if _, err := tx.Exec(ctx, "LOCK TABLE roll_voters IN ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		var purged bool
		if err := tx.QueryRow(ctx, "SELECT purged_at IS NOT NULL FROM roll_meta FOR UPDATE").Scan(&purged); err != nil {
			return err
		}
		if purged {
			return refusal{issuer.ErrPurged}
		}
		// A new statement, so a snapshot taken after the lock: it sees
		// every issuance that committed before Add got it, and no issuance
		// commits while Add holds it (the package doc).
		var started bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM roll_voters WHERE issued)").Scan(&started); err != nil {
			return err
		}
		if started {
			return refusal{issuer.ErrIssuanceStarted}
		}
		if invalid != nil {
			return refusal{invalid}
		}
		var dup string
		err := tx.QueryRow(ctx, "SELECT id FROM roll_voters WHERE id = ANY($1) AND NOT decoy LIMIT 1", ids).Scan(&dup)
		switch {
		case err == nil:
			return refusal{fmt.Errorf("%w: %q", issuer.ErrDuplicateVoter, dup)}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		const chunk = 5000
		for lo := 0; lo < len(ids); lo += chunk {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			hi := min(lo+chunk, len(ids))
			if _, err := tx.Exec(ctx, `INSERT INTO roll_voters (id, entry, issued)
				SELECT * FROM unnest($1::text[], $2::json[], $3::boolean[])`, ids[lo:hi], entries[lo:hi], issued[lo:hi]); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, "UPDATE roll_meta SET eligible = eligible + $1", len(ids))
		return err
	})
}

// storable reports whether PostgreSQL can hold id as text: UTF-8 without
// NUL. An ID it cannot is on no roll (issuer.CheckVoterID refuses it
// too), and is answered as unknown without a query, which would fail
// with the server's encoding error instead.
func storable(id string) bool { return utf8.ValidString(id) && strings.IndexByte(id, 0) < 0 }

// Get implements [issuer.Roll].
func (r *Roll) Get(ctx context.Context, voterID string) (issuer.RollEntry, error) {
	if !storable(voterID) {
		return issuer.RollEntry{}, issuer.ErrUnknownVoter
	}
	var rec issuer.RollEntry
	err := r.stmt(ctx, func(q *pgxpool.Pool) error {
		var purged bool
		var raw []byte
		if err := q.QueryRow(ctx, `SELECT m.purged_at IS NOT NULL, v.entry FROM roll_meta m
			LEFT JOIN roll_voters v ON v.id = $1 AND NOT v.decoy`, voterID).Scan(&purged, &raw); err != nil {
			return err
		}
		switch {
		case purged:
			return refusal{issuer.ErrPurged}
		case raw == nil:
			return refusal{issuer.ErrUnknownVoter}
		}
		var err error
		rec, err = decode(voterID, raw)
		return err
	})
	return rec, err
}

// decoyID is the decoy row an unknown voter ID's Update writes: one of
// [decoys], chosen by a keyed hash of the ID.
//
// Why a decoy, and why this many: an Update for an ID not on the roll must
// cost what one for a voter on it costs (a row locked, read, written and
// committed), or the time a wrong code takes tells a stranger who is on
// the roll; issuer/bolt measured 14 ms against 2 ms before its decoy. One
// decoy row for every unknown ID would be a signal of its own under load:
// all the unknown IDs' requests would queue on that one row, while each
// voter's queue only on their own, so a stranger sending requests for
// unknown IDs at once, and timing one more, would see it wait if that ID
// is unknown too. Spread over 256 rows, unknown IDs queue as rarely as
// voters do unless a stranger sends hundreds at once; the same ID always
// lands on the same row, as a voter's requests on theirs; and the rows are
// few, so no stream of made-up IDs grows the table. The hash is keyed by a
// secret of the database (roll_meta), the same in every process, so that
// no stranger can pick IDs that share a decoy with the one they time.
func (r *Roll) decoyID(voterID string) string {
	m := hmac.New(sha256.New, r.decoyKey)
	m.Write([]byte("evote/issuer-roll/decoy/v1\x00"))
	m.Write([]byte(voterID))
	return fmt.Sprintf("%s%03d", decoyPrefix, binary.BigEndian.Uint64(m.Sum(nil))%decoys)
}

// Update implements [issuer.Roll]: the voter's row is locked, changed and
// written in one transaction (the package doc says why that holds across
// processes). For an ID not on the roll, the same one statement that
// looks for the voter's row finds and locks the ID's decoy row instead
// (decoyID says why), which takes the change and is written and committed
// as a voter's row is: the work, statements and round trips are the same.
func (r *Roll) Update(ctx context.Context, voterID string, change func(*issuer.RollEntry) error) (issuer.RollEntry, error) {
	if !storable(voterID) {
		return issuer.RollEntry{}, issuer.ErrUnknownVoter
	}
	var rec issuer.RollEntry
	var outcome error
	decoy := r.decoyID(voterID)
	err := r.tx(ctx, func(tx pgx.Tx) error {
		rec, outcome = issuer.RollEntry{}, nil
		var id string
		var raw []byte
		var isDecoy bool
		// LIMIT with FOR UPDATE locks only the row returned: the voter's if
		// there is one (decoy sorts false first), else the decoy.
		err := tx.QueryRow(ctx, `SELECT id, entry, decoy FROM roll_voters WHERE id = $1 OR id = $2
			ORDER BY decoy LIMIT 1 FOR UPDATE`, voterID, decoy).Scan(&id, &raw, &isDecoy)
		if errors.Is(err, pgx.ErrNoRows) {
			outcome = issuer.ErrUnknownVoter
			return r.noRow(ctx, tx, decoy)
		}
		if err != nil {
			return err
		}
		cur, err := decode(id, raw)
		if err != nil {
			return err
		}
		if isDecoy {
			outcome = issuer.ErrUnknownVoter
			// The decoy takes the change an attempt makes, never a token;
			// a change that fails on it is still written, as is.
			if next, _, err := issuer.ApplyUpdate(&cur, change); err == nil && !next.Issued() {
				cur = next
			}
			if cur.Failures > 1<<20 {
				cur.Failures, cur.Backoffs = 0, nil
			}
			return put(ctx, tx, &cur)
		}
		next, issued, err := issuer.ApplyUpdate(&cur, change)
		if err != nil {
			return refusal{err}
		}
		if issued > 0 {
			// The first token must not slip past an Add deciding that none
			// was issued: see the package doc.
			if _, err := tx.Exec(ctx, "SELECT FROM roll_meta FOR KEY SHARE"); err != nil {
				return err
			}
		}
		rec = next
		return put(ctx, tx, &next)
	})
	if err != nil {
		return issuer.RollEntry{}, err
	}
	if outcome != nil {
		return issuer.RollEntry{}, outcome
	}
	return rec, nil
}

// noRow is an Update that found neither the voter's row nor its decoy:
// the roll was purged (issuer.ErrPurged), or the decoy is missing (deleted
// by hand), which it puts back for the next time.
func (r *Roll) noRow(ctx context.Context, tx pgx.Tx, decoy string) error {
	var purged bool
	if err := tx.QueryRow(ctx, "SELECT purged_at IS NOT NULL FROM roll_meta").Scan(&purged); err != nil {
		return err
	}
	if purged {
		return refusal{issuer.ErrPurged}
	}
	b, err := json.Marshal(issuer.RollEntry{VoterID: decoy, Code: r.decoy})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "INSERT INTO roll_voters (id, entry, decoy) VALUES ($1, $2, true) ON CONFLICT (id) DO NOTHING", decoy, string(b))
	return err
}

// put writes an entry to its row: the same statement for a voter and a
// decoy.
func put(ctx context.Context, tx pgx.Tx, e *issuer.RollEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "UPDATE roll_voters SET entry = $2, issued = $3 WHERE id = $1", e.VoterID, string(b), e.Issued())
	return err
}

// Counts implements [issuer.Roll]: the tokens issued are counted from the
// issued rows (the partial index roll_voters_issued), until a purge
// records their number.
func (r *Roll) Counts(ctx context.Context) (issuer.Counts, error) {
	var c issuer.Counts
	err := r.stmt(ctx, func(q *pgxpool.Pool) error {
		var eligible, issued int64
		err := q.QueryRow(ctx, `SELECT eligible, purged_at IS NOT NULL,
			CASE WHEN purged_at IS NULL THEN (SELECT count(*) FROM roll_voters WHERE issued) ELSE issued END
			FROM roll_meta`).Scan(&eligible, &c.Purged, &issued)
		c.Eligible, c.Issued = int(eligible), int(issued)
		return err
	})
	return c, err
}

// Purge implements [issuer.Roll]; the package doc says what is left of
// the rows, and where.
func (r *Roll) Purge(ctx context.Context) (issuer.Counts, error) {
	var c issuer.Counts
	err := r.tx(ctx, func(tx pgx.Tx) error {
		c = issuer.Counts{}
		var free bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", int64(servingLock)).Scan(&free); err != nil {
			return err
		}
		if !free {
			return refusal{ErrServing}
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE roll_voters IN ACCESS EXCLUSIVE MODE"); err != nil {
			return err
		}
		var eligible int64
		var issued *int64
		if err := tx.QueryRow(ctx, "SELECT eligible, issued, purged_at IS NOT NULL FROM roll_meta FOR UPDATE").Scan(&eligible, &issued, &c.Purged); err != nil {
			return err
		}
		c.Eligible = int(eligible)
		if c.Purged {
			if issued != nil {
				c.Issued = int(*issued)
			}
			return nil
		}
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM roll_voters WHERE issued").Scan(&n); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "TRUNCATE roll_voters"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE roll_meta SET issued = $1, purged_at = now()", n); err != nil {
			return err
		}
		c.Issued, c.Purged = int(n), true
		return nil
	})
	if err != nil {
		return issuer.Counts{}, err
	}
	return c, nil
}

// Bind ties the roll to what it serves (the CLI writes the election and
// the issuing key): it stores binding if the roll has none, and returns
// the binding stored, which the caller compares with its own. A purged
// roll keeps its binding, and answers Bind still: its counts are that
// election's, and no other's. Bind decides in one statement, so two
// processes binding at once store one binding and both get it.
func (r *Roll) Bind(ctx context.Context, binding string) (stored string, err error) {
	if binding == "" {
		return "", errors.New("issuer: the roll's binding is empty")
	}
	// One statement, whose retry after a lost commit stores nothing new.
	err = r.stmt(ctx, func(q *pgxpool.Pool) error {
		return q.QueryRow(ctx, "UPDATE roll_meta SET binding = COALESCE(binding, $1) RETURNING binding", binding).Scan(&stored)
	})
	return stored, err
}

// NoteContacts records how many voters' contacts the roll's import sealed
// in, so that a later start with a second factor can tell a roll imported
// without them. After a purge it returns issuer.ErrPurged.
func (r *Roll) NoteContacts(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("issuer: %d contacts noted; the count cannot be negative", n)
	}
	return r.stmt(ctx, func(q *pgxpool.Pool) error {
		tag, err := q.Exec(ctx, "UPDATE roll_meta SET contacts = $1 WHERE purged_at IS NULL", n)
		if err == nil && tag.RowsAffected() == 0 {
			return refusal{issuer.ErrPurged}
		}
		return err
	})
}

// ContactsNoted returns what NoteContacts recorded, or -1 if nothing was.
// After a purge it returns issuer.ErrPurged.
func (r *Roll) ContactsNoted(ctx context.Context) (int, error) {
	n := -1
	err := r.stmt(ctx, func(q *pgxpool.Pool) error {
		var purged bool
		var noted *int32
		if err := q.QueryRow(ctx, "SELECT contacts, purged_at IS NOT NULL FROM roll_meta").Scan(&noted, &purged); err != nil {
			return err
		}
		if purged {
			return refusal{issuer.ErrPurged}
		}
		if noted != nil {
			n = int(*noted)
		}
		return nil
	})
	return n, err
}

var _ issuer.Roll = (*Roll)(nil)
