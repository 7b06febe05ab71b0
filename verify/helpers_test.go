package verify_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/note"
)

// A board key for tests only: it re-signs tampered records, standing for a
// board that signs whatever log it likes.
const (
	testSignerKey   = "PRIVATE+KEY+evote.example/verify-test-board+f17c07d1+AVSdyJggWNn979Y9OAEu7zUMpmd/HRGi9UNIKhdKIrGQ"
	testVerifierKey = "evote.example/verify-test-board+f17c07d1+Ad0FrqVzPtOJNJcN2R4k+mkcRnAfZT7V2RDr9heZCa1d"
)

func testKeys(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	s, err := note.NewSigner(testSignerKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.BoardKey(testVerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// election runs a small election: voters ballots, each picking choice
// picks[i % len(picks)] of the one yes/no question, then the tally.
func election(t testing.TB, o electiontest.Options, picks ...int) (*electiontest.Election, []byte, *tally.Result) {
	t.Helper()
	e := electiontest.New(t, o)
	for _, p := range picks {
		e.Cast(t, e.Voter(t), []int{p})
	}
	res := e.Tally(t)
	return e, e.Export(t), res
}

// leaves returns the leaves of a record.
func leaves(t testing.TB, rec []byte, v note.Verifier) [][]byte {
	t.Helper()
	r := store.NewReader(bytes.NewReader(rec), v)
	var out [][]byte
	for {
		leaf, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, leaf)
	}
}

// resign writes leaves as a record signed by the test board key.
func resign(t testing.TB, ls [][]byte) []byte {
	t.Helper()
	signer, _ := testKeys(t)
	return electiontest.Signed(t, signer, ls)
}

// index returns the index of the n-th (0-based) leaf of type typ.
func index(t testing.TB, ls [][]byte, typ store.EntryType, n int) int {
	t.Helper()
	for i, l := range ls {
		if store.EntryType(l[0]) == typ {
			if n == 0 {
				return i
			}
			n--
		}
	}
	t.Fatalf("no %v entry #%d", typ, n)
	return -1
}

func insert(ls [][]byte, at int, leaf []byte) [][]byte {
	out := append([][]byte{}, ls[:at]...)
	out = append(out, leaf)
	return append(out, ls[at:]...)
}

// mustFail verifies rec and checks that it fails with a message containing
// every one of want.
func mustFail(t *testing.T, rec []byte, v note.Verifier, want ...string) *verify.Report {
	t.Helper()
	rep, err := verify.Record(bytes.NewReader(rec), v, verify.Options{})
	if err == nil || rep.OK {
		t.Fatalf("a tampered record verifies; want an error with %q", want)
	}
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *verify.Error", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
	return rep
}

// frames returns the byte offset of each leaf (its length prefix) in an
// export file, and the offset of the end marker.
func frames(rec []byte) (starts []int, end int) {
	off := len(store.Magic)
	for {
		n := int(binary.BigEndian.Uint32(rec[off:]))
		if n == 0 {
			return starts, off
		}
		starts = append(starts, off)
		off += 4 + n
	}
}
