package record

import (
	"errors"

	"github.com/evote/evote/store"
)

// Phase is where an election's log stands (SPEC.md §8): before the open
// entry the key ceremony, then voting until the close entry, then the
// tally. The order of entries is written here once; the board refuses an
// entry its phase does not admit before appending it, and every verifier
// (evote verify, the trustee, the voter's client) refuses a record holding
// one.
type Phase int

const (
	// PhaseCeremony: after the manifest (entry 0), before the open entry:
	// ceremony messages, and the open entry that ends them.
	PhaseCeremony Phase = iota
	// PhaseVoting: after the open entry, before the close entry: ballots, and
	// the close entry.
	PhaseVoting
	// PhaseTally: after the close entry: partial decryptions, the result
	// and the issuer's statement of its counts.
	PhaseTally
)

func (p Phase) String() string {
	switch p {
	case PhaseCeremony:
		return "ceremony"
	case PhaseVoting:
		return "open"
	case PhaseTally:
		return "closed"
	}
	return "unknown"
}

// Why an entry is out of its place.
var (
	ErrNotOpen     = errors.New("record: the election is not open for ballots yet")
	ErrClosed      = errors.New("record: the election is closed; no more ballots are accepted")
	ErrNotClosed   = errors.New("record: the election is still open")
	ErrAlreadyOpen = errors.New("record: the election is already open; the key ceremony has ended")
	ErrNotEntry    = errors.New("record: not an entry of this kind here")
)

// PhaseOf is the phase of a log that has (or not) its open and close
// entries.
func PhaseOf(opened, closed bool) Phase {
	switch {
	case closed:
		return PhaseTally
	case opened:
		return PhaseVoting
	}
	return PhaseCeremony
}

// Admits reports whether an entry of type t may come next in phase p: nil,
// or why not, as one of the errors above. It says nothing of what may come
// only once (a second open, close or result); entry 0 is the manifest, and
// a manifest anywhere else is refused as ErrNotEntry.
func (p Phase) Admits(t store.EntryType) error {
	switch t {
	case store.Ceremony, store.Open:
		if p != PhaseCeremony {
			return ErrAlreadyOpen
		}
	case store.Ballot, store.Close:
		switch p {
		case PhaseCeremony:
			return ErrNotOpen
		case PhaseTally:
			return ErrClosed
		}
	case store.Partial, store.Result, store.Issuance:
		if p != PhaseTally {
			return ErrNotClosed
		}
	default:
		return ErrNotEntry
	}
	return nil
}
