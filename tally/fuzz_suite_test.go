package tally_test

import (
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
)

// fuzzBodies returns a small tallied election and the bodies of its
// entries of type typ.
func fuzzBodies(f *testing.F, typ store.EntryType) (*electiontest.Election, [][]byte) {
	e := electiontest.New(f, electiontest.Options{})
	e.Cast(f, e.Voter(f), []int{0})
	e.Cast(f, e.Voter(f), []int{1})
	e.Tally(f)
	n, err := e.Log.Size()
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for i := uint64(0); i < n; i++ {
		l, err := e.Log.Leaf(i)
		if err != nil {
			f.Fatal(err)
		}
		if store.EntryType(l[0]) == typ {
			out = append(out, l[1:])
		}
	}
	return e, out
}

// FuzzParseShare checks ParseShare never panics and that a share it
// accepts encodes back to the same bytes.
func FuzzParseShare(f *testing.F) {
	e, shares := fuzzBodies(f, store.Partial)
	el := e.Board.Election()
	for _, b := range shares {
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append([]byte{9}, b[1:]...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := tally.ParsePartial(el, b)
		if err != nil {
			return
		}
		if string(s.Bytes()) != string(b) {
			t.Fatalf("accepted share %x encodes as %x", b, s.Bytes())
		}
	})
}

// FuzzParseResult checks ParseResult never panics and that a result it
// accepts encodes back to the same bytes (the strict JSON rule).
func FuzzParseResult(f *testing.F) {
	_, results := fuzzBodies(f, store.Result)
	for _, b := range results {
		f.Add(b)
	}
	f.Add([]byte(`{"ballots":2,"counts":[[1,1]]}`))
	f.Add([]byte(`{"ballots":2,"counts":[[1,1]],"Ballots":3}`))
	f.Add([]byte(`{"ballots":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := tally.ParseResult(b)
		if err != nil {
			return
		}
		r2, err := tally.ParseResult(r.Bytes())
		if err != nil || !r2.Equal(r) {
			t.Fatalf("accepted result %q does not survive Bytes: %v", b, err)
		}
	})
}
