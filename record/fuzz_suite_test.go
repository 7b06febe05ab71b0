package record_test

import (
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
)

// bodies returns the bodies of the entries of type typ of a small election,
// after its tally.
func bodies(f *testing.F, typ store.EntryType) (*electiontest.Election, [][]byte) {
	e := electiontest.New(f, electiontest.Options{})
	e.Cast(f, e.Voter(f), []int{0})
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

// FuzzCeremonyMessage feeds arbitrary ceremony entry bodies to a fresh
// ceremony: no panic, and whatever Add accepts has a uniqueness key.
func FuzzCeremonyMessage(f *testing.F) {
	e, msgs := bodies(f, store.Ceremony)
	m := e.Board.Manifest()
	for _, b := range msgs {
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{record.KindComplaint, 1, 3, 1, 2, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := record.NewCeremony(m)
		if err := c.Add(b); err != nil {
			return
		}
		if _, err := record.UniqueKey(m, b); err != nil {
			t.Fatalf("Add accepted a message UniqueKey refuses: %v", err)
		}
		if err := c.Add(b); err == nil {
			t.Fatal("Add accepted the same message twice")
		}
	})
}

// FuzzParseOpen feeds arbitrary open entry bodies to ParseOpen: no panic,
// and what it accepts keeps its bytes.
func FuzzParseOpen(f *testing.F) {
	e, opens := bodies(f, store.Open)
	m := e.Board.Manifest()
	for _, b := range opens {
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(append(b[:len(b)-1:len(b)-1], `,"disqualified":[{"trustee":3,"reason":"complaints-unanswered","accusers":[1,2]},{"trustee":3,"reason":"bad-answer","accusers":[3]}]}`...))
		f.Add(append(b[:len(b)-1:len(b)-1], `,"disqualified":[{"trustee":2,"reason":"no-deal"}]}`...))
	}
	f.Add([]byte(`{"election_key":"00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := record.ParseOpen(m, b)
		if err != nil {
			return
		}
		if string(o.Bytes()) != string(b) {
			t.Fatal("the open entry's bytes changed")
		}
		if len(o.VerificationKeys) != m.Trustees.N || o.Key == nil {
			t.Fatalf("accepted an open entry with %d verification keys for %d trustees", len(o.VerificationKeys), m.Trustees.N)
		}
		for _, d := range o.Disqualified() {
			if !d.Fault.Valid() || d.Fault.HasAccusers() != (len(d.Accusers) > 0) {
				t.Fatalf("accepted the disqualification %+v", d)
			}
		}
	})
}
