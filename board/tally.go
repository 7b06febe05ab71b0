package board

import (
	"context"
	"errors"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
)

// tallyState is the aggregate of the counted ballots, computed once after
// close: partial decryptions are checked against it.
type tallyState struct {
	agg *tally.Aggregate
}

var keyResult = []byte("result")

func partialKey(trustee int) []byte { return fmt.Appendf(nil, "partial/%d", trustee) }

// Aggregate returns the aggregate of the counted ballots. It exists only
// after close.
func (b *Board) Aggregate() (*tally.Aggregate, error) {
	b.mu.RLock()
	ts := b.tally
	b.mu.RUnlock()
	if ts != nil {
		return ts.agg, nil
	}
	closeIdx, ok, err := b.log.Lookup(keyClosed)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotClosed
	}
	e := b.Election()
	ag := tally.NewAggregator(e)
	for i := uint64(1); i < closeIdx; i++ {
		leaf, err := b.log.Leaf(i)
		if err != nil {
			return nil, err
		}
		if store.EntryType(leaf[0]) != store.Ballot {
			continue
		}
		bl, err := ballot.Parse(e, leaf[1:])
		if err != nil {
			return nil, fmt.Errorf("board: ballot entry %d no longer parses: %w", i, err)
		}
		// The token's key points at the ballot that counts: its only one,
		// or under last-ballot-counts its last one.
		if last, ok, err := b.log.Lookup(tokenKey(bl.TokenKey.Bytes())); err != nil {
			return nil, err
		} else if !ok || last != i {
			continue
		}
		ag.Add(bl)
	}
	agg := ag.Aggregate()
	b.mu.Lock()
	b.tally = &tallyState{agg: agg}
	b.mu.Unlock()
	return agg, nil
}

// PostPartial appends a trustee's partial decryption of the aggregate after
// checking every proof in it against the trustee's verification key. A
// partial from a non-trustee or with one bad proof is refused.
func (b *Board) PostPartial(ctx context.Context, body []byte) (uint64, error) {
	agg, err := b.Aggregate()
	if err != nil {
		return 0, err
	}
	e := b.Election()
	s, err := tally.ParseShare(e, body)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidEntry, err)
	}
	if err := tally.VerifyShare(e, agg, b.Opening().VerificationKeys[s.Trustee-1], s); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidEntry, err)
	}
	i, err := b.log.Append(ctx, store.Append{Leaf: store.Leaf(store.Partial, body), Key: partialKey(s.Trustee)})
	if errors.Is(err, store.ErrDuplicate) {
		return 0, fmt.Errorf("%w: trustee %d's partial decryption is already on the board", ErrInvalidEntry, s.Trustee)
	}
	return i, err
}

// Shares returns the valid partial decryptions on the board.
func (b *Board) Shares() ([]*tally.Share, error) {
	e := b.Election()
	var out []*tally.Share
	for t := 1; t <= b.manifest.Trustees.N; t++ {
		i, ok, err := b.log.Lookup(partialKey(t))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		leaf, err := b.log.Leaf(i)
		if err != nil {
			return nil, err
		}
		s, err := tally.ParseShare(e, leaf[1:])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// PostResult appends the election result after checking that it is what the
// partial decryptions on the board combine to.
func (b *Board) PostResult(ctx context.Context, body []byte) (uint64, error) {
	agg, err := b.Aggregate()
	if err != nil {
		return 0, err
	}
	claimed, err := tally.ParseResult(body)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidEntry, err)
	}
	shares, err := b.Shares()
	if err != nil {
		return 0, err
	}
	got, err := tally.Combine(b.Election(), agg, shares)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidEntry, err)
	}
	if !got.Equal(claimed) {
		return 0, fmt.Errorf("%w: the posted result is not what the trustees' partial decryptions combine to", ErrInvalidEntry)
	}
	i, err := b.log.Append(ctx, store.Append{Leaf: store.Leaf(store.Result, body), Key: keyResult})
	if errors.Is(err, store.ErrDuplicate) {
		return 0, fmt.Errorf("%w: a result is already on the board", ErrInvalidEntry)
	}
	return i, err
}
