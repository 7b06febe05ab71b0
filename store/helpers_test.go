package store_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A key for tests and the worked record in testdata only; it guards nothing.
const (
	testSKey = "PRIVATE+KEY+evote.example/test-board+4f7a7232+AeGy0LoPBylK+VYK6zCFUi2mBIOW3UkRKTk8knJ+ZLFY"
	testVKey = "evote.example/test-board+4f7a7232+AeuJRzZJwpR/5pA7JbO75ZuzalDK7zTQJFV3ePN4MWBq"
)

func testKeys(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
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

// memTree is a whole tree in memory, to make checkpoints and proofs in tests.
type memTree struct {
	leaves [][]byte
	hashes []tlog.Hash
}

func (m *memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTree) add(t testing.TB, leaf []byte) {
	t.Helper()
	hs, err := tlog.StoredHashes(int64(len(m.leaves)), leaf, m)
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.leaves = append(m.leaves, leaf)
}

func (m *memTree) checkpoint(t testing.TB, s note.Signer, n int) *store.Checkpoint {
	t.Helper()
	h, err := tlog.TreeHash(int64(n), m)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.SignCheckpoint(s, uint64(n), h)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// testLeaf is leaf i of a test log: a manifest first, ballots after.
func testLeaf(i, size int) []byte {
	if i == 0 {
		return store.Leaf(store.Manifest, []byte("manifest of a test election"))
	}
	body := fmt.Appendf(nil, "ballot %d|", i)
	if len(body) < size {
		body = append(body, bytes.Repeat([]byte{byte(i)}, size-len(body))...)
	}
	return store.Leaf(store.Ballot, body)
}

func newTree(t testing.TB, n, size int) *memTree {
	m := &memTree{}
	for i := range n {
		m.add(t, testLeaf(i, size))
	}
	return m
}

// record returns the export file of m's leaves.
func record(t testing.TB, m *memTree, s note.Signer) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := store.NewWriter(&buf)
	for _, l := range m.leaves {
		if err := w.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(m.checkpoint(t, s, len(m.leaves))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
