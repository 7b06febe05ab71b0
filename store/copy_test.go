package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The engine conformance suite (store/storetest, KeysAndCopy) copies a
// log between two stores of each engine and checks the copy is the same
// log; store/postgres's tests and cmd/evote's board migrate copy from
// bbolt to PostgreSQL. The tests here attack Copy's checks: each
// refusal is seen, and says why.

// sourceLog is a MemEngine holding a log of n leaves (the manifest, then
// ballots, each with a token key, the first with a phase key too), and
// its signer.
func sourceLog(t *testing.T, n int) (*store.MemEngine, note.Signer) {
	t.Helper()
	s, _ := testKeys(t)
	e := store.NewMemEngine()
	l, err := store.New(unclosed{e}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("m")), SetKeys: [][]byte{[]byte("phase/open")}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		if _, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, fmt.Append(nil, "ballot ", i)), Key: fmt.Append(nil, "token/", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return e, s
}

// unclosed is an engine its Log does not close.
type unclosed struct{ store.Engine }

func (unclosed) Close() error { return nil }

func copyErr(t *testing.T, dst, src store.Engine, s note.Signer, want string) {
	t.Helper()
	_, err := store.Copy(ctx, dst, src, s.Name(), s.KeyHash(), &store.CopyOptions{BatchLeaves: 4})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Copy: %v, want an error saying %q", err, want)
	}
}

// A source that cannot list its keys is refused: a copy without them
// would take a second ballot on a token already used. An empty source is
// refused, and so is one holding another key's log; the destination is
// left as it was.
func TestCopyRefusesSource(t *testing.T) {
	src, s := sourceLog(t, 5)
	dst := store.NewMemEngine()
	copyErr(t, dst, unclosed{src}, s, "cannot list its keys")
	copyErr(t, dst, store.NewMemEngine(), s, "the source log is empty")
	skey, _, err := note.GenerateKey(nil, s.Name()) // the same name, another key
	if err != nil {
		t.Fatal(err)
	}
	other, err := note.NewSigner(skey)
	if err == nil {
		_, err = store.Copy(ctx, dst, src, other.Name(), other.KeyHash(), nil)
	}
	if err == nil || !strings.Contains(err.Error(), "the source") {
		t.Fatalf("Copy of a log for another key: %v", err)
	}
	if n, _ := dst.Size(ctx); n != 0 {
		t.Fatalf("the refused copies left %d entries", n)
	}
	if err := dst.Bind(ctx, "someone.example/else", 1); err != nil {
		t.Fatalf("the refused copies bound the destination: %v", err)
	}
}

// A source whose stored hashes are not its leaves' (a damaged file) is
// refused at that entry: the copy stores hashes it computed itself, and
// never the damage.
func TestCopyRefusesDamagedSource(t *testing.T) {
	src, s := sourceLog(t, 9)
	err := src.Update(ctx, func(tx store.Tx) error {
		n, _ := tx.Size(ctx)
		good, err := tlog.StoredHashes(int64(n), store.Leaf(store.Ballot, []byte("x")), hashReader{tx})
		if err != nil {
			return err
		}
		return tx.Append(ctx, store.Leaf(store.Ballot, []byte("not x")), good, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := store.NewMemEngine()
	copyErr(t, dst, src, s, "the source's stored hashes at entry 9 are not those of its leaves")
	if n, _ := dst.Size(ctx); n != 8 {
		t.Fatalf("the destination holds %d entries: want the 8 of the two batches before the damage", n)
	}
	// What was copied is a prefix: a second copy into it is refused.
	_, err = store.Copy(ctx, dst, src, s.Name(), s.KeyHash(), nil)
	if !errors.Is(err, store.ErrNotEmpty) || !strings.Contains(err.Error(), "8 entries") {
		t.Fatalf("a copy into the prefix: %v", err)
	}
}

type hashReader struct{ r store.EngineReader }

func (h hashReader) ReadHashes(x []int64) ([]tlog.Hash, error) { return h.r.Hashes(ctx, x) }

// lossy is a destination engine that loses something: the keys of entry
// 3 (dropKeys), or a byte of every leaf it reads back (flipLeaves).
type lossy struct {
	*store.MemEngine
	dropKeys, flipLeaves bool
}

func (l lossy) Update(ctx context.Context, fn func(store.Tx) error) error {
	return l.MemEngine.Update(ctx, func(tx store.Tx) error { return fn(lossyTx{tx, l.dropKeys}) })
}

func (l lossy) Leaves(ctx context.Context, start, end uint64, maxBytes int) ([][]byte, error) {
	out, err := l.MemEngine.Leaves(ctx, start, end, maxBytes)
	if l.flipLeaves {
		for _, leaf := range out {
			leaf[len(leaf)-1] ^= 1
		}
	}
	return out, err
}

// Keys hides the MemEngine's listing: the copy then checks the keys by
// looking each up.
func (lossy) Keys() {}

type lossyTx struct {
	store.Tx
	dropKeys bool
}

func (t lossyTx) Append(ctx context.Context, leaf []byte, hs []tlog.Hash, keys [][]byte) error {
	if n, err := t.Size(ctx); err != nil {
		return err
	} else if t.dropKeys && n == 3 {
		keys = nil
	}
	return t.Tx.Append(ctx, leaf, hs, keys)
}

// The read-back finds a destination that does not hold what it was
// given: a leaf changed, or a key lost (checked by listing it, or by
// looking every key up where the engine lists none).
func TestCopyChecksDestination(t *testing.T) {
	src, s := sourceLog(t, 10)
	copyErr(t, lossy{MemEngine: store.NewMemEngine(), flipLeaves: true}, src, s, "the destination's entry 0 differs from the source's")
	copyErr(t, lossy{MemEngine: store.NewMemEngine(), dropKeys: true}, src, s, "the destination's key 746f6b656e2f33 does not point at entry 3")
	if _, ok := any(lossy{}).(store.KeyLister); ok {
		t.Fatal("lossy lists keys")
	}
	// A destination that lists its keys is compared by its listing.
	listing := &droppingLister{MemEngine: store.NewMemEngine()}
	copyErr(t, listing, src, s, "the destination holds 9 keys, the source 10, and they differ")

	// A good destination that lists no keys passes the lookups.
	good := lossy{MemEngine: store.NewMemEngine()}
	c, err := store.Copy(ctx, good, src, s.Name(), s.KeyHash(), nil)
	if err != nil || c.Entries != 10 || c.Keys != 10 {
		t.Fatalf("Copy into a destination that lists no keys: %+v, %v", c, err)
	}
}

// droppingLister loses the keys of entry 3, and lists its keys.
type droppingLister struct{ *store.MemEngine }

func (d *droppingLister) Update(ctx context.Context, fn func(store.Tx) error) error {
	return d.MemEngine.Update(ctx, func(tx store.Tx) error { return fn(lossyTx{tx, true}) })
}

// growing is a source engine a board appends to while it is copied.
type growing struct {
	*store.MemEngine
	log   store.Log
	grown bool
}

func (g *growing) Leaves(ctx context.Context, start, end uint64, maxBytes int) ([][]byte, error) {
	if !g.grown {
		g.grown = true
		if _, err := g.log.Append(ctx, store.Append{Leaf: store.Leaf(store.Ballot, []byte("late")), Key: []byte("token/late")}); err != nil {
			return nil, err
		}
	}
	return g.MemEngine.Leaves(ctx, start, end, maxBytes)
}

// A source that grows during the copy is refused: the copy would miss
// what came after its start, and the keys may already point past it.
func TestCopyRefusesGrowingSource(t *testing.T) {
	src, s := sourceLog(t, 6)
	l, err := store.New(unclosed{src}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dst := store.NewMemEngine()
	copyErr(t, dst, &growing{MemEngine: src, log: l}, s, "the source grew from 6 to 7 entries during the copy")
}

// The copy goes in transactions of the batch sizes asked, and the copy
// gives the same checkpoint bytes and export as the source.
func TestCopyBatches(t *testing.T) {
	src, s := sourceLog(t, 23)
	for _, o := range []store.CopyOptions{{BatchLeaves: 1}, {BatchLeaves: 5}, {BatchBytes: 1}, {}} {
		dst := &countingUpdates{MemEngine: store.NewMemEngine()}
		var done []uint64
		o.Progress = func(step string, n, total uint64) {
			if step == "copying" {
				done = append(done, n)
			}
			if total != 23 {
				t.Errorf("progress total %d", total)
			}
		}
		c, err := store.Copy(ctx, dst, src, s.Name(), s.KeyHash(), &o)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		switch {
		case o.BatchLeaves > 0:
			want = (23 + o.BatchLeaves - 1) / o.BatchLeaves
		case o.BatchBytes > 0:
			want = 23
		}
		if dst.updates != want || len(done) != want || done[len(done)-1] != 23 {
			t.Errorf("%+v: %d transactions, progress %v; want %d", o, dst.updates, done, want)
		}
		a, b := exportOf(t, src, s), exportOf(t, dst.MemEngine, s)
		if !bytes.Equal(a, b) {
			t.Fatalf("%+v: the copy's export differs", o)
		}
		if cp := lastCheckpoint(t, dst.MemEngine, s); cp.Hash != c.Root || cp.Size != c.Entries {
			t.Fatalf("%+v: Copied.Root %v, the copy's checkpoint %v", o, c.Root, cp.Hash)
		}
	}
}

type countingUpdates struct {
	*store.MemEngine
	updates int
}

func (c *countingUpdates) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.updates++
	return c.MemEngine.Update(ctx, fn)
}

func exportOf(t *testing.T, e *store.MemEngine, s note.Signer) []byte {
	t.Helper()
	l, err := store.New(unclosed{e}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var buf bytes.Buffer
	if err := l.Export(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func lastCheckpoint(t *testing.T, e *store.MemEngine, s note.Signer) *store.Checkpoint {
	t.Helper()
	l, err := store.New(unclosed{e}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
