// Package postgres is the store.Engine on PostgreSQL, for a board that
// runs as several processes (on one machine or many) in front of one
// database that replicates. Like store/bolt it only stores and reads
// bytes: store.New builds the one Log over it, and [Open] does both.
//
// The layout (store/SPEC.md, "PostgreSQL") is four tables: log_leaves
// (index → leaf), log_hashes (tlog stored-hash index → hash), log_keys
// (key → index) and log_meta, one row holding the size and the binding.
// The schema is versioned (internal/pgdb) and migrated on open.
//
// # One sequencer
//
// Every board process verifies its ballots on its own cores, which is
// where a cast's time goes; only the append is shared. [Engine.Update]
// takes the row lock on log_meta (SELECT … FOR UPDATE) first: that lock is
// the log's one sequencer. Whoever holds it reads the size, so indices are
// assigned in order without gaps, and, in READ COMMITTED, every statement
// after the lock sees each append committed before it. The Log above runs
// a whole group of appends (group commit) inside one Update, deciding
// token uniqueness and the phase checks under the lock, so two processes
// can never both win one token key, nor a ballot land after another
// process's close. The group's writes are kept in memory until the end of
// fn and then sent at once: one round trip for every leaf, hash and key of
// the group and one for the commit, whose fsync (and, with
// synchronous_commit on a standby, the standby's) the group shares.
//
// Reads outside a transaction (Size, Leaves, Hashes, Lookup: checkpoints,
// proofs, exports) take no lock: what lies below the size never changes,
// so any process serves them.
//
// # Failures
//
// A failed Update leaves nothing: the transaction is rolled back, or, if
// the connection died, PostgreSQL discards it. Every error of a group
// reaches its appenders as store.ErrNotStored, which the board answers
// 503 with Retry-After; the pool reconnects by itself once the server is
// back. One case is not either-or: a connection lost during COMMIT, when
// the transaction may have committed. The appenders then hear
// ErrNotStored for ballots that may be in the log; no receipt is given
// for them, and a voter's retry of the same ballot is answered from the
// log (the board's idempotent cast), so nothing is counted twice and
// nothing accepted is lost.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evote/evote/internal/pgdb"
	"github.com/evote/evote/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Part is the name of the log's schema in evote_schema.
const Part = "board-log"

// schema is the log's schema, one step per version (pgdb.Migrate). A
// released step is never edited.
var schema = []string{
	// 1: the four tables of store/SPEC.md.
	`CREATE TABLE log_meta (
		id integer PRIMARY KEY CHECK (id = 1),
		size bigint NOT NULL,
		origin text,
		keyhash bigint
	);
	INSERT INTO log_meta (id, size) VALUES (1, 0);
	CREATE TABLE log_leaves (idx bigint PRIMARY KEY, leaf bytea NOT NULL);
	CREATE TABLE log_hashes (idx bigint PRIMARY KEY, hash bytea NOT NULL);
	CREATE TABLE log_keys (key bytea PRIMARY KEY, idx bigint NOT NULL);`,
}

// Options tune an Engine. The zero value is the default.
type Options struct {
	// MaxConns bounds the connection pool; zero means pgxpool's default
	// (4, or the number of CPUs if more). A board process needs few: one
	// appends at a time (the Log's group commit), the others serve reads.
	MaxConns int
	// Timeout bounds one transaction or read, so that a database that
	// stops answering fails casts (503) rather than holding them; zero
	// means 30s.
	Timeout time.Duration
	// ReadOnly opens the log only to read it (evote board export
	// --store), as a database role with SELECT alone may: the schema is
	// checked, not migrated, Bind only reads the binding, and Update
	// fails. A log not yet created, or whose schema is older or newer than
	// this program's, is refused.
	ReadOnly bool
}

// Engine is a store.Engine on a PostgreSQL database.
type Engine struct {
	pool     *pgxpool.Pool
	timeout  time.Duration
	readOnly bool

	cacheMu   sync.Mutex
	hashCache map[int64]tlog.Hash // stored hashes below the size (cached)
}

var (
	_ store.Engine    = (*Engine)(nil)
	_ store.KeyLister = (*Engine)(nil)
)

// Open opens the log in the database dsn names, with checkpoints signed
// by signer and the default store.Options: OpenEngine, then store.New.
func Open(ctx context.Context, dsn string, signer note.Signer, opts *Options) (store.Log, error) {
	e, err := OpenEngine(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	l, err := store.New(e, signer, nil)
	if err != nil {
		e.Close()
		return nil, err
	}
	return l, nil
}

// OpenEngine connects to the database dsn names and creates or migrates
// the log's tables there.
func OpenEngine(ctx context.Context, dsn string, opts *Options) (*Engine, error) {
	if opts == nil {
		opts = &Options{}
	}
	pool, err := pgdb.Open(ctx, dsn, &pgdb.Options{MaxConns: opts.MaxConns})
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %w", err)
	}
	if opts.ReadOnly {
		err = checkSchema(ctx, pool)
	} else {
		err = pgdb.Migrate(ctx, pool, Part, schema)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store/postgres: %w", err)
	}
	e := &Engine{pool: pool, timeout: opts.Timeout, readOnly: opts.ReadOnly}
	if e.timeout <= 0 {
		e.timeout = 30 * time.Second
	}
	return e, nil
}

// checkSchema is the read-only open's look at the schema: the log's
// tables there, at this program's version.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('evote_schema') IS NOT NULL").Scan(&exists); err != nil {
		return err
	}
	var v int
	if exists {
		err := pool.QueryRow(ctx, "SELECT version FROM evote_schema WHERE part = $1", Part).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			exists = false
		} else if err != nil {
			return err
		}
	}
	switch {
	case !exists:
		return errors.New("the database holds no board log")
	case v != len(schema):
		return fmt.Errorf("the database's board log schema is version %d, this evote's %d: open it read-only with the evote that wrote it", v, len(schema))
	}
	return nil
}

var errReadOnly = errors.New("store/postgres: the log was opened read-only")

func (e *Engine) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.timeout)
}

// Bind implements store.Engine.
func (e *Engine) Bind(ctx context.Context, origin string, keyHash uint32) error {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if e.readOnly {
		var o *string
		var kh *int64
		if err := e.pool.QueryRow(ctx, "SELECT origin, keyhash FROM log_meta WHERE id = 1").Scan(&o, &kh); err != nil {
			return fmt.Errorf("store/postgres: %w", err)
		}
		if o == nil {
			return fmt.Errorf("%w, and holds no log yet", errReadOnly)
		}
		if *o != origin || kh == nil || uint32(*kh) != keyHash {
			return fmt.Errorf("store/postgres: the database holds the log %q (key %08x), not %q (key %08x); open it with its own key", *o, uint32(deref(kh)), origin, keyHash)
		}
		return nil
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var o *string
		var kh *int64
		if err := tx.QueryRow(ctx, "SELECT origin, keyhash FROM log_meta WHERE id = 1 FOR UPDATE").Scan(&o, &kh); err != nil {
			return fmt.Errorf("store/postgres: %w", err)
		}
		if o != nil {
			if *o != origin || kh == nil || uint32(*kh) != keyHash {
				return fmt.Errorf("store/postgres: the database holds the log %q (key %08x), not %q (key %08x); open it with its own key, or give this log a database of its own", *o, uint32(deref(kh)), origin, keyHash)
			}
			return nil
		}
		_, err := tx.Exec(ctx, "UPDATE log_meta SET origin = $1, keyhash = $2 WHERE id = 1", origin, int64(keyHash))
		return err
	})
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// querier is what a pool and a transaction share.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func size(ctx context.Context, q querier) (uint64, error) {
	var n int64
	if err := q.QueryRow(ctx, "SELECT size FROM log_meta WHERE id = 1").Scan(&n); err != nil {
		return 0, fmt.Errorf("store/postgres: reading the size: %w", err)
	}
	return uint64(n), nil
}

func hashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, "SELECT idx, hash FROM log_hashes WHERE idx = ANY($1)", indexes)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: reading tree hashes: %w", err)
	}
	got := make(map[int64][]byte, len(indexes))
	var x int64
	var h []byte
	_, err = pgx.ForEachRow(rows, []any{&x, &h}, func() error {
		got[x] = h
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store/postgres: reading tree hashes: %w", err)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		v := got[x]
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("store/postgres: tree hash %d is missing; the database is damaged, restore it from a backup or an export", x)
		}
		copy(out[i][:], v)
	}
	return out, nil
}

func lookup(ctx context.Context, q querier, key []byte) (uint64, bool, error) {
	var i int64
	err := q.QueryRow(ctx, "SELECT idx FROM log_keys WHERE key = $1", key).Scan(&i)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store/postgres: looking up a key: %w", err)
	}
	return uint64(i), true, nil
}

// Size implements store.EngineReader.
func (e *Engine) Size(ctx context.Context) (uint64, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	n, err := size(ctx, e.pool)
	return n, wrap(err)
}

// Hashes implements store.EngineReader.
func (e *Engine) Hashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	hs, err := hashes(ctx, e.pool, indexes)
	return hs, wrap(err)
}

// Lookup implements store.EngineReader.
func (e *Engine) Lookup(ctx context.Context, key []byte) (uint64, bool, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	i, ok, err := lookup(ctx, e.pool, key)
	return i, ok, wrap(err)
}

// Keys implements store.KeyLister: in key order, 4096 keys a statement.
func (e *Engine) Keys(ctx context.Context, fn func(key []byte, index uint64) error) error {
	after := []byte{} // every key is at least one byte, so above the empty one
	for {
		type kv struct {
			k []byte
			i int64
		}
		var page []kv
		err := func() error {
			ctx, cancel := e.bound(ctx)
			defer cancel()
			rows, err := e.pool.Query(ctx, "SELECT key, idx FROM log_keys WHERE key > $1 ORDER BY key LIMIT 4096", after)
			if err != nil {
				return err
			}
			var k []byte
			var i int64
			_, err = pgx.ForEachRow(rows, []any{&k, &i}, func() error {
				page = append(page, kv{k, i}) // pgx gives each scan its own slice
				return nil
			})
			return err
		}()
		if err != nil {
			return fmt.Errorf("store/postgres: listing keys: %w", err)
		}
		if len(page) > 0 {
			after = append([]byte(nil), page[len(page)-1].k...) // before fn, which owns the keys
		}
		for _, p := range page {
			if err := fn(p.k, uint64(p.i)); err != nil {
				return err
			}
		}
		if len(page) < 4096 {
			return nil
		}
	}
}

// Leaves implements store.Engine. The size is read first: every leaf
// below it is committed and never changes, so the range read after it
// needs no transaction.
func (e *Engine) Leaves(ctx context.Context, start, end uint64, maxBytes int) ([][]byte, error) {
	leaves, err := e.leaves(ctx, start, end, maxBytes)
	return leaves, wrap(err)
}

func (e *Engine) leaves(ctx context.Context, start, end uint64, maxBytes int) ([][]byte, error) {
	ctx, cancel := e.bound(ctx)
	defer cancel()
	n, err := size(ctx, e.pool)
	if err != nil {
		return nil, err
	}
	if start >= n {
		return nil, fmt.Errorf("%w: entry %d; the log holds %d", store.ErrNotFound, start, n)
	}
	end = min(end, n)
	// Fetched in slices of at most 512 rows, so that a small maxBytes
	// does not read a large range off the wire only to drop it.
	var out [][]byte
	total := 0
	for j := start; j < end && (j == start || total < maxBytes); {
		hi := min(end, j+512)
		rows, err := e.pool.Query(ctx, "SELECT idx, leaf FROM log_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx", int64(j), int64(hi))
		if err != nil {
			return nil, fmt.Errorf("store/postgres: reading entries: %w", err)
		}
		for rows.Next() {
			var x int64
			var leaf []byte
			if err := rows.Scan(&x, &leaf); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store/postgres: reading entries: %w", err)
			}
			if uint64(x) != j {
				rows.Close()
				return nil, fmt.Errorf("store/postgres: entry %d is missing; the database is damaged, restore it from a backup or an export", j)
			}
			out = append(out, leaf) // pgx gives each scan its own slice
			total += len(leaf)
			j++
			if total >= maxBytes {
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store/postgres: reading entries: %w", err)
		}
		if j < hi && total < maxBytes {
			return nil, fmt.Errorf("store/postgres: entry %d is missing; the database is damaged, restore it from a backup or an export", j)
		}
	}
	return out, nil
}

// Update implements store.Engine: one transaction holding the sequencer
// (the log_meta row lock), whose writes are sent in one batch at the end.
// A deadlock or serialization failure, which this locking should not
// cause but a server may report, runs fn again.
func (e *Engine) Update(ctx context.Context, fn func(store.Tx) error) error {
	if e.readOnly {
		return errReadOnly
	}
	ctx, cancel := e.bound(ctx)
	defer cancel()
	lost := false
	for attempt := 0; ; attempt++ {
		committing, err := e.update(ctx, fn)
		switch {
		case err == nil || ctx.Err() != nil:
			return wrap(err)
		case pgdb.Retryable(err) && attempt < 4:
			continue
		case !lost && !committing && pgdb.ConnLost(err):
			// After a server restart the pool may hand out a connection
			// the server dropped; a transaction that failed on it before
			// its commit wrote nothing: once more, on a fresh one. (One
			// lost in its commit may have committed: not run again.)
			lost = true
			continue
		}
		return wrap(err)
	}
}

// update runs fn in one transaction; committing reports whether it
// failed in the commit, whose outcome is then unknown.
func (e *Engine) update(ctx context.Context, fn func(store.Tx) error) (committing bool, err error) {
	ptx, err := e.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store/postgres: %w", err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	var n int64
	if err := ptx.QueryRow(ctx, "SELECT size FROM log_meta WHERE id = 1 FOR UPDATE").Scan(&n); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// The database answers, but another append holds the
			// sequencer this long: most likely its commit is waiting for
			// a synchronous standby that is down.
			return false, fmt.Errorf("store/postgres: the log's sequencer was held for %s by another append (a commit waiting for a synchronous standby? see pg_stat_activity and pg_stat_replication): %w", e.timeout, err)
		}
		return false, fmt.Errorf("store/postgres: taking the sequencer: %w", err)
	}
	t := &tx{e: e, tx: ptx, base: uint64(n), size: uint64(n), keys: map[string]int64{}, seen: map[string]lookupResult{}}
	t.firstHash = tlog.StoredHashIndex(0, n)
	err = fn(t)
	t.done = true
	if err != nil {
		return false, err
	}
	if err := t.flush(ctx); err != nil {
		return false, err
	}
	// The commit is never cancelled, not even by the engine's Timeout.
	// With a synchronous standby, COMMIT returns once the standby has the
	// group; until then the transaction is invisible to every other
	// process and the sequencer stays held. Cancelling that wait (pgx
	// sends a cancel request when ctx ends) would leave the group
	// committed on the primary alone, visible to every front, which would
	// sign checkpoints over ballots a failover then loses: a signed
	// history the new primary contradicts. So a cast waits for the
	// standby, however long; the board's in-flight bound refuses the
	// casts beyond it at once (503), and a deployment that must go on
	// while one standby is down names two (ANY 1 (a, b)).
	if err := ptx.Commit(context.WithoutCancel(ctx)); err != nil {
		return true, fmt.Errorf("store/postgres: committing: %w", err)
	}
	if len(t.hashes) > 0 { // committed: below the size from now on
		xs := make([]int64, len(t.hashes))
		for i := range xs {
			xs[i] = t.firstHash + int64(i)
		}
		e.cache(xs, t.hashes)
	}
	return false, nil
}

// wrap marks a failure of the database as a whole, rather than of this
// request, with store.ErrUnavailable (503, retry in a few seconds). A
// full disk is left to store.ErrNotStored's answer, which names it.
func wrap(err error) error {
	var pe *pgconn.PgError
	if err == nil || errors.As(err, &pe) && pe.Code == "53100" || !pgdb.Unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// Close implements store.Engine.
func (e *Engine) Close() error {
	e.pool.Close()
	return nil
}

// maxCached bounds the engine's cache of stored hashes: 32 bytes and a
// map entry each, a few MiB.
const maxCached = 1 << 16

// cached returns stored hash x if the engine has read it under the
// sequencer before. A stored hash below the size never changes, and the
// hashes each append needs (the left siblings on the tree's right edge)
// are the same for many appends in a row: read once, not once an append,
// under the lock every process waits for.
func (e *Engine) cached(x int64) (tlog.Hash, bool) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	h, ok := e.hashCache[x]
	return h, ok
}

func (e *Engine) cache(xs []int64, hs []tlog.Hash) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	if e.hashCache == nil || len(e.hashCache)+len(xs) > maxCached {
		e.hashCache = make(map[int64]tlog.Hash, len(xs))
	}
	for i, x := range xs {
		e.hashCache[x] = hs[i]
	}
}

// tx is a transaction's view: the database as of the sequencer's lock,
// under the writes fn made so far, which are kept here until flush.
type tx struct {
	e    *Engine
	tx   pgx.Tx
	done bool

	base, size uint64 // the size at the lock, and with the appends so far
	leaves     [][]byte
	firstHash  int64 // the stored-hash index of the first new hash
	hashes     []tlog.Hash
	keys       map[string]int64 // keys set so far, to their index
	// seen caches lookups of keys not set here: under the sequencer no
	// other process writes, so a key read once keeps its value until this
	// transaction sets it. (Every cast of a group checks the same phase
	// keys: read once per group, not once per cast.)
	seen map[string]lookupResult
}

type lookupResult struct {
	index uint64
	ok    bool
}

var errTxDone = errors.New("store/postgres: the transaction was used after its Update returned")

func (t *tx) Size(ctx context.Context) (uint64, error) {
	if t.done {
		return 0, errTxDone
	}
	return t.size, nil
}

func (t *tx) Hashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if t.done {
		return nil, errTxDone
	}
	out := make([]tlog.Hash, len(indexes))
	var old []int64
	for _, x := range indexes {
		if x < t.firstHash {
			if _, ok := t.e.cached(x); !ok {
				old = append(old, x)
			}
		}
	}
	if len(old) > 0 {
		stored, err := hashes(ctx, t.tx, old)
		if err != nil {
			return nil, err
		}
		t.e.cache(old, stored)
	}
	for i, x := range indexes {
		switch {
		case x < t.firstHash:
			h, ok := t.e.cached(x)
			if !ok { // evicted since: read it again
				hs, err := hashes(ctx, t.tx, []int64{x})
				if err != nil {
					return nil, err
				}
				h = hs[0]
			}
			out[i] = h
		case x-t.firstHash < int64(len(t.hashes)):
			out[i] = t.hashes[x-t.firstHash]
		default:
			return nil, fmt.Errorf("store/postgres: tree hash %d is not stored yet", x)
		}
	}
	return out, nil
}

func (t *tx) Lookup(ctx context.Context, key []byte) (uint64, bool, error) {
	if t.done {
		return 0, false, errTxDone
	}
	if i, ok := t.keys[string(key)]; ok {
		return uint64(i), true, nil
	}
	if r, ok := t.seen[string(key)]; ok {
		return r.index, r.ok, nil
	}
	i, ok, err := lookup(ctx, t.tx, key)
	if err != nil {
		return 0, false, err
	}
	t.seen[string(key)] = lookupResult{i, ok}
	return i, ok, nil
}

// Prefetch implements store.Prefetcher: the group's keys in one query,
// kept in seen (those absent as absent).
func (t *tx) Prefetch(ctx context.Context, keys [][]byte) error {
	if t.done {
		return errTxDone
	}
	var want [][]byte
	for _, k := range keys {
		if _, ok := t.seen[string(k)]; !ok {
			want = append(want, k)
			t.seen[string(k)] = lookupResult{} // absent unless found
		}
	}
	if len(want) == 0 {
		return nil
	}
	rows, err := t.tx.Query(ctx, "SELECT key, idx FROM log_keys WHERE key = ANY($1)", want)
	if err != nil {
		return fmt.Errorf("store/postgres: looking up keys: %w", err)
	}
	var k []byte
	var i int64
	_, err = pgx.ForEachRow(rows, []any{&k, &i}, func() error {
		t.seen[string(k)] = lookupResult{uint64(i), true}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store/postgres: looking up keys: %w", err)
	}
	return nil
}

func (t *tx) Append(ctx context.Context, leaf []byte, hs []tlog.Hash, keys [][]byte) error {
	if t.done {
		return errTxDone
	}
	if want := tlog.StoredHashIndex(0, int64(t.size)) - t.firstHash; want != int64(len(t.hashes)) {
		return fmt.Errorf("store/postgres: entry %d's hashes start at %d, not %d", t.size, want+t.firstHash, int64(len(t.hashes))+t.firstHash)
	}
	t.leaves = append(t.leaves, append([]byte(nil), leaf...))
	t.hashes = append(t.hashes, hs...)
	for _, k := range keys {
		t.keys[string(k)] = int64(t.size)
	}
	t.size++
	return nil
}

// flush sends the transaction's writes in one round trip: the leaves and
// hashes as arrays unnested into their tables, the keys set or moved (a
// key set twice in the group is sent once, at its last index), and the
// new size.
func (t *tx) flush(ctx context.Context) error {
	if len(t.leaves) == 0 {
		return nil
	}
	idx := make([]int64, len(t.leaves))
	for i := range idx {
		idx[i] = int64(t.base) + int64(i)
	}
	hidx := make([]int64, len(t.hashes))
	hval := make([][]byte, len(t.hashes))
	for i := range t.hashes {
		hidx[i] = t.firstHash + int64(i)
		hval[i] = t.hashes[i][:]
	}
	kkey := make([][]byte, 0, len(t.keys))
	kidx := make([]int64, 0, len(t.keys))
	for k, i := range t.keys {
		kkey = append(kkey, []byte(k))
		kidx = append(kidx, i)
	}
	b := &pgx.Batch{}
	b.Queue("INSERT INTO log_leaves (idx, leaf) SELECT * FROM unnest($1::bigint[], $2::bytea[])", idx, t.leaves)
	b.Queue("INSERT INTO log_hashes (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])", hidx, hval)
	if len(kkey) > 0 {
		b.Queue(`INSERT INTO log_keys (key, idx) SELECT * FROM unnest($1::bytea[], $2::bigint[])
			ON CONFLICT (key) DO UPDATE SET idx = EXCLUDED.idx`, kkey, kidx)
	}
	b.Queue("UPDATE log_meta SET size = $1 WHERE id = 1", int64(t.size))
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store/postgres: writing %d entries: %w", len(t.leaves), err)
	}
	return nil
}
