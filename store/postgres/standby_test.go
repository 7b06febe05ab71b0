package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/postgres"
	"github.com/jackc/pgx/v5"
)

// TestSynchronousStandby: on a primary with one synchronous standby, an
// append waits for the standby, however long it is down, past the
// engine's Timeout and past its caller's ctx. While it waits nothing of
// it is visible: the other front reads the old size at once (reads take
// no lock), signs no checkpoint covering it, and its own appends wait
// for the sequencer only until the Timeout, then fail (ErrNotStored,
// nothing stored). Once the standby is back the append succeeds, at the
// next index, and both the other front and the standby have it.
// Cancelling the commit's wait, as the engine once did at its Timeout,
// left the group committed on the primary alone and visible: here both
// appends then failed with ErrNotStored at 2s, yet front b saw 4 entries
// and signed a checkpoint of size 4, over two ballots the standby lacked.
func TestSynchronousStandby(t *testing.T) {
	c := pgtest.StartCluster(t)
	dsn := c.NewDatabase(t) // before the standby, whose base backup copies it
	s := c.Standby(t)

	const timeout = 2 * time.Second
	sg := signer(t, "evote.example/standby")
	var fronts [2]store.Log
	for i := range fronts {
		l, err := postgres.Open(ctx, dsn, sg, &postgres.Options{Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() }) // waits for the appends submitted
		fronts[i] = l
	}
	a, b := fronts[0], fronts[1]
	// Registered after the fronts' Close, so run before it: a test that
	// fails while the standby is down releases the appends waiting on it.
	down := false
	t.Cleanup(func() {
		if down {
			s.Start()
		}
	})
	stop := func() { s.Stop(true); down = true }
	start := func() { s.Start(); down = false }

	// The standby, read as a read-only log (as evote board export reads
	// one), and the primary, to see the commit's wait.
	// A synchronous commit waits for the standby to flush, not to replay:
	// the schema the fronts just made may not be readable there yet.
	var replica store.Log
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		replica, err = postgres.Open(ctx, onServer(t, dsn, s.DSN), sg, &postgres.Options{Timeout: timeout, ReadOnly: true})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("opening the log on the standby: %v", err)
		}
	}
	t.Cleanup(func() { replica.Close() })
	primary, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Close(context.Background()) })

	leaves := [][]byte{store.Leaf(store.Manifest, []byte("m"))}
	if _, err := a.Append(ctx, store.Append{Leaf: leaves[0]}); err != nil {
		t.Fatal(err)
	}
	leaves = append(leaves, store.Leaf(store.Ballot, []byte("one")))
	if i, err := b.Append(ctx, store.Append{Leaf: leaves[1], Key: []byte("token/1")}); err != nil || i != 1 {
		t.Fatalf("a ballot with the standby up: entry %d, %v", i, err)
	}
	hasAll(t, "the standby", replica, leaves)

	// The standby goes down; a ballot is appended on front a.
	stop()
	two := store.Leaf(store.Ballot, []byte("two"))
	type result struct {
		i   uint64
		err error
		at  time.Duration
	}
	began := time.Now()
	done := make(chan result, 1)
	go func() {
		i, err := a.Append(ctx, store.Append{Leaf: two, Key: []byte("token/2")})
		done <- result{i, err, time.Since(began)}
	}()
	waitSyncRep(t, primary)
	t.Logf("the append is waiting for the standby (wait_event SyncRep) after %v", time.Since(began).Round(time.Millisecond))

	// Meanwhile neither front sees it. A read takes no lock: each returns
	// within the engine's Timeout, or it would have failed.
	unseen := func(l store.Log, front string) {
		t.Helper()
		t0 := time.Now()
		n, err := l.Size()
		if err != nil || n != 2 {
			t.Errorf("front %s, during the wait: size %d (%v), want 2", front, n, err)
		}
		t.Logf("front %s, during the wait: Size %d in %v", front, n, time.Since(t0).Round(time.Microsecond))
		if cp, err := l.Checkpoint(ctx); err != nil || cp.Size != 2 {
			t.Errorf("front %s, during the wait: checkpoint %v (%v), want one of size 2", front, cp, err)
		}
		if cp, err := l.CheckpointAt(3); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("front %s, during the wait: a checkpoint of size 3 was signed: %v (%v)", front, cp, err)
		}
		if _, ok, err := l.Lookup([]byte("token/2")); ok || err != nil {
			t.Errorf("front %s, during the wait: the waiting ballot's key is found (%v)", front, err)
		}
	}
	unseen(b, "b")
	unseen(a, "a")
	// The other front's append queues behind the sequencer, held by the
	// waiting commit, until the Timeout ends its wait for the lock:
	// refused, nothing stored, the board's 503.
	t0 := time.Now()
	_, err = b.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, []byte("three")), Key: []byte("token/3")})
	if !errors.Is(err, store.ErrNotStored) {
		t.Errorf("front b's append while a's waits for the standby: %v, want ErrNotStored", err)
	}
	t.Logf("front b's append during the wait failed after %v: %v", time.Since(t0).Round(time.Millisecond), err)

	select {
	case r := <-done:
		n, _ := b.Size()
		cp, cerr := b.Checkpoint(ctx)
		if cerr == nil {
			t.Errorf("front b then signed a checkpoint of size %d", cp.Size)
		}
		t.Fatalf("with the standby down the append returned after %v (entry %d, %v); front b now sees %d entries: the commit's wait was cut short", r.at, r.i, r.err, n)
	case <-time.After(time.Until(began.Add(5 * time.Second))):
	}
	unseen(b, "b")
	t.Logf("after %v the append is still waiting", time.Since(began).Round(time.Millisecond))

	// The standby comes back: the append succeeds, and everyone has it.
	start()
	select {
	case r := <-done:
		if r.err != nil || r.i != 2 {
			t.Fatalf("once the standby is back the append returned entry %d, %v; want entry 2", r.i, r.err)
		}
		t.Logf("the append returned entry %d after %v, once the standby was back", r.i, r.at.Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("the standby is back, and the append still waits after 30s")
	}
	leaves = append(leaves, two)
	if cp, err := b.Checkpoint(ctx); err != nil || cp.Size != 3 {
		t.Fatalf("front b after the wait: checkpoint %v (%v), want one of size 3", cp, err)
	}
	hasAll(t, "front b", b, leaves)
	hasAll(t, "the standby", replica, leaves)
	if _, ok, _ := b.Lookup([]byte("token/3")); ok {
		t.Fatal("the append refused during the wait is in the log")
	}

	// A caller's ctx: one already done refuses the append at once, with
	// nothing stored; one that ends once the append is waiting for the
	// standby does not cut it short (the Log commits under no caller's
	// ctx, the engine its commit under none either).
	stop()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Append(cancelled, store.Append{Leaf: store.Leaf(store.Ballot, []byte("x")), Key: []byte("token/x")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("an append with its ctx already cancelled: %v, want context.Canceled", err)
	}
	four := store.Leaf(store.Ballot, []byte("four"))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	began = time.Now()
	go func() {
		i, err := a.Append(cctx, store.Append{Leaf: four, Key: []byte("token/4")})
		done <- result{i, err, time.Since(began)}
	}()
	waitSyncRep(t, primary)
	cancel()
	cancelledAt := time.Since(began)
	select {
	case r := <-done:
		t.Fatalf("with the standby down, the append whose ctx was cancelled at %v returned after %v (entry %d, %v)", cancelledAt, r.at, r.i, r.err)
	case <-time.After(timeout + time.Second):
	}
	if n, err := b.Size(); err != nil || n != 3 {
		t.Fatalf("front b while the cancelled append waits: size %d (%v), want 3", n, err)
	}
	start()
	select {
	case r := <-done:
		if r.err != nil || r.i != 3 {
			t.Fatalf("the append whose ctx was cancelled, once the standby is back: entry %d, %v; want entry 3", r.i, r.err)
		}
		t.Logf("the append whose ctx was cancelled at %v returned entry %d after %v, once the standby was back", cancelledAt.Round(time.Millisecond), r.i, r.at.Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("the standby is back, and the cancelled append still waits after 30s")
	}
	leaves = append(leaves, four)
	hasAll(t, "front b", b, leaves)
	hasAll(t, "the standby", replica, leaves)
	if _, ok, _ := b.Lookup([]byte("token/x")); ok {
		t.Fatal("the append refused for its cancelled ctx is in the log")
	}
}

// onServer is dsn's database on the server of other, a DSN.
func onServer(t *testing.T, dsn, other string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	o, err := url.Parse(other)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = o.Host
	return u.String()
}

// waitSyncRep waits until a backend of the primary is waiting for its
// synchronous standby.
func waitSyncRep(t *testing.T, primary *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := primary.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("after 10s no commit on the primary is waiting for the standby")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasAll checks that l holds exactly leaves. A synchronous standby has
// flushed a commit when it returns, but may apply it a moment later, so
// the size is waited for (10s at most).
func hasAll(t *testing.T, who string, l store.Log, leaves [][]byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := l.Size()
		if err == nil && n == uint64(len(leaves)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d entries (%v), want %d", who, n, err, len(leaves))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, want := range leaves {
		got, err := l.Leaf(uint64(i))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: entry %d is %q (%v), want %q", who, i, got, err, want)
		}
	}
}
