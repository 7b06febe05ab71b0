package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"golang.org/x/mod/sumdb/note"
)

// A key for tests only; it guards nothing.
const (
	testSKey = "PRIVATE+KEY+evote.example/test-board+4f7a7232+AeGy0LoPBylK+VYK6zCFUi2mBIOW3UkRKTk8knJ+ZLFY"
	testVKey = "evote.example/test-board+4f7a7232+AeuJRzZJwpR/5pA7JbO75ZuzalDK7zTQJFV3ePN4MWBq"
)

func keys(t testing.TB) (note.Signer, note.Verifier) {
	s, err := note.NewSigner(testSKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(testVKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func open(t testing.TB, dir string, opts *bolt.Options) *bolt.Log {
	t.Helper()
	s, _ := keys(t)
	l, err := bolt.Open(dir, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var ctx = context.Background()

func manifest() []byte { return store.Leaf(store.Manifest, []byte("manifest")) }

func ballot(s string) []byte { return store.Leaf(store.Ballot, []byte(s)) }

func mustAppend(t testing.TB, l store.Log, a store.Append) uint64 {
	t.Helper()
	i, err := l.Append(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// checkLog checks, against the log's current checkpoint, every leaf's
// inclusion and every stored checkpoint's consistency, and that the export
// reads back.
func checkLog(t *testing.T, l store.Log, leaves [][]byte, cps []*store.Checkpoint) {
	t.Helper()
	_, v := keys(t)
	for _, cp := range cps {
		if _, err := store.ParseCheckpoint(cp.Signed, v); err != nil {
			t.Fatalf("checkpoint of size %d: %v", cp.Size, err)
		}
		stored, err := l.CheckpointAt(cp.Size)
		if err != nil || !bytes.Equal(stored.Signed, cp.Signed) || stored.Hash != cp.Hash {
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

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, nil)
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
	checkLog(t, l, leaves, cps)
	l.Close()

	l = open(t, dir, nil)
	defer l.Close()
	if n, _ := l.Size(); n != 20 {
		t.Fatalf("reopened size %d", n)
	}
	for i, want := range leaves {
		got, err := l.Leaf(uint64(i))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("leaf %d after reopen: %q %v", i, got, err)
		}
		if x, ok, _ := l.Lookup([]byte(fmt.Sprint("k", i))); !ok || x != uint64(i) {
			t.Fatalf("key k%d after reopen: %d %v", i, x, ok)
		}
	}
	if _, err := l.Leaf(20); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("leaf 20: %v", err)
	}
	checkLog(t, l, leaves, cps)
	if _, err := l.ProveInclusion(3, 21); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("proof beyond the log: %v", err)
	}
	if _, err := l.ProveConsistency(0, 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("consistency from 0: %v", err)
	}
	if _, err := l.CheckpointAt(7000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("checkpoint never handed out: %v", err)
	}
}

// TestRefusals appends bad requests and checks each is refused with a clear
// error and leaves the log as it was.
func TestRefusals(t *testing.T) {
	for _, group := range []bool{true, false} {
		t.Run(fmt.Sprint("group=", group), func(t *testing.T) {
			l := open(t, t.TempDir(), &bolt.Options{NoGroupCommit: !group})
			defer l.Close()
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
				{"check fails", store.Append{Leaf: ballot("two"), Key: []byte("token/2"), Check: func(store.View) error { return errCheck }}, errCheck, "refused by check"},
				{"empty key", store.Append{Leaf: ballot("two"), Key: []byte{}}, nil, "keys are 1 to"},
				{"huge key", store.Append{Leaf: ballot("two"), SetKeys: [][]byte{make([]byte, store.MaxKeySize+1)}}, nil, "keys are 1 to"},
			} {
				_, err := l.Append(ctx, tc.a)
				if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: got %v, want %v containing %q", tc.name, err, tc.is, tc.want)
				}
			}
			for _, k := range []string{"token/2", "x"} {
				if _, ok, _ := l.Lookup([]byte(k)); ok {
					t.Errorf("key %q of a refused append was stored", k)
				}
			}
			after, _ := l.Checkpoint(ctx)
			if after != before {
				t.Fatalf("refused appends changed the log: size %d -> %d", before.Size, after.Size)
			}

			// Replace moves a key; a close entry sets the phase key and the check then refuses.
			i := mustAppend(t, l, store.Append{Leaf: ballot("one again"), Key: []byte("token/1"), Replace: true, Check: notClosed})
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
		})
	}
}

// TestSameKeyConcurrent races many writers on one key: exactly one wins,
// and writers of distinct keys in the same groups all succeed.
func TestSameKeyConcurrent(t *testing.T) {
	for _, group := range []bool{true, false} {
		t.Run(fmt.Sprint("group=", group), func(t *testing.T) {
			l := open(t, t.TempDir(), &bolt.Options{NoGroupCommit: !group, MaxBatchDelay: time.Millisecond})
			defer l.Close()
			mustAppend(t, l, store.Append{Leaf: manifest()})
			const writers = 64
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, dup, distinct := 0, 0, 0
			for w := range writers {
				wg.Add(2)
				go func() {
					defer wg.Done()
					_, err := l.Append(ctx, store.Append{Leaf: ballot(fmt.Sprint("same ", w)), Key: []byte("token/same")})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, store.ErrDuplicate):
						dup++
					default:
						t.Error(err)
					}
				}()
				go func() {
					defer wg.Done()
					_, err := l.Append(ctx, store.Append{Leaf: ballot(fmt.Sprint("own ", w)), Key: fmt.Append(nil, "token/", w)})
					if err != nil {
						t.Error(err)
					}
					cp, err := l.Checkpoint(ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					defer mu.Unlock()
					distinct++
					_ = cp
				}()
			}
			wg.Wait()
			if won != 1 || dup != writers-1 || distinct != writers {
				t.Fatalf("same key: %d accepted, %d duplicates; distinct keys: %d", won, dup, distinct)
			}
			if n, _ := l.Size(); n != 1+1+writers {
				t.Fatalf("size %d, want %d", n, 2+writers)
			}
		})
	}
}

// A Check that panics fails its own append only.
func TestCheckPanics(t *testing.T) {
	l := open(t, t.TempDir(), &bolt.Options{MaxBatchDelay: 5 * time.Millisecond})
	defer l.Close()
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
	if n, _ := l.Size(); n != 8 {
		t.Fatalf("size %d, want 8", n)
	}
}

func TestLockedAndWrongKey(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, nil)
	s, _ := keys(t)
	_, err := bolt.Open(dir, s, &bolt.Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, bolt.ErrLocked) || !strings.Contains(err.Error(), "store is locked by another process") {
		t.Fatalf("second open: %v", err)
	}
	l.Close()
	otherS, _, _ := note.GenerateKey(nil, "evote.example/other")
	other, _ := note.NewSigner(otherS)
	if _, err := bolt.Open(dir, other, nil); err == nil || !strings.Contains(err.Error(), "open it with its own key") {
		t.Fatalf("open with another key: %v", err)
	}
}

// appendAll appends leaves from 64 goroutines, so in few group commits and
// in no particular order.
func appendAll(t *testing.T, l *bolt.Log, leaves [][]byte) {
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

// wantExport is the export of the log's first n entries, written leaf by
// leaf from Leaf and CheckpointAt.
func wantExport(t *testing.T, l *bolt.Log, n uint64) []byte {
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

func sized(i, n int) []byte {
	b := make([]byte, n)
	copy(b, fmt.Sprint("ballot ", i))
	return store.Leaf(store.Ballot, b)
}

// Export reads in batches of bounded bytes and leaves; whatever the
// batches, the bytes are the record's, leaf for leaf.
func TestExportBatches(t *testing.T) {
	l := open(t, t.TempDir(), nil)
	defer l.Close()
	mustAppend(t, l, store.Append{Leaf: manifest()})
	var leaves [][]byte
	for i := range 5000 { // more than one batch of leaves
		leaves = append(leaves, sized(i, 20))
	}
	for i := range 40 { // more than one batch of bytes
		leaves = append(leaves, sized(i, store.MaxLeafSize-1))
	}
	appendAll(t, l, leaves)
	var got bytes.Buffer
	if err := l.Export(&got); err != nil {
		t.Fatal(err)
	}
	n, _ := l.Size()
	if !bytes.Equal(got.Bytes(), wantExport(t, l, n)) {
		t.Fatal("the export differs from the log's leaves and checkpoint")
	}
}

// An export whose reader has stopped reading must hold no transaction:
// bbolt grows its memory map only once every reader is out, so an export
// blocked in a write inside one stopped every append (and every Size, so
// /healthz) behind the first that needed a bigger map. Here the export is
// blocked in a write while appends grow the file eight times over; they
// and Size must complete, and the export, once read, must be the record at
// the size it started with.
func TestAttackBlockedExportHoldsNoTransaction(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, nil)
	defer l.Close()
	mustAppend(t, l, store.Append{Leaf: manifest()})
	var first [][]byte
	for i := range 200 { // 200 KiB: past the record writer's 64 KiB buffer
		first = append(first, sized(i, 1024))
	}
	appendAll(t, l, first)
	start, _ := l.Size()
	fi, _ := os.Stat(filepath.Join(dir, bolt.FileName))
	startBytes := fi.Size()

	pr, pw := io.Pipe()
	exported := make(chan error, 1)
	go func() { exported <- l.Export(pw); pw.Close() }()
	// Take the first bytes, so the export is under way, then stop reading.
	if _, err := io.ReadFull(pr, make([]byte, len(store.Magic))); err != nil {
		t.Fatal(err)
	}

	var more [][]byte
	for i := range 128 { // 8 MiB
		more = append(more, sized(i, store.MaxLeafSize-1))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendAll(t, l, more)
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
	fi, _ = os.Stat(filepath.Join(dir, bolt.FileName))
	if fi.Size() < 8*startBytes {
		t.Fatalf("the file grew from %d to %d bytes only: its memory map was not outgrown, so this tested nothing", startBytes, fi.Size())
	}

	rest, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-exported; err != nil {
		t.Fatal(err)
	}
	got := append([]byte(store.Magic), rest...)
	if !bytes.Equal(got, wantExport(t, l, start)) {
		t.Fatalf("the export that was blocked is not the record of the %d entries there were when it began", start)
	}
}
