// Package storetest is the conformance suite of [store.Engine]: what every
// engine must do for the one [store.Log] over it to be the log SPEC.md
// describes. An engine's tests call [Run] with a constructor; store runs it
// on [store.MemEngine], the reference, and store/bolt on bbolt. A new
// engine (PostgreSQL next) passes it before anything else runs on it.
//
// The suite checks the engine itself (a transaction is all or nothing and
// sees its own writes, range reads stop where they are told and return
// copies, a store is bound to one key) and the Log over it: refusals,
// uniqueness under concurrent appenders, with and without group commit and
// across two Logs sharing one store (two board processes on one
// database), checkpoints and proofs, the export, an export whose reader
// stopped holding up no append, and, where the store outlives its engine,
// everything again after a reopen.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// NewEngine returns the engine of a new, empty store, and reopen, which
// opens that same store again once the engine is closed, as a restarted
// process would; reopen is nil for a store that does not outlive its
// engine (one in memory). The suite closes every engine it is given.
type NewEngine func(t testing.TB) (e store.Engine, reopen func() store.Engine)

// Run runs the conformance suite on the engines newEngine makes.
func Run(t *testing.T, newEngine NewEngine) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, NewEngine)
	}{
		{"EngineUpdate", testEngineUpdate},
		{"EngineLeaves", testEngineLeaves},
		{"EngineBind", testEngineBind},
		{"RoundTrip", testRoundTrip},
		{"Refusals", testRefusals},
		{"SameKeyConcurrent", testSameKeyConcurrent},
		{"CheckPanics", testCheckPanics},
		{"TwoLogsOneStore", testTwoLogs},
		{"ExportBatches", testExportBatches},
		{"BlockedExportHoldsNothing", testBlockedExport},
		{"KeysAndCopy", testKeysAndCopy},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newEngine) })
	}
}

var ctx = context.Background()

// Keys makes a checkpoint key pair for tests.
func keys(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "storetest.example/log")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// shared is an engine a Log may not close: the test closes it once, after
// every Log over it.
type shared struct{ store.Engine }

func (shared) Close() error { return nil }

func newLog(t testing.TB, e store.Engine, s note.Signer, opts *store.Options) store.Log {
	t.Helper()
	l, err := store.New(e, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// open makes a new store and the Log over it, closed when the test ends.
func open(t testing.TB, newEngine NewEngine, opts *store.Options) (store.Log, note.Verifier) {
	t.Helper()
	e, _ := newEngine(t)
	s, v := keys(t)
	l := newLog(t, e, s, opts)
	t.Cleanup(func() { l.Close() })
	return l, v
}

func manifest() []byte { return store.Leaf(store.Manifest, []byte("manifest")) }

func ballot(s string) []byte { return store.Leaf(store.Ballot, []byte(s)) }

// Sized is ballot entry i padded to n bytes, for tests that need many or
// large leaves.
func Sized(i, n int) []byte {
	b := make([]byte, n)
	copy(b, fmt.Sprint("ballot ", i))
	return store.Leaf(store.Ballot, b)
}

func mustAppend(t testing.TB, l store.Log, a store.Append) uint64 {
	t.Helper()
	i, err := l.Append(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// appendTx appends one leaf with keys in tx, as a Log would.
func appendTx(tx store.Tx, leaf []byte, keys ...[]byte) error {
	n, err := tx.Size(ctx)
	if err != nil {
		return err
	}
	hs, err := tlog.StoredHashes(int64(n), leaf, hashReader{tx})
	if err != nil {
		return err
	}
	return tx.Append(ctx, leaf, hs, keys)
}

type hashReader struct{ r store.EngineReader }

func (h hashReader) ReadHashes(idx []int64) ([]tlog.Hash, error) { return h.r.Hashes(ctx, idx) }

// A transaction sees its own writes, is kept whole when fn returns nil and
// not at all when it fails; readers see only committed transactions.
func testEngineUpdate(t *testing.T, newEngine NewEngine) {
	e, _ := newEngine(t)
	defer e.Close()
	leaves := [][]byte{manifest(), ballot("a"), ballot("b")}
	err := e.Update(ctx, func(tx store.Tx) error {
		for i, leaf := range leaves {
			if err := appendTx(tx, leaf, fmt.Appendf(nil, "k%d", i), []byte("last")); err != nil {
				return err
			}
			if n, err := tx.Size(ctx); err != nil || n != uint64(i+1) {
				return fmt.Errorf("inside the transaction, size %d after %d appends (%v)", n, i+1, err)
			}
			if x, ok, err := tx.Lookup(ctx, []byte("last")); err != nil || !ok || x != uint64(i) {
				return fmt.Errorf("inside the transaction, key last points at %d, %v (%v), want %d", x, ok, err, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.Size(ctx); err != nil || n != 3 {
		t.Fatalf("size %d (%v) after a committed transaction of 3", n, err)
	}
	root, err := tlog.TreeHash(3, hashReader{e})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := store.TreeHash(leaves); root != want {
		t.Fatal("the stored hashes do not give the tree's root")
	}

	errFail := errors.New("fn fails")
	err = e.Update(ctx, func(tx store.Tx) error {
		if err := appendTx(tx, ballot("never"), []byte("never"), []byte("k0")); err != nil {
			return err
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("Update of a failing fn: %v, want its error", err)
	}
	if n, _ := e.Size(ctx); n != 3 {
		t.Fatalf("a failed transaction changed the size to %d", n)
	}
	if _, ok, _ := e.Lookup(ctx, []byte("never")); ok {
		t.Fatal("a failed transaction set a key")
	}
	if x, ok, _ := e.Lookup(ctx, []byte("k0")); !ok || x != 0 {
		t.Fatalf("a failed transaction moved a key to %d", x)
	}
	if _, err := e.Leaves(ctx, 3, 4, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed transaction left a leaf: %v", err)
	}
	if _, err := e.Hashes(ctx, []int64{tlog.StoredHashIndex(0, 3)}); err == nil {
		t.Fatal("a failed transaction left a tree hash")
	}

	// Readers meanwhile see the store before the transaction, then after.
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- e.Update(ctx, func(tx store.Tx) error {
			if err := appendTx(tx, ballot("c"), []byte("k3")); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	n, err := e.Size(ctx)
	_, ok, _ := e.Lookup(ctx, []byte("k3"))
	close(release)
	if err != nil || n != 3 || ok {
		t.Fatalf("while a transaction is open, outside it: size %d (%v), its key set %v; want 3 and unset", n, err, ok)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := e.Size(ctx); n != 4 {
		t.Fatalf("size %d after commit, want 4", n)
	}
}

// Leaves stops at end, at the log's end and past maxBytes, and returns
// copies.
func testEngineLeaves(t *testing.T, newEngine NewEngine) {
	e, _ := newEngine(t)
	defer e.Close()
	var leaves [][]byte
	err := e.Update(ctx, func(tx store.Tx) error {
		for i := range 10 {
			leaf := Sized(i, 100*(i+1))
			if i == 0 {
				leaf = manifest()
			}
			leaves = append(leaves, leaf)
			if err := appendTx(tx, leaf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		start, end uint64
		max        int
		want       []int
	}{
		{0, 10, 1 << 20, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{0, 1, 0, []int{0}},
		{3, 5, 1 << 20, []int{3, 4}},
		{5, 100, 1 << 20, []int{5, 6, 7, 8, 9}},
		{2, 10, 1, []int{2}},         // the first leaf passes maxBytes alone
		{1, 10, 502, []int{1, 2}},    // 201 + 301 bytes reach 502: no more
		{1, 10, 503, []int{1, 2, 3}}, // they do not reach 503
		{9, 10, 0, []int{9}},
	} {
		got, err := e.Leaves(ctx, tc.start, tc.end, tc.max)
		if err != nil {
			t.Fatalf("Leaves(%d, %d, %d): %v", tc.start, tc.end, tc.max, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("Leaves(%d, %d, %d) gave %d leaves, want %d", tc.start, tc.end, tc.max, len(got), len(tc.want))
		}
		for k, i := range tc.want {
			if !bytes.Equal(got[k], leaves[i]) {
				t.Fatalf("Leaves(%d, %d, %d)[%d] is not leaf %d", tc.start, tc.end, tc.max, k, i)
			}
		}
	}
	for _, start := range []uint64{10, 11, 1 << 40} {
		if _, err := e.Leaves(ctx, start, start+1, 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Leaves from %d of 10: %v, want ErrNotFound", start, err)
		}
	}
	got, _ := e.Leaves(ctx, 1, 2, 0)
	clear(got[0])
	again, _ := e.Leaves(ctx, 1, 2, 0)
	if !bytes.Equal(again[0], leaves[1]) {
		t.Fatal("changing a returned leaf changed the store: Leaves must return copies")
	}
}

// A store is bound to the first key a Log opens it with.
func testEngineBind(t *testing.T, newEngine NewEngine) {
	e, reopen := newEngine(t)
	s, _ := keys(t)
	if err := e.Bind(ctx, s.Name(), s.KeyHash()); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, s.Name(), s.KeyHash()); err != nil {
		t.Fatalf("binding again to the same key: %v", err)
	}
	other, _ := keys(t) // the same name, another key
	if err := e.Bind(ctx, other.Name(), other.KeyHash()); err == nil {
		t.Fatal("a store bound to one key accepted another of the same name")
	}
	if err := e.Bind(ctx, "storetest.example/other", s.KeyHash()); err == nil {
		t.Fatal("a store bound to one origin accepted another")
	}
	if _, err := store.New(shared{e}, other, nil); err == nil {
		t.Fatal("store.New opened a store bound to another key")
	}
	e.Close()
	if reopen != nil {
		e = reopen()
		defer e.Close()
		if err := e.Bind(ctx, other.Name(), other.KeyHash()); err == nil {
			t.Fatal("after a reopen, a store bound to one key accepted another")
		}
		if err := e.Bind(ctx, s.Name(), s.KeyHash()); err != nil {
			t.Fatalf("after a reopen, binding to its own key: %v", err)
		}
	}
}

// checkLog checks, against every checkpoint in cps, every leaf's inclusion
// and every pair's consistency, that CheckpointAt gives the same bytes, and
// that the export reads back as leaves.
func checkLog(t *testing.T, l store.Log, v note.Verifier, leaves [][]byte, cps []*store.Checkpoint) {
	t.Helper()
	for _, cp := range cps {
		if _, err := store.ParseCheckpoint(cp.Signed, v); err != nil {
			t.Fatalf("checkpoint of size %d: %v", cp.Size, err)
		}
		again, err := l.CheckpointAt(cp.Size)
		if err != nil || !bytes.Equal(again.Signed, cp.Signed) || again.Hash != cp.Hash {
			t.Fatalf("checkpoint of size %d not kept: %v", cp.Size, err)
		}
		for i := range cp.Size {
			p, err := l.ProveInclusion(i, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.VerifyInclusion(cp, i, leaves[i], p); err != nil {
				t.Fatal(err)
			}
		}
		// The Log is a tlog.HashReader over the stored hashes (the board's
		// hash tiles read it): the root it gives is the checkpoint's.
		if root, err := tlog.TreeHash(int64(cp.Size), l); err != nil || root != cp.Hash {
			t.Fatalf("tree hash of size %d read through Log.ReadHashes: %v, %v; want %v", cp.Size, root, err, cp.Hash)
		}
		for _, cp2 := range cps {
			if cp.Size <= cp2.Size {
				p, err := l.ProveConsistency(cp.Size, cp2.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := store.VerifyConsistency(cp, cp2, p); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	checkReads(t, l, leaves)
	var buf bytes.Buffer
	if err := l.Export(&buf); err != nil {
		t.Fatal(err)
	}
	r := store.NewReader(&buf, v)
	for i := 0; ; i++ {
		leaf, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf, leaves[i]) {
			t.Fatalf("exported leaf %d differs", i)
		}
	}
	if r.Count() != uint64(len(leaves)) {
		t.Fatalf("exported %d leaves, want %d", r.Count(), len(leaves))
	}
}

// checkReads checks the Log's range reads, Leaves and ReadHashes, on a log
// holding exactly leaves: every range and byte bound, and nothing read
// beyond the log.
func checkReads(t *testing.T, l store.Log, leaves [][]byte) {
	t.Helper()
	n := uint64(len(leaves))
	for start := range n {
		for _, end := range []uint64{start + 1, start + 2, n, n + 5} {
			got, err := l.Leaves(start, end, 1<<20)
			if err != nil {
				t.Fatalf("Leaves(%d, %d): %v", start, end, err)
			}
			if want := leaves[start:min(end, n)]; len(got) != len(want) {
				t.Fatalf("Leaves(%d, %d) returned %d leaves, want %d", start, end, len(got), len(want))
			}
			for i, leaf := range got {
				if !bytes.Equal(leaf, leaves[start+uint64(i)]) {
					t.Fatalf("Leaves(%d, %d)[%d] differs", start, end, i)
				}
			}
		}
		if got, err := l.Leaves(start, n, 1); err != nil || len(got) != 1 {
			t.Fatalf("Leaves(%d, %d, 1 byte) returned %d leaves (%v), want the first only", start, n, len(got), err)
		}
	}
	if _, err := l.Leaves(n, n+1, 1<<20); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Leaves past the log of %d: %v, want ErrNotFound", n, err)
	}
	stored := tlog.StoredHashCount(int64(n))
	all := make([]int64, stored)
	for x := range all {
		all[x] = int64(x)
	}
	if got, err := l.ReadHashes(all); err != nil || int64(len(got)) != stored || got[0] != store.LeafHash(leaves[0]) {
		t.Fatalf("ReadHashes of all %d stored hashes: %v", stored, err)
	}
	for _, x := range []int64{-1, stored, stored + 100} {
		if _, err := l.ReadHashes([]int64{0, x}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ReadHashes(%d) of %d stored: %v, want ErrNotFound", x, stored, err)
		}
	}
}

func testRoundTrip(t *testing.T, newEngine NewEngine) {
	e, reopen := newEngine(t)
	s, v := keys(t)
	l := newLog(t, e, s, nil)
	if _, err := l.Checkpoint(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("checkpoint of an empty log: %v", err)
	}
	var leaves [][]byte
	var cps []*store.Checkpoint
	for i := range 20 {
		leaf := manifest()
		if i > 0 {
			leaf = ballot(fmt.Sprint("b", i))
		}
		if got := mustAppend(t, l, store.Append{Leaf: leaf, Key: []byte(fmt.Sprint("k", i))}); got != uint64(i) {
			t.Fatalf("append %d got index %d", i, got)
		}
		leaves = append(leaves, leaf)
		cp, err := l.Checkpoint(ctx)
		if err != nil || cp.Size != uint64(i+1) {
			t.Fatalf("checkpoint after %d: %+v %v", i, cp, err)
		}
		cps = append(cps, cp)
	}
	checkLog(t, l, v, leaves, cps)
	check := func(l store.Log) {
		t.Helper()
		if n, err := l.Size(); err != nil || n != 20 {
			t.Fatalf("size %d, %v", n, err)
		}
		for i, want := range leaves {
			got, err := l.Leaf(uint64(i))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("leaf %d: %q %v", i, got, err)
			}
			if x, ok, err := l.Lookup([]byte(fmt.Sprint("k", i))); err != nil || !ok || x != uint64(i) {
				t.Fatalf("key k%d: %d %v %v", i, x, ok, err)
			}
		}
		if _, err := l.Leaf(20); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "the log holds 20") {
			t.Fatalf("leaf 20: %v", err)
		}
		if _, ok, err := l.Lookup([]byte("k20")); ok || err != nil {
			t.Fatalf("key never set: %v %v", ok, err)
		}
		if _, ok, err := l.Lookup(nil); ok || err != nil {
			t.Fatalf("empty key: %v %v", ok, err)
		}
		if _, err := l.ProveInclusion(3, 21); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("proof beyond the log: %v", err)
		}
		if _, err := l.ProveInclusion(3, 3); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("proof of an entry not in the tree: %v", err)
		}
		if _, err := l.ProveConsistency(0, 5); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("consistency from 0: %v", err)
		}
		if _, err := l.ProveConsistency(6, 5); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("consistency backwards: %v", err)
		}
		if _, err := l.CheckpointAt(0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("checkpoint of size 0: %v", err)
		}
		if _, err := l.CheckpointAt(7000); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("checkpoint beyond the log: %v", err)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, store.Append{Leaf: ballot("late")}); err == nil {
		t.Fatal("append after Close")
	}
	if reopen == nil {
		return
	}
	l = newLog(t, reopen(), s, nil)
	defer l.Close()
	check(l)
	checkLog(t, l, v, leaves, cps)
}

// TestRefusals appends bad requests and checks each is refused with a clear
// error and leaves the log as it was.
func testRefusals(t *testing.T, newEngine NewEngine) {
	for _, group := range []bool{true, false} {
		t.Run(fmt.Sprint("group=", group), func(t *testing.T) {
			l, _ := open(t, newEngine, &store.Options{NoGroupCommit: !group})
			if _, err := l.Append(ctx, store.Append{Leaf: ballot("early")}); !errors.Is(err, store.ErrInvalidLeaf) || !strings.Contains(err.Error(), "must be the manifest") {
				t.Fatalf("ballot as first entry: %v", err)
			}
			if n, _ := l.Size(); n != 0 {
				t.Fatal("refused first entry was stored")
			}
			mustAppend(t, l, store.Append{Leaf: manifest(), SetKeys: [][]byte{[]byte("phase/open")}})
			mustAppend(t, l, store.Append{Leaf: ballot("one"), Key: []byte("token/1")})
			before, _ := l.Checkpoint(ctx)
			notClosed := func(v store.View) error {
				if i, ok := v.Lookup([]byte("phase/closed")); ok {
					return fmt.Errorf("voting closed at entry %d", i)
				}
				return nil
			}
			errCheck := errors.New("check says no")
			for _, tc := range []struct {
				name string
				a    store.Append
				is   error
				want string
			}{
				{"empty", store.Append{}, store.ErrInvalidLeaf, "is empty"},
				{"oversized", store.Append{Leaf: store.Leaf(store.Ballot, make([]byte, store.MaxLeafSize))}, store.ErrInvalidLeaf, "over the 65535-byte limit"},
				{"unknown type", store.Append{Leaf: []byte{42, 1}}, store.ErrInvalidLeaf, "unknown entry type 42"},
				{"duplicate key", store.Append{Leaf: ballot("two"), Key: []byte("token/1"), SetKeys: [][]byte{[]byte("x")}}, store.ErrDuplicate, "already points at entry 1"},
				{"check fails", store.Append{Leaf: ballot("two"), Key: []byte("token/2"), Check: func(store.View) error { return errCheck }}, errCheck, "check says no"},
				{"empty key", store.Append{Leaf: ballot("two"), Key: []byte{}}, nil, "keys are 1 to"},
				{"huge key", store.Append{Leaf: ballot("two"), SetKeys: [][]byte{make([]byte, store.MaxKeySize+1)}}, nil, "keys are 1 to"},
			} {
				_, err := l.Append(ctx, tc.a)
				if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: got %v, want %v containing %q", tc.name, err, tc.is, tc.want)
				}
				if errors.Is(err, store.ErrNotStored) {
					t.Errorf("%s: a refusal reported as a storage failure: %v", tc.name, err)
				}
			}
			for _, k := range []string{"token/2", "x"} {
				if _, ok, _ := l.Lookup([]byte(k)); ok {
					t.Errorf("key %q of a refused append was stored", k)
				}
			}
			after, _ := l.Checkpoint(ctx)
			if after.Size != before.Size || after.Hash != before.Hash {
				t.Fatalf("refused appends changed the log: size %d -> %d", before.Size, after.Size)
			}

			// The check sees the log as it will be appended to.
			var seen uint64
			i := mustAppend(t, l, store.Append{Leaf: ballot("sized"), Check: func(v store.View) error { seen = v.Size(); return nil }})
			if seen != i {
				t.Fatalf("the check saw size %d for the append of entry %d", seen, i)
			}
			// Replace moves a key; a close entry sets the phase key and the check then refuses.
			i = mustAppend(t, l, store.Append{Leaf: ballot("one again"), Key: []byte("token/1"), Replace: true, Check: notClosed})
			if x, _, _ := l.Lookup([]byte("token/1")); x != i {
				t.Fatalf("replaced key points at %d, want %d", x, i)
			}
			c := mustAppend(t, l, store.Append{Leaf: store.Leaf(store.Close, nil), Check: notClosed, SetKeys: [][]byte{[]byte("phase/closed")}})
			_, err := l.Append(ctx, store.Append{Leaf: ballot("late"), Check: notClosed})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("voting closed at entry %d", c)) {
				t.Fatalf("ballot after close: %v", err)
			}
			if n, _ := l.Size(); n != c+1 {
				t.Fatalf("size %d after refused late ballot, want %d", n, c+1)
			}
			if _, err := l.Append(canceled(), store.Append{Leaf: ballot("cancelled")}); !errors.Is(err, context.Canceled) {
				t.Fatalf("append with a cancelled ctx: %v", err)
			}
		})
	}
}

func canceled() context.Context {
	c, cancel := context.WithCancel(ctx)
	cancel()
	return c
}

// raceOneKey races writers on one key over the logs (one, or several on
// one store): exactly one wins, and writers of distinct keys in the same
// groups all succeed.
func raceOneKey(t *testing.T, logs []store.Log, writers int) {
	t.Helper()
	var wg sync.WaitGroup
	var won, dup, distinct atomic.Int64
	for w := range writers {
		l := logs[w%len(logs)]
		wg.Go(func() {
			_, err := l.Append(ctx, store.Append{Leaf: ballot(fmt.Sprint("same ", w)), Key: []byte("token/same")})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, store.ErrDuplicate):
				dup.Add(1)
			default:
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := l.Append(ctx, store.Append{Leaf: ballot(fmt.Sprint("own ", w)), Key: fmt.Append(nil, "token/", w)}); err != nil {
				t.Error(err)
				return
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Error(err)
				return
			}
			distinct.Add(1)
		})
	}
	wg.Wait()
	if won.Load() != 1 || dup.Load() != int64(writers-1) || distinct.Load() != int64(writers) {
		t.Fatalf("same key: %d accepted, %d duplicates; distinct keys: %d of %d", won.Load(), dup.Load(), distinct.Load(), writers)
	}
}

func testSameKeyConcurrent(t *testing.T, newEngine NewEngine) {
	for _, group := range []bool{true, false} {
		t.Run(fmt.Sprint("group=", group), func(t *testing.T) {
			l, _ := open(t, newEngine, &store.Options{NoGroupCommit: !group, MaxBatchDelay: time.Millisecond})
			mustAppend(t, l, store.Append{Leaf: manifest()})
			const writers = 64
			raceOneKey(t, []store.Log{l}, writers)
			if n, _ := l.Size(); n != 1+1+writers {
				t.Fatalf("size %d, want %d", n, 2+writers)
			}
		})
	}
}

// A Check that panics fails its own append only.
func testCheckPanics(t *testing.T, newEngine NewEngine) {
	l, _ := open(t, newEngine, &store.Options{MaxBatchDelay: 5 * time.Millisecond})
	mustAppend(t, l, store.Append{Leaf: manifest()})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			a := store.Append{Leaf: ballot(fmt.Sprint(i))}
			if i == 3 {
				a.Check = func(store.View) error { panic("bad check") }
			}
			_, errs[i] = l.Append(ctx, a)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 3) {
			t.Errorf("append %d: %v", i, err)
		}
	}
	if !strings.Contains(fmt.Sprint(errs[3]), "check panicked: bad check") {
		t.Errorf("the panicking check's append: %v", errs[3])
	}
	if n, _ := l.Size(); n != 8 {
		t.Fatalf("size %d, want 8", n)
	}
}

// Two Logs on one store, as two board processes on one database, are one
// log: what one appends the other reads, proves and signs for, byte for
// byte, and a key raced from both is won once.
func testTwoLogs(t *testing.T, newEngine NewEngine) {
	e, _ := newEngine(t)
	defer e.Close()
	s, v := keys(t)
	a := newLog(t, shared{e}, s, nil)
	defer a.Close()
	b := newLog(t, shared{e}, s, &store.Options{NoGroupCommit: true})
	defer b.Close()
	mustAppend(t, a, store.Append{Leaf: manifest()})
	i := mustAppend(t, b, store.Append{Leaf: ballot("from b"), Key: []byte("token/b")})
	if _, err := a.Append(ctx, store.Append{Leaf: ballot("from a"), Key: []byte("token/b")}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a key set through one Log, appended again through the other: %v", err)
	}
	closed := mustAppend(t, a, store.Append{Leaf: store.Leaf(store.Close, nil), SetKeys: [][]byte{[]byte("phase/closed")}})
	_, err := b.Append(ctx, store.Append{Leaf: ballot("late"), Check: func(v store.View) error {
		if _, ok := v.Lookup([]byte("phase/closed")); ok {
			return errors.New("closed")
		}
		return nil
	}})
	if err == nil {
		t.Fatal("a Check through one Log did not see a key set through the other")
	}
	if leaf, err := a.Leaf(i); err != nil || !bytes.Equal(leaf, ballot("from b")) {
		t.Fatalf("one Log reads the other's leaf as %q, %v", leaf, err)
	}
	if x, ok, _ := b.Lookup([]byte("phase/closed")); !ok || x != closed {
		t.Fatalf("one Log reads the other's key as %d, %v", x, ok)
	}
	cpA, err := a.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cpB, err := b.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cpA.Signed, cpB.Signed) {
		t.Fatal("two Logs on one store sign different checkpoints of one size")
	}
	raceOneKey(t, []store.Log{a, b}, 32)
	n, _ := a.Size()
	if m, _ := b.Size(); m != n || n != 3+1+32 {
		t.Fatalf("sizes %d and %d, want %d", n, m, 3+1+32)
	}
	var leaves [][]byte
	for i := range n {
		leaf, err := b.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaf)
	}
	cp, _ := b.Checkpoint(ctx)
	checkLog(t, a, v, leaves, []*store.Checkpoint{cpA, cp})
}

// An engine that lists its keys (store.KeyLister) lists each once, at
// the index it points to now (a moved key at its last), and store.Copy
// from it into another new store of the same engine gives the same log:
// the same checkpoints and export, and the keys, so a key used in the
// original is refused in the copy. A second copy into it is refused and
// changes nothing.
func testKeysAndCopy(t *testing.T, newEngine NewEngine) {
	src, _ := newEngine(t)
	defer src.Close()
	lister, ok := src.(store.KeyLister)
	if !ok {
		t.Skipf("%T lists no keys", src)
	}
	s, v := keys(t)
	l := newLog(t, shared{src}, s, nil)
	want := map[string]uint64{}
	want["phase/opened"] = mustAppend(t, l, store.Append{Leaf: manifest(), SetKeys: [][]byte{[]byte("phase/opened")}})
	// More keys than one page of a listing (4096 in store/bolt and
	// store/postgres), appended in group commits.
	const n = 4200
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < n; i += 64 {
				k := fmt.Sprintf("token/%05d", i)
				j, err := l.Append(ctx, store.Append{Leaf: Sized(i, 40), Key: []byte(k)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[k] = j
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// A key moved by a later leaf is listed at that leaf.
	want["token/00007"] = mustAppend(t, l, store.Append{Leaf: ballot("again"), Key: []byte("token/00007"), Replace: true, SetKeys: [][]byte{[]byte("phase/closed")}})
	want["phase/closed"] = want["token/00007"]
	if t.Failed() {
		return
	}
	listed := func(l store.KeyLister, mutate bool) map[string]uint64 {
		t.Helper()
		got := map[string]uint64{}
		err := l.Keys(ctx, func(key []byte, index uint64) error {
			if _, ok := got[string(key)]; ok {
				return fmt.Errorf("key %q listed twice", key)
			}
			got[string(key)] = index
			if mutate {
				key[0] ^= 0xff // the caller's own copy: changing it changes nothing
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	sameKeys := func(what string, got map[string]uint64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: Keys listed %d keys, want %d", what, len(got), len(want))
		}
		for k, i := range want {
			if g, ok := got[k]; !ok || g != i {
				t.Fatalf("%s: Keys lists %q at %d (listed %v), want %d", what, k, g, ok, i)
			}
		}
	}
	sameKeys("the original", listed(lister, true))
	if i, ok, err := src.Lookup(ctx, []byte("token/00001")); err != nil || !ok || i != want["token/00001"] {
		t.Fatalf("after the listing changed its keys, Lookup gives %d, %v, %v", i, ok, err)
	}
	stop := errors.New("stop")
	calls := 0
	if err := lister.Keys(ctx, func([]byte, uint64) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Keys whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
	}
	size, _ := l.Size()
	var orig bytes.Buffer
	if err := l.Export(&orig); err != nil {
		t.Fatal(err)
	}
	wantExport := orig.Bytes()

	dst, _ := newEngine(t)
	defer dst.Close()
	var steps []string
	c, err := store.Copy(ctx, dst, src, s.Name(), s.KeyHash(), &store.CopyOptions{BatchLeaves: 1000, BatchBytes: 16 << 10,
		Progress: func(step string, done, total uint64) {
			if len(steps) == 0 || steps[len(steps)-1] != step {
				steps = append(steps, step)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := l.CheckpointAt(size)
	if err != nil {
		t.Fatal(err)
	}
	if c.Entries != size || c.Keys != len(want) || c.Root != cp.Hash {
		t.Fatalf("Copy copied %d entries, %d keys, root %v; want %d, %d, %v", c.Entries, c.Keys, c.Root, size, len(want), cp.Hash)
	}
	if fmt.Sprint(steps) != "[copying checking]" {
		t.Errorf("Copy's progress went through %v", steps)
	}
	copied := newLog(t, shared{dst}, s, nil)
	defer copied.Close()
	var exp bytes.Buffer
	if err := copied.Export(&exp); err != nil || !bytes.Equal(exp.Bytes(), wantExport) {
		t.Fatalf("the copy's Export differs from the original's (%v)", err)
	}
	ccp, err := copied.Checkpoint(ctx)
	if err != nil || !bytes.Equal(ccp.Signed, cp.Signed) {
		t.Fatalf("the copy's checkpoint differs from the original's (%v)", err)
	}
	if _, err := store.ParseCheckpoint(ccp.Signed, v); err != nil {
		t.Fatal(err)
	}
	// Proofs from the copy's hashes check against the original's
	// checkpoints.
	early, err := l.CheckpointAt(size / 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint64{0, 1, size / 3, size / 2, size - 1} {
		leaf, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		p, err := copied.ProveInclusion(i, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.VerifyInclusion(cp, i, leaf, p); err != nil {
			t.Fatalf("the copy's proof of entry %d: %v", i, err)
		}
	}
	p, err := copied.ProveConsistency(early.Size, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.VerifyConsistency(early, cp, p); err != nil {
		t.Fatalf("the copy's consistency proof: %v", err)
	}
	sameKeys("the copy", listed(dst.(store.KeyLister), false))
	for _, k := range []string{"phase/opened", "token/00000", "token/00007", "token/04199", "phase/closed"} {
		if g, ok, err := copied.Lookup([]byte(k)); err != nil || !ok || g != want[k] {
			t.Fatalf("the copy's key %q: %d, %v, %v; want %d", k, g, ok, err, want[k])
		}
	}
	if _, err := copied.Append(ctx, store.Append{Leaf: ballot("second"), Key: []byte("token/00042")}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a key used in the original, appended in the copy: %v, want ErrDuplicate", err)
	}
	if _, err := copied.Append(ctx, store.Append{Leaf: ballot("new"), Key: []byte("token/new")}); err != nil {
		t.Fatalf("a new key in the copy: %v", err)
	}

	// A second copy into the copy is refused, before it writes anything.
	before, _ := copied.Size()
	if _, err := store.Copy(ctx, dst, src, s.Name(), s.KeyHash(), nil); !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("a copy into a store holding a log: %v, want ErrNotEmpty", err)
	}
	if after, _ := copied.Size(); after != before {
		t.Fatalf("the refused copy changed the destination's size from %d to %d", before, after)
	}
	// So is a copy for another key, and the destination is left unbound.
	other, _ := keys(t)
	empty, _ := newEngine(t)
	defer empty.Close()
	if _, err := store.Copy(ctx, empty, src, other.Name(), other.KeyHash(), nil); err == nil {
		t.Fatal("a copy for another key than the source's was not refused")
	}
	if n, err := empty.Size(ctx); err != nil || n != 0 {
		t.Fatalf("the refused copy left %d entries (%v)", n, err)
	}
	if err := empty.Bind(ctx, other.Name(), other.KeyHash()); err != nil {
		t.Fatalf("the refused copy bound the destination: %v", err)
	}
	// A destination bound to another key is refused too.
	if _, err := store.Copy(ctx, empty, src, s.Name(), s.KeyHash(), nil); err == nil {
		t.Fatal("a copy into a store bound to another key was not refused")
	}
	if n, err := empty.Size(ctx); err != nil || n != 0 {
		t.Fatalf("the refused copy left %d entries (%v)", n, err)
	}
}

// AppendAll appends leaves from 64 goroutines, so in few group commits and
// in no particular order, failing the test on any error.
func AppendAll(t testing.TB, l store.Log, leaves [][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(leaves))
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < len(leaves); i += 64 {
				if _, err := l.Append(ctx, store.Append{Leaf: leaves[i]}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// WantExport is the export of the log's first n entries, written leaf by
// leaf from Leaf and CheckpointAt: what Export must write.
func WantExport(t testing.TB, l store.Log, n uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := store.NewWriter(&buf)
	for i := range n {
		leaf, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(leaf); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := l.CheckpointAt(n)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(cp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Export reads in batches of bounded bytes and leaves; whatever the
// batches, the bytes are the record's, leaf for leaf.
func testExportBatches(t *testing.T, newEngine NewEngine) {
	l, _ := open(t, newEngine, nil)
	mustAppend(t, l, store.Append{Leaf: manifest()})
	var leaves [][]byte
	for i := range 5000 { // more than one batch of leaves
		leaves = append(leaves, Sized(i, 20))
	}
	for i := range 40 { // more than one batch of bytes
		leaves = append(leaves, Sized(i, store.MaxLeafSize-1))
	}
	AppendAll(t, l, leaves)
	var got bytes.Buffer
	if err := l.Export(&got); err != nil {
		t.Fatal(err)
	}
	n, _ := l.Size()
	if !bytes.Equal(got.Bytes(), WantExport(t, l, n)) {
		t.Fatal("the export differs from the log's leaves and checkpoint")
	}
}

// An export whose reader has stopped reading holds up nothing: appends
// (many MiB of them) and Size complete while it is blocked in a write, and
// the export, once read, is the record at the size it started with.
// (store/bolt's TestAttackBlockedExportHoldsNoTransaction also makes bbolt
// outgrow its memory map meanwhile, which is how holding a read
// transaction used to stop every cast.)
func testBlockedExport(t *testing.T, newEngine NewEngine) {
	l, _ := open(t, newEngine, nil)
	mustAppend(t, l, store.Append{Leaf: manifest()})
	var first [][]byte
	for i := range 200 { // 200 KiB: past the record writer's 64 KiB buffer
		first = append(first, Sized(i, 1024))
	}
	AppendAll(t, l, first)
	BlockedExport(t, l, func() {
		var more [][]byte
		for i := range 128 { // 8 MiB
			more = append(more, Sized(i, store.MaxLeafSize-1))
		}
		AppendAll(t, l, more)
	})
}

// BlockedExport starts an export of l, takes its first bytes and stops
// reading; meanwhile appends runs, and it and a Size must end within ten
// seconds. It then reads the rest and checks it is the record of l at the
// size it had when the export began.
func BlockedExport(t testing.TB, l store.Log, appends func()) {
	t.Helper()
	start, _ := l.Size()
	pr, pw := io.Pipe()
	exported := make(chan error, 1)
	go func() { exported <- l.Export(pw); pw.Close() }()
	// Take the first bytes, so the export is under way, then stop reading.
	if _, err := io.ReadFull(pr, make([]byte, len(store.Magic))); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		appends()
		if _, err := l.Size(); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		pr.CloseWithError(errors.New("test over")) // let the appends go, to end the test
		<-done
		t.Fatal("appends waited for an export blocked in a write")
	}
	rest, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-exported; err != nil {
		t.Fatal(err)
	}
	got := append([]byte(store.Magic), rest...)
	if !bytes.Equal(got, WantExport(t, l, start)) {
		t.Fatalf("the export that was blocked is not the record of the %d entries there were when it began", start)
	}
}

// BenchmarkAppend appends 300-byte leaves with unique keys from 64
// goroutines per core to a Log over a new engine, with and without group
// commit, and reports appends per second.
func BenchmarkAppend(b *testing.B, newEngine NewEngine) {
	for _, group := range []bool{true, false} {
		b.Run(fmt.Sprint("group=", group), func(b *testing.B) {
			l, _ := open(b, newEngine, &store.Options{NoGroupCommit: !group})
			mustAppend(b, l, store.Append{Leaf: manifest()})
			var n atomic.Int64
			b.SetParallelism(64)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					leaf := Sized(int(n.Add(1)), 299)
					if _, err := l.Append(ctx, store.Append{Leaf: leaf, Key: leaf[:20]}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
