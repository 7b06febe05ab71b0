package board

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

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
	// Workers decode ciphertexts (the ballots were verified when admitted)
	// while this goroutine reads the log, and their sums merge at the end.
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan []byte, 4*workers)
	aggs := make([]*tally.Aggregator, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		aggs[w] = tally.NewAggregator(e)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range jobs {
				cts, err := ballot.Ciphertexts(e, raw)
				if err != nil {
					errs[w] = err
					continue
				}
				aggs[w].AddCiphertexts(cts)
			}
		}()
	}
	var readErr error
	for i := uint64(1); i < closeIdx && readErr == nil; i++ {
		var leaf []byte
		if leaf, readErr = b.log.Leaf(i); readErr != nil || store.EntryType(leaf[0]) != store.Ballot {
			continue
		}
		body := leaf[1:]
		// The token's key points at the ballot that counts: its only one,
		// or under last-ballot-counts its last one. The key sits at a fixed
		// place in every ballot (SPEC.md §6).
		last, ok, err := b.log.Lookup(tokenKey(body[33:65]))
		if err != nil {
			readErr = err
			continue
		}
		if ok && last == i {
			jobs <- body
		}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("board: a stored ballot no longer decodes: %w", err)
		}
	}
	ag := aggs[0]
	for _, o := range aggs[1:] {
		ag.Merge(o)
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
