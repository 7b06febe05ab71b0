package trustee

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var (
	// ErrNotOpen means the record holds no open entry: the key ceremony
	// has not ended, and there is no election key yet.
	ErrNotOpen = errors.New("trustee: the election is not open yet: the key ceremony has not ended")
	// ErrNotClosed means the record holds no close entry: voting goes on,
	// and the aggregate is not final.
	ErrNotClosed = errors.New("trustee: the election is still open; its tally is decrypted only after close")
	// ErrTooFewBallots means the record counts fewer ballots than the
	// manifest's min_ballots: no trustee decrypts its tally.
	ErrTooFewBallots = errors.New("trustee: too few ballots to decrypt")
	// ErrWrongShare means a key share is not of the record's ceremony.
	ErrWrongShare = errors.New("trustee: the key share is not of this record's ceremony")
	// ErrAlreadyDecrypted means the trustee's partial decryption is on the
	// record already.
	ErrAlreadyDecrypted = errors.New("trustee: this trustee's partial decryption is already on the board")
)

// Options tune Read and Fetch. The zero value reads a record with no
// checkpoint to check it against.
type Options struct {
	// Checkpoints are checkpoints of the board seen before (a trustee's
	// journal's newest, voters' receipts, a monitor's): the record's first
	// Size entries must hash to each one's root, else ErrFork.
	Checkpoints []*store.Checkpoint
	// Size is the export's length in bytes, for Progress; 0 means unknown.
	Size int64
	// Progress, if set, is called now and then with the bytes read and
	// Size (see verify.Options).
	Progress func(done, total uint64)
}

// A Tally is a board's record as a trustee or a tallier reads it, in one
// pass: every entry verified (the record may stop before its result), the
// aggregate recomputed from the ballots and never taken from the board,
// and what decrypting and combining need.
type Tally struct {
	// Report is the verifier's: the manifest, the signed checkpoint, the
	// ballots and those counted, the aggregate.
	Report *verify.Report
	// Election is the manifest with the election key the ceremony's
	// messages decide.
	Election *ballot.Election
	// Open is the open entry: the trustees' verification keys.
	Open *record.Open
	// Closed says the record holds the close entry.
	Closed bool
	// Partials are the partial decryptions on the record, in record
	// order; each verified against its trustee's verification key.
	Partials []*tally.Partial

	closedSize uint64    // entries through the close entry
	closedRoot tlog.Hash // their root
	extends    []*store.Checkpoint
}

// Read reads a board's export from r, whose checkpoint boardKey signs, in
// one pass: it verifies every entry as verify.Record does (a missing
// result allowed), recomputes the aggregate, takes the election key and
// the verification keys from the ceremony, collects the partial
// decryptions, and checks that the record extends each of o.Checkpoints
// (ErrFork). A record that fails a check is refused: decrypting an
// aggregate that includes a bad ballot would help whoever put it there.
func Read(r io.Reader, boardKey note.Verifier, o Options) (*Tally, error) {
	want := map[uint64]bool{}
	for _, cp := range o.Checkpoints {
		want[cp.Size] = true
	}
	t := &Tally{}
	roots := map[uint64]tlog.Hash{}
	var openBody []byte
	var partials [][]byte
	var rootErr error
	root := func(root func() (tlog.Hash, error)) tlog.Hash {
		h, err := root()
		if err != nil && rootErr == nil {
			rootErr = err
		}
		return h
	}
	on := func(i uint64, leaf []byte, prefix func() (tlog.Hash, error)) {
		if want[i+1] {
			roots[i+1] = root(prefix)
		}
		switch body := leaf[1:]; store.EntryType(leaf[0]) {
		case store.Open:
			if openBody == nil {
				openBody = body
			}
		case store.Close:
			if !t.Closed {
				t.Closed, t.closedSize, t.closedRoot = true, i+1, root(prefix)
			}
		case store.Partial:
			partials = append(partials, body)
		}
	}
	rep, err := verify.Record(r, boardKey, verify.Options{AllowIncomplete: true, Size: o.Size, Progress: o.Progress, OnEntry: on})
	if err != nil {
		return nil, fmt.Errorf("trustee: the board's record does not verify: %w", err)
	}
	if rootErr != nil {
		return nil, rootErr
	}
	t.Report = rep
	if openBody == nil {
		return nil, ErrNotOpen
	}
	// The record verified, so the open entry is byte for byte what the
	// ceremony decides, and every partial entry is valid.
	if t.Open, err = record.ParseOpen(rep.Manifest, openBody); err != nil {
		return nil, err
	}
	t.Election = &ballot.Election{Manifest: rep.Manifest, Key: t.Open.Key}
	for _, b := range partials {
		s, err := tally.ParsePartial(t.Election, b)
		if err != nil {
			return nil, err
		}
		t.Partials = append(t.Partials, s)
	}
	for _, cp := range o.Checkpoints {
		switch {
		case cp.Size == 0:
			// Every log extends the empty one.
		case cp.Size > rep.Checkpoint.Size:
			return nil, fmt.Errorf("%w: the record has %d entries, but a checkpoint of size %d was seen: the board cut its log back", ErrFork, rep.Checkpoint.Size, cp.Size)
		case roots[cp.Size] != cp.Hash:
			return nil, fmt.Errorf("%w: the record's first %d entries do not hash to the checkpoint of that size seen before", ErrFork, cp.Size)
		}
	}
	t.extends = o.Checkpoints
	return t, nil
}

// An Exporter writes a board's export to w; boardapi.Client is one.
type Exporter interface {
	Export(ctx context.Context, w io.Writer) error
}

// errStopped ends an export that Read no longer reads.
var errStopped = errors.New("trustee: the record was read no further")

// Fetch reads the board's export as Read does, as it downloads: the record
// is never held in memory whole.
func Fetch(ctx context.Context, b Exporter, boardKey note.Verifier, o Options) (*Tally, error) {
	pr, pw := io.Pipe()
	exporting, stop := context.WithCancel(ctx)
	defer stop()
	exported := make(chan error, 1)
	go func() {
		err := b.Export(exporting, pw)
		pw.CloseWithError(err)
		exported <- err
	}()
	t, err := Read(pr, boardKey, o)
	// A record refused before its end is read no further: the export
	// stops at its next write, or its next read from the board.
	pr.CloseWithError(errStopped)
	stop()
	xerr := <-exported
	if xerr != nil && !errors.Is(xerr, errStopped) && (ctx.Err() != nil || !errors.Is(xerr, context.Canceled)) {
		return nil, fmt.Errorf("trustee: fetching the record: %w", xerr)
	}
	return t, err
}

// Extends reports whether the record was checked, as it was read, to
// extend cp (one of Options.Checkpoints).
func (t *Tally) Extends(cp *store.Checkpoint) bool {
	for _, c := range t.extends {
		if c.Size == cp.Size && c.Hash == cp.Hash {
			return true
		}
	}
	return false
}

// Decrypt makes trustee ks.Index's partial decryption of the aggregate the
// record's own ballots add up to, after the checks that are the record's
// alone: it is closed (ErrNotClosed); ks is a share of this record's
// ceremony, with the election key and the verification key the record's
// ceremony gives (ErrWrongShare); it counts at least the manifest's
// min_ballots (ErrTooFewBallots); the trustee's partial is not on the
// record already (ErrAlreadyDecrypted). A trustee with a journal checks
// the record with Journal.Check first and records it with
// Journal.Decrypted before the partial leaves the machine.
func (t *Tally) Decrypt(ks *KeyShare) (*tally.Partial, error) {
	m := t.Election.Manifest
	switch {
	case !t.Closed:
		return nil, ErrNotClosed
	case !bytes.Equal(ks.Context, record.CeremonyContext(m)):
		return nil, fmt.Errorf("%w: it is from another election's ceremony", ErrWrongShare)
	case !bytes.Equal(ks.ElectionKey.Bytes(), t.Election.Key.Bytes()):
		return nil, fmt.Errorf("%w: its election key is not the one the record's ceremony produced", ErrWrongShare)
	case ks.Index < 1 || ks.Index > len(t.Open.VerificationKeys) || !bytes.Equal(ks.VerificationKey.Bytes(), t.Open.VerificationKeys[ks.Index-1].Bytes()):
		return nil, fmt.Errorf("%w: trustee %d's verification key differs from the record's", ErrWrongShare, ks.Index)
	}
	if t.Report.Counted < uint64(m.MinBallots) {
		return nil, fmt.Errorf("%w: the record counts %d ballots, fewer than the %d the manifest sets as the least a tally may be decrypted from (a tally of so few would tell how each voted)", ErrTooFewBallots, t.Report.Counted, m.MinBallots)
	}
	for _, s := range t.Partials {
		if s.Trustee == ks.Index {
			return nil, fmt.Errorf("%w (trustee %d)", ErrAlreadyDecrypted, ks.Index)
		}
	}
	return tally.Decrypt(t.Election, t.Report.Aggregate, ks.Index, ks.Secret, ks.VerificationKey)
}

// Combine combines the first t partial decryptions on the record into the
// result (SPEC.md §9), as a tallier does: ErrNotClosed before close,
// tally.ErrNotEnoughShares with fewer than t partials. With no ballot
// counted there is nothing to decrypt, and every count is 0.
func (t *Tally) Combine() (*tally.Result, error) {
	if !t.Closed {
		return nil, ErrNotClosed
	}
	need := t.Election.Manifest.Trustees.T
	if t.Report.Aggregate.Ballots == 0 {
		return tally.Combine(t.Election, t.Report.Aggregate, nil)
	}
	if len(t.Partials) < need {
		return nil, fmt.Errorf("%w: the record holds %d valid partial decryptions, the threshold is %d", tally.ErrNotEnoughPartials, len(t.Partials), need)
	}
	return tally.Combine(t.Election, t.Report.Aggregate, t.Partials[:need])
}
