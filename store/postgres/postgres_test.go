package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/internal/pgdb"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/postgres"
	"github.com/evote/evote/store/storetest"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var ctx = context.Background()

// newEngine makes the engine of a new store in a database of its own,
// for the conformance suite; reopen connects to it again, as a restarted
// board process would.
func newEngine(t testing.TB) (store.Engine, func() store.Engine) {
	dsn := pgtest.NewDatabase(t)
	open := func() store.Engine {
		e, err := postgres.OpenEngine(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return open(), open
}

// TestEngineConformance runs the store.Engine conformance suite on
// PostgreSQL, two Logs on one database (two board processes) included.
func TestEngineConformance(t *testing.T) { storetest.Run(t, newEngine) }

func signer(t testing.TB, name string) note.Signer {
	skey, _, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWrongKey: a database holding one log refuses to be opened for
// another key, and says what to do.
func TestWrongKey(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	l, err := postgres.Open(ctx, dsn, signer(t, "evote.example/a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = postgres.Open(ctx, dsn, signer(t, "evote.example/b"), nil)
	if err == nil || !strings.Contains(err.Error(), "open it with its own key") {
		t.Fatalf("open with another key: %v", err)
	}
}

// TestSchema: opening migrates once however many open; a database whose
// schema a newer evote wrote is refused, and nothing is written to it.
func TestSchema(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	for range 2 {
		e, err := postgres.OpenEngine(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT version FROM evote_schema WHERE part = $1", postgres.Part).Scan(&v); err != nil || v != 1 {
		t.Fatalf("schema version %d, %v; want 1", v, err)
	}
	if _, err := conn.Exec(ctx, "UPDATE evote_schema SET version = 99 WHERE part = $1", postgres.Part); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.OpenEngine(ctx, dsn, nil)
	if !errors.Is(err, pgdb.ErrNewerSchema) || !strings.Contains(err.Error(), "run the newer evote") {
		t.Fatalf("open of a newer schema: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT version FROM evote_schema WHERE part = $1", postgres.Part).Scan(&v); err != nil || v != 99 {
		t.Fatalf("after the refused open the version is %d, %v; want 99 untouched", v, err)
	}
}

// TestBadDSN: a DSN that does not parse is refused without echoing the
// password it may hold.
func TestBadDSN(t *testing.T) {
	_, err := postgres.OpenEngine(ctx, "postgres://u:s3cret@127.0.0.1:1/db?sslmode=bogus", nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad DSN: %v", err)
	}
}

// TestTwoEnginesOneDatabase: two engines, each with its own connection
// pool, as two board processes have, append at once under one sequencer:
// every index is assigned once, in order, a key is won once, and both
// read the same tree and sign the same checkpoint.
func TestTwoEnginesOneDatabase(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := signer(t, "evote.example/two")
	var logs []store.Log
	for range 2 {
		l, err := postgres.Open(ctx, dsn, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		logs = append(logs, l)
	}
	if _, err := logs[0].Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("m"))}); err != nil {
		t.Fatal(err)
	}
	const writers = 200
	var mu sync.Mutex
	won, dup := 0, 0
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		l := logs[w%2]
		wg.Go(func() {
			i, err := l.Append(ctx, store.Append{Leaf: storetest.Sized(w, 100), Key: fmt.Append(nil, "token/", w)})
			if err != nil {
				t.Error(err)
				return
			}
			_, err = l.Append(ctx, store.Append{Leaf: storetest.Sized(writers+w, 100), Key: []byte("token/same")})
			mu.Lock()
			defer mu.Unlock()
			if seen[i] {
				t.Errorf("index %d assigned twice", i)
			}
			seen[i] = true
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrDuplicate):
				dup++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 || dup != writers-1 {
		t.Fatalf("one key raced through two engines: %d won, %d duplicates", won, dup)
	}
	n0, _ := logs[0].Size()
	n1, _ := logs[1].Size()
	if n0 != n1 || n0 != 1+writers+1 {
		t.Fatalf("sizes %d and %d, want %d", n0, n1, 1+writers+1)
	}
	a, err := logs[0].Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := logs[1].CheckpointAt(a.Size)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Signed, b.Signed) {
		t.Fatal("two engines on one database sign different checkpoints of one size")
	}
	// Every leaf is where the tree says: the hashes one engine stored
	// prove the leaves the other reads.
	for i := range n0 {
		leaf, err := logs[1].Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		p, err := logs[0].ProveInclusion(i, n0)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, int64(n0), a.Hash, int64(i), tlog.RecordHash(leaf)); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

// TestLayout pins the tables to store/SPEC.md's: log_leaves (idx → leaf),
// log_hashes (stored-hash idx → 32-byte hash), log_keys (key → idx) and
// log_meta (size, origin, keyhash), at schema version 1.
func TestLayout(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := signer(t, "evote.example/layout")
	l, err := postgres.Open(ctx, dsn, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves := [][]byte{store.Leaf(store.Manifest, []byte("m")), store.Leaf(store.Ballot, []byte("a")), store.Leaf(store.Ballot, []byte("b"))}
	for i, leaf := range leaves {
		if _, err := l.Append(ctx, store.Append{Leaf: leaf, Key: fmt.Appendf(nil, "k%d", i), SetKeys: [][]byte{[]byte("last")}}); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var size, keyhash int64
	var origin string
	if err := conn.QueryRow(ctx, "SELECT size, origin, keyhash FROM log_meta WHERE id = 1").Scan(&size, &origin, &keyhash); err != nil {
		t.Fatal(err)
	}
	if size != 3 || origin != s.Name() || uint32(keyhash) != s.KeyHash() {
		t.Fatalf("log_meta: size %d, origin %q, keyhash %x", size, origin, keyhash)
	}
	for i, want := range leaves {
		var got []byte
		if err := conn.QueryRow(ctx, "SELECT leaf FROM log_leaves WHERE idx = $1", i).Scan(&got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("log_leaves %d: %x, %v", i, got, err)
		}
	}
	// The stored hashes are tlog's, so the root computed from the table
	// alone is the checkpoint's.
	var n int64
	conn.QueryRow(ctx, "SELECT count(*) FROM log_hashes").Scan(&n)
	if n != tlog.StoredHashCount(3) {
		t.Fatalf("log_hashes holds %d hashes, want %d", n, tlog.StoredHashCount(3))
	}
	root, err := tlog.TreeHash(3, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			var h []byte
			if err := conn.QueryRow(ctx, "SELECT hash FROM log_hashes WHERE idx = $1", x).Scan(&h); err != nil {
				return nil, err
			}
			copy(out[i][:], h)
		}
		return out, nil
	}))
	if err != nil || root != cp.Hash {
		t.Fatalf("the root from log_hashes is %x (%v), the checkpoint's %x", root, err, cp.Hash)
	}
	want := map[string]int64{"k0": 0, "k1": 1, "k2": 2, "last": 2}
	rows, _ := conn.Query(ctx, "SELECT key, idx FROM log_keys")
	got := map[string]int64{}
	for rows.Next() {
		var k []byte
		var i int64
		rows.Scan(&k, &i)
		got[string(k)] = i
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("log_keys: %v, want %v", got, want)
	}
}

// TestReadOnly: a log opened ReadOnly serves the same export as the
// board's open, with a database role that may only SELECT; it refuses an
// append, a database with no log (creating nothing there) and another
// key.
func TestReadOnly(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := signer(t, "evote.example/ro")
	l, err := postgres.Open(ctx, dsn, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range [][]byte{store.Leaf(store.Manifest, []byte("m")), storetest.Sized(1, 50)} {
		if _, err := l.Append(ctx, store.Append{Leaf: leaf, Key: fmt.Append(nil, "key/", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var want bytes.Buffer
	if err := l.Export(&want); err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	// A role that may read the log's tables and nothing more.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	role := db + "_ro" // roles are the cluster's: one of this database's own
	for _, q := range []string{
		"DROP ROLE IF EXISTS " + role,
		"CREATE ROLE " + role + " LOGIN",
		"GRANT SELECT ON evote_schema, log_meta, log_leaves, log_hashes, log_keys TO " + role,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), "DROP OWNED BY "+role)
			c.Exec(context.Background(), "DROP ROLE "+role)
			c.Close(context.Background())
		}
	})
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	roDSN := strings.Replace(dsn, "//"+cfg.User+"@", "//"+role+"@", 1)
	if _, err := postgres.OpenEngine(ctx, roDSN, nil); err == nil {
		t.Fatal("the read-write open worked for a role that may only read: the test proves nothing")
	}
	e, err := postgres.OpenEngine(ctx, roDSN, &postgres.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	other := signer(t, "evote.example/ro")
	if err := e.Bind(ctx, other.Name(), other.KeyHash()); err == nil || !strings.Contains(err.Error(), "open it with its own key") {
		t.Fatalf("read-only Bind with another key: %v", err)
	}
	ro, err := store.New(e, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var got bytes.Buffer
	if err := ro.Export(&got); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("the read-only export differs (%v)", err)
	}
	if _, err := ro.Append(ctx, store.Append{Leaf: storetest.Sized(2, 50)}); !errors.Is(err, store.ErrNotStored) {
		t.Fatalf("a read-only append: %v, want ErrNotStored", err)
	}
	if n, _ := l.Size(); n != 2 {
		t.Fatalf("the log holds %d entries after the refused append", n)
	}

	empty := pgtest.NewDatabase(t)
	if _, err := postgres.OpenEngine(ctx, empty, &postgres.Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "holds no board log") {
		t.Fatalf("a read-only open of an empty database: %v", err)
	}
	c2, err := pgx.Connect(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	var tables int
	if err := c2.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("the read-only open made %d tables (%v)", tables, err)
	}
}

// TestServerRestart: while the server is down an append fails with
// store.ErrNotStored and store.ErrUnavailable (the board's 503, retry in
// a few seconds) and a read with ErrUnavailable; once it is back, the
// same Log appends and reads again without being reopened, and nothing
// of the failed append is there.
func TestServerRestart(t *testing.T) {
	c := pgtest.StartCluster(t)
	dsn := c.NewDatabase(t)
	l, err := postgres.Open(ctx, dsn, signer(t, "evote.example/restart"), &postgres.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("m"))}); err != nil {
		t.Fatal(err)
	}
	c.Stop(false)
	_, err = l.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, []byte("during")), Key: []byte("token/during")})
	if !errors.Is(err, store.ErrNotStored) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("an append with the server down: %v", err)
	}
	if _, err := l.Size(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a read with the server down: %v", err)
	}
	c.Start()
	i, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, []byte("after")), Key: []byte("token/during")})
	if err != nil || i != 1 {
		t.Fatalf("the first append after the restart: entry %d, %v", i, err)
	}
	if n, err := l.Size(); err != nil || n != 2 {
		t.Fatalf("after the restart the log holds %d entries (%v), want 2", n, err)
	}
}
