package board

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evote/evote/ballot"

	"github.com/evote/evote/issuance"
	"github.com/evote/evote/store"
)

var keyIssuance = []byte("issuance")

// closeTime is the time the close entry states.
func (b *Board) closeTime() (time.Time, error) {
	i, ok, err := b.log.Lookup(keyClosed)
	if err != nil || !ok {
		return time.Time{}, errors.Join(err, ErrNotClosed)
	}
	leaf, err := b.log.Leaf(i)
	if err != nil {
		return time.Time{}, err
	}
	var cb struct {
		Closed string `json:"closed"`
	}
	if err := json.Unmarshal(leaf[1:], &cb); err != nil {
		return time.Time{}, fmt.Errorf("board: the close entry %d: %w", i, err)
	}
	return ballot.ParseTime(cb.Closed)
}

// PostIssuance appends the issuer's signed statement of its counts
// (package issuance: eligible voters, tokens issued), SPEC.md §8. It is
// accepted only after close, once, when the manifest names an issuance key
// and the statement is in its canonical encoding, for this election,
// signed under that key, with no more tokens issued than voters eligible
// and no fewer than the ballots counted. Every refusal leaves the log as
// it was.
//
// The board refuses a statement with fewer tokens than ballots counted,
// though a verifier would catch it too: only one statement is ever
// accepted, and the likeliest cause is an issuer that counted the wrong
// roll, which it can then put right before anything is recorded.
func (b *Board) PostIssuance(ctx context.Context, body []byte) (uint64, error) {
	key := b.manifest.Issuance()
	if key == nil {
		return 0, refuse(ErrInvalidEntry, "this election's manifest names no issuance key (issuance_key), so no statement of the issuer's counts can be checked or recorded", nil)
	}
	// The aggregate exists only after close: before, ErrNotClosed.
	agg, err := b.Aggregate()
	if err != nil {
		return 0, err
	}
	st, err := issuance.Parse(body)
	if err != nil {
		return 0, refuse(ErrInvalidEntry, "it is not an issuance statement in its canonical encoding (SPEC.md §8)", err)
	}
	switch err := st.Verify(key, b.manifest.ID()); {
	case errors.Is(err, issuance.ErrOtherElection):
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("the statement is for election %x, this board's is %s: sign it with the manifest of this election", st.ElectionID, b.manifest.ElectionID), nil)
	case errors.Is(err, issuance.ErrSignature):
		return 0, refuse(ErrInvalidEntry, "its signature does not verify under the manifest's issuance key: only the issuer's key, the one this election's manifest names, can sign it", nil)
	case errors.Is(err, issuance.ErrCounts):
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("it says %d tokens were issued to %d eligible voters; no issuer issues more tokens than it has voters", st.Issued, st.Eligible), nil)
	case err != nil:
		return 0, refuse(ErrInvalidEntry, "it does not verify", err)
	}
	closed, err := b.closeTime()
	if err != nil {
		return 0, err
	}
	if st.Time.Before(closed) {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("the statement's counts were read at %s, before voting closed at %s: tokens may have been issued after it; make the statement again now (evote issuer statement), and check the issuer's clock", st.Time.UTC().Format(issuance.TimeLayout), closed.UTC().Format(issuance.TimeLayout)), nil)
	}
	if st.Issued < agg.Ballots {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("it says %d tokens were issued, but %d ballots are counted, each with a token the issuer signed: was the statement made from this election's roll?", st.Issued, agg.Ballots), nil)
	}
	i, err := b.log.Append(ctx, store.Append{Leaf: store.Leaf(store.Issuance, st.Bytes()), Key: keyIssuance, Check: admits(store.Issuance)})
	if errors.Is(err, store.ErrDuplicate) {
		at := ""
		if j, ok, lerr := b.log.Lookup(keyIssuance); lerr == nil && ok {
			at = fmt.Sprintf(" (entry %d)", j)
		}
		return 0, refuse(ErrInvalidEntry, "an issuance statement is already on the board"+at+"; a record holds one", nil)
	}
	return i, err
}
