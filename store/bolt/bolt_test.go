package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/store/storetest"
	bbolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
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

func open(t testing.TB, dir string, opts *bolt.Options) store.Log {
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

// newEngine makes the engine of a new store in a directory of its own,
// for the conformance suite.
func newEngine(t testing.TB) (store.Engine, func() store.Engine) {
	dir := t.TempDir()
	open := func() store.Engine {
		e, err := bolt.OpenEngine(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return open(), open
}

// TestEngineConformance runs the store.Engine conformance suite on bbolt.
func TestEngineConformance(t *testing.T) { storetest.Run(t, newEngine) }

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

// TestLayout pins the file's layout to store/SPEC.md's: buckets leaves
// (8-byte index -> leaf), hashes (8-byte stored-hash index -> hash), keys
// (key -> 8-byte index) and meta (size, origin, keyhash), and nothing else,
// so a data directory written before the engine seam still opens.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, nil)
	leaves := [][]byte{manifest(), ballot("a"), ballot("b")}
	for i, leaf := range leaves {
		mustAppend(t, l, store.Append{Leaf: leaf, Key: fmt.Appendf(nil, "k%d", i), SetKeys: [][]byte{[]byte("last")}})
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	db, err := bbolt.Open(filepath.Join(dir, bolt.FileName), 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u64 := func(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
	s, _ := keys(t)
	want := map[string]map[string][]byte{
		"leaves": {}, "hashes": {},
		"keys": {"k0": u64(0), "k1": u64(1), "k2": u64(2), "last": u64(2)},
		"meta": {"size": u64(3), "origin": []byte(s.Name()), "keyhash": binary.BigEndian.AppendUint32(nil, s.KeyHash())},
	}
	var hs []tlog.Hash
	for i, leaf := range leaves {
		want["leaves"][string(u64(uint64(i)))] = leaf
		h, err := tlog.StoredHashes(int64(i), leaf, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for j, x := range idx {
				out[j] = hs[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h...)
	}
	for i, h := range hs {
		want["hashes"][string(u64(uint64(i)))] = h[:]
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			w, ok := want[string(name)]
			if !ok {
				return fmt.Errorf("bucket %q is not in the layout", name)
			}
			got := 0
			err := b.ForEach(func(k, v []byte) error {
				got++
				if !bytes.Equal(w[string(k)], v) {
					return fmt.Errorf("bucket %s, key %x: %x, want %x", name, k, v, w[string(k)])
				}
				return nil
			})
			if err == nil && got != len(w) {
				err = fmt.Errorf("bucket %s holds %d keys, want %d", name, got, len(w))
			}
			delete(want, string(name))
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 0 {
		t.Fatalf("buckets missing: %v", want)
	}
	if root, _ := tlog.TreeHash(3, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			out[j] = hs[x]
		}
		return out, nil
	})); root != cp.Hash {
		t.Fatal("the stored hashes do not give the checkpoint's root")
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
		first = append(first, storetest.Sized(i, 1024))
	}
	storetest.AppendAll(t, l, first)
	fi, _ := os.Stat(filepath.Join(dir, bolt.FileName))
	startBytes := fi.Size()
	storetest.BlockedExport(t, l, func() {
		var more [][]byte
		for i := range 128 { // 8 MiB
			more = append(more, storetest.Sized(i, store.MaxLeafSize-1))
		}
		storetest.AppendAll(t, l, more)
		fi, _ := os.Stat(filepath.Join(dir, bolt.FileName))
		if fi.Size() < 8*startBytes {
			t.Errorf("the file grew from %d to %d bytes only: its memory map was not outgrown, so this tested nothing", startBytes, fi.Size())
		}
	})
}

// TestReadOnly: a store opened ReadOnly serves the log (its export is the
// read-write open's) and changes nothing: the file's bytes stay the same,
// an append fails, a missing store is not created, and another key is
// refused. A board holding the store keeps a read-only open out.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, nil)
	mustAppend(t, l, store.Append{Leaf: manifest(), Key: []byte("k")})
	mustAppend(t, l, store.Append{Leaf: ballot("b")})
	var want bytes.Buffer
	if err := l.Export(&want); err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.OpenEngine(dir, &bolt.Options{ReadOnly: true, LockTimeout: 50 * time.Millisecond}); !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("a read-only open of a store a board holds: %v, want ErrLocked", err)
	}
	l.Close()
	path := filepath.Join(dir, bolt.FileName)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s, _ := keys(t)
	e, err := bolt.OpenEngine(dir, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	e2, err := bolt.OpenEngine(dir, &bolt.Options{ReadOnly: true, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("a second read-only open: %v", err)
	}
	e2.Close()
	ro, err := store.New(e, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := ro.Export(&got); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("the read-only export differs (%v)", err)
	}
	if i, ok, err := ro.Lookup([]byte("k")); err != nil || !ok || i != 0 {
		t.Fatalf("read-only lookup: %d, %v, %v", i, ok, err)
	}
	if _, err := ro.Append(ctx, store.Append{Leaf: ballot("c")}); !errors.Is(err, store.ErrNotStored) {
		t.Fatalf("a read-only append: %v, want ErrNotStored", err)
	}
	other, _, _ := note.GenerateKey(nil, s.Name())
	os2, _ := note.NewSigner(other)
	if err := e.Bind(ctx, os2.Name(), os2.KeyHash()); err == nil || !strings.Contains(err.Error(), "open it with its own key") {
		t.Fatalf("read-only Bind with another key: %v", err)
	}
	ro.Close()
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("the read-only open changed the file (%v)", err)
	}

	missing := filepath.Join(t.TempDir(), "none")
	if _, err := bolt.OpenEngine(missing, &bolt.Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "no log in") {
		t.Fatalf("a read-only open of no store: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the read-only open of no store made %s (%v)", missing, err)
	}
}
