package trustee

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A CeremonyBoard is what a trustee reads the key ceremony through:
// the board's signed checkpoints, its consistency proofs and its entries.
// boardapi.Client is one.
type CeremonyBoard interface {
	Checkpoint(ctx context.Context, size uint64) ([]byte, error)
	Consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error)
	Entry(ctx context.Context, index uint64) ([]byte, error)
}

// An Entry is one ceremony message on the board: its index in the log,
// its body (the ceremony entry's, kind || message || signature) and its
// sender.
type Entry struct {
	Index uint64
	Kind  byte
	From  int
	Body  []byte
	key   string // record.UniqueKey
}

// OnBoard is the key ceremony as a board's log holds it, read and
// checked by FetchCeremony.
type OnBoard struct {
	// Checkpoint is the board's signed checkpoint the entries were
	// proven to be the start of.
	Checkpoint *store.Checkpoint
	Ceremony   *record.Ceremony
	Entries    []Entry // the ceremony entries, in log order
	// Open is the open entry, at OpenIndex; nil before open.
	Open      *record.Open
	OpenIndex uint64
}

// Of returns the entries of kind from trustee from, in log order.
func (o *OnBoard) Of(kind byte, from int) []Entry {
	var out []Entry
	for _, e := range o.Entries {
		if e.Kind == kind && e.From == from {
			out = append(out, e)
		}
	}
	return out
}

// Holding says whether the board holds a message with the same place as
// msg (the same announcement, deal, complaint, answer or check, by
// record.UniqueKey): the entry, and whether it is msg byte for byte. A
// trustee posts only what the board does not hold, so running a step
// twice posts nothing twice; a message in msg's place that is not msg was
// made from another state than this one.
func (o *OnBoard) Holding(msg Message) (e Entry, same, ok bool) {
	key, err := record.UniqueKey(o.Ceremony.Manifest(), msg.Body)
	if err != nil {
		return Entry{}, false, false
	}
	for _, e := range o.Entries {
		if e.key == string(key) {
			return e, bytes.Equal(e.Body, msg.Body), true
		}
	}
	return Entry{}, false, false
}

// FetchCeremony reads the key ceremony from a board the way a trustee
// reads anything of it: the board's newest checkpoint, verified under
// boardKey and, with a journal, proven to extend the one recorded before
// (and recorded in its place, saved: the same check evote trustee
// checkpoint makes, so a board showing this trustee a fork is caught
// here as well as at decryption); the entries from the manifest to the
// open entry, proven to be the start of that checkpoint's log; entry 0
// the manifest m; every ceremony entry valid (record.Ceremony.Add); and
// the open entry, if any, the one the ceremony decides. A board that
// fails any of these is refused (ErrFork for a history that does not
// extend the journal's).
func FetchCeremony(ctx context.Context, b CeremonyBoard, boardKey note.Verifier, m *ballot.Manifest, j *Journal) (*OnBoard, error) {
	signed, err := b.Checkpoint(ctx, 0)
	if err != nil {
		return nil, err
	}
	cp, err := store.ParseCheckpoint(signed, boardKey)
	if err != nil {
		return nil, fmt.Errorf("trustee: the board's checkpoint: %w", err)
	}
	if j != nil {
		if err := j.follow(ctx, b, cp); err != nil {
			return nil, err
		}
	}
	// Before the open entry the log holds nothing but ceremony entries,
	// at most 2n + 3n² of them (SPEC.md §10.1): a board claiming more is
	// not read on.
	n := uint64(m.Trustees.N)
	limit := min(cp.Size, 1+2*n+3*n*n+1)
	o := &OnBoard{Checkpoint: cp, Ceremony: record.NewCeremony(m)}
	var leaves [][]byte
	for i := uint64(0); i < limit && o.Open == nil; i++ {
		leaf, err := b.Entry(ctx, i)
		if err != nil {
			return nil, err
		}
		leaves = append(leaves, leaf)
		switch {
		case len(leaf) == 0:
			return nil, fmt.Errorf("trustee: the board's entry %d is empty", i)
		case i == 0:
			if store.EntryType(leaf[0]) != store.Manifest || !bytes.Equal(leaf[1:], m.Bytes()) {
				return nil, errors.New("trustee: the board's entry 0 is not this election's manifest: the board serves another election, or the manifest given is not the one it published")
			}
		case store.EntryType(leaf[0]) == store.Ceremony:
			body := leaf[1:]
			if err := o.Ceremony.Add(body); err != nil {
				return nil, fmt.Errorf("trustee: the board's entry %d is not a valid ceremony message: %w", i, err)
			}
			key, _ := record.UniqueKey(m, body)
			from, _ := record.Sender(m, body)
			o.Entries = append(o.Entries, Entry{Index: i, Kind: body[0], From: from, Body: bytes.Clone(body), key: string(key)})
		case store.EntryType(leaf[0]) == store.Open:
			decided, err := o.Ceremony.Qualify()
			if err != nil {
				return nil, fmt.Errorf("trustee: the board opened at entry %d, but its ceremony decides no key: %w", i, err)
			}
			if !bytes.Equal(decided.Bytes(), leaf[1:]) {
				return nil, fmt.Errorf("trustee: the board's open entry %d is not what the ceremony's messages decide: do not let voting go on", i)
			}
			o.Open, o.OpenIndex = decided, i
		default:
			return nil, fmt.Errorf("trustee: the board's entry %d, before any open entry, is a %s entry", i, store.EntryType(leaf[0]))
		}
	}
	if o.Open == nil && limit < cp.Size {
		return nil, fmt.Errorf("trustee: the board's log has %d entries and no open entry among the first %d, more than a ceremony of %d trustees can have", cp.Size, limit, n)
	}
	if err := provePrefix(ctx, b, cp, leaves); err != nil {
		return nil, err
	}
	return o, nil
}

// provePrefix checks that leaves are the first entries of cp's log.
func provePrefix(ctx context.Context, b CeremonyBoard, cp *store.Checkpoint, leaves [][]byte) error {
	root, err := store.TreeHash(leaves)
	if err != nil {
		return err
	}
	prefix := &store.Checkpoint{Origin: cp.Origin, Size: uint64(len(leaves)), Hash: root}
	var proof tlog.TreeProof
	if prefix.Size < cp.Size {
		if proof, err = b.Consistency(ctx, prefix.Size, cp.Size); err != nil {
			return err
		}
	}
	if err := store.VerifyConsistency(prefix, cp, proof); err != nil {
		return fmt.Errorf("trustee: the entries the board served are not the start of its signed log: %w", err)
	}
	return nil
}

// follow records cp in the journal once the board proves it extends the
// checkpoint recorded before, and saves it.
func (j *Journal) follow(ctx context.Context, b CeremonyBoard, cp *store.Checkpoint) error {
	var proof tlog.TreeProof
	if before := j.Newest; before != nil && before.Size != cp.Size {
		lo, hi := min(before.Size, cp.Size), max(before.Size, cp.Size)
		var err error
		if proof, err = b.Consistency(ctx, lo, hi); err != nil {
			return fmt.Errorf("%w: the board gives no proof that its log of %d entries extends the one of %d recorded: %v", ErrFork, hi, lo, err)
		}
	}
	if err := j.Observe(cp, proof); err != nil {
		return err
	}
	return j.Save()
}
