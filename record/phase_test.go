package record

import (
	"errors"
	"testing"

	"github.com/evote/evote/store"
)

// TestPhaseAdmits pins SPEC.md §8's order of entries, the one table the
// board and every verifier read it from.
func TestPhaseAdmits(t *testing.T) {
	for _, c := range []struct {
		p    Phase
		t    store.EntryType
		want error
	}{
		{PhaseCeremony, store.Ceremony, nil}, {PhaseCeremony, store.Open, nil},
		{PhaseCeremony, store.Ballot, ErrNotOpen}, {PhaseCeremony, store.Close, ErrNotOpen},
		{PhaseCeremony, store.Partial, ErrNotClosed}, {PhaseCeremony, store.Result, ErrNotClosed},
		{PhaseVoting, store.Ceremony, ErrAlreadyOpen}, {PhaseVoting, store.Open, ErrAlreadyOpen},
		{PhaseVoting, store.Ballot, nil}, {PhaseVoting, store.Close, nil},
		{PhaseVoting, store.Partial, ErrNotClosed}, {PhaseVoting, store.Result, ErrNotClosed},
		{PhaseTally, store.Ceremony, ErrAlreadyOpen}, {PhaseTally, store.Ballot, ErrClosed}, {PhaseTally, store.Close, ErrClosed},
		{PhaseTally, store.Partial, nil}, {PhaseTally, store.Result, nil},
		{PhaseCeremony, store.Issuance, ErrNotClosed}, {PhaseVoting, store.Issuance, ErrNotClosed}, {PhaseTally, store.Issuance, nil},
		{PhaseCeremony, store.Manifest, ErrNotEntry}, {PhaseTally, store.Manifest, ErrNotEntry},
	} {
		if err := c.p.Admits(c.t); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%v admits %v: %v, want %v", c.p, c.t, err, c.want)
		}
	}
	if PhaseOf(false, false) != PhaseCeremony || PhaseOf(true, false) != PhaseVoting || PhaseOf(true, true) != PhaseTally {
		t.Fatal("PhaseOf")
	}
}
