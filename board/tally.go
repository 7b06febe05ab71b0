package board

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
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
// partial from a non-trustee or with one bad proof is refused, and so is
// any body but the share's canonical encoding.
func (b *Board) PostPartial(ctx context.Context, body []byte) (uint64, error) {
	agg, err := b.Aggregate()
	if err != nil {
		return 0, err
	}
	e := b.Election()
	s, err := tally.ParsePartial(e, body)
	if err != nil {
		return 0, refuse(ErrInvalidEntry, "it is not a partial decryption of this election", err)
	}
	// The parsers accept only canonical encodings, so this holds for every
	// share that parses; it is checked so that the board stores only bytes
	// it would write itself, whatever the parsers become.
	if !bytes.Equal(s.Bytes(), body) {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("trustee %d's partial decryption is not in its canonical encoding", s.Trustee), nil)
	}
	if err := tally.VerifyPartial(e, agg, b.Opening().VerificationKeys[s.Trustee-1], s); err != nil {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("trustee %d's partial decryption does not verify against the board's aggregate and the trustee's verification key", s.Trustee), err)
	}
	i, err := b.log.Append(ctx, store.Append{Leaf: store.Leaf(store.Partial, body), Key: partialKey(s.Trustee), Check: admits(store.Partial)})
	if errors.Is(err, store.ErrDuplicate) {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("trustee %d's partial decryption is already on the board", s.Trustee), nil)
	}
	return i, err
}

// Partials returns the partial decryptions on the board (each verified when
// posted), in record order: the result combines the first t of them
// (SPEC.md §9).
func (b *Board) Partials() ([]*tally.Partial, error) {
	e := b.Election()
	type entry struct {
		index uint64
		s     *tally.Partial
	}
	var found []entry
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
		s, err := tally.ParsePartial(e, leaf[1:])
		if err != nil {
			return nil, err
		}
		found = append(found, entry{i, s})
	}
	slices.SortFunc(found, func(x, y entry) int { return cmp.Compare(x.index, y.index) })
	out := make([]*tally.Partial, len(found))
	for k, f := range found {
		out[k] = f.s
	}
	return out, nil
}

// PostResult appends the election result. The board computes the result
// itself from the first t partial decryptions on the board, in record order
// (SPEC.md §9), and stores the body only if it is that result's encoding
// byte for byte: right counts with another list of trustees, or the right
// result encoded another way, are refused, saying what differs.
func (b *Board) PostResult(ctx context.Context, body []byte) (uint64, error) {
	agg, err := b.Aggregate()
	if err != nil {
		return 0, err
	}
	shares, err := b.Partials()
	if err != nil {
		return 0, err
	}
	got, err := tally.Combine(b.Election(), agg, shares)
	if err != nil {
		return 0, refuse(ErrInvalidEntry, "the partial decryptions on the board make no result yet", err)
	}
	claimed, err := tally.ParseResult(body)
	if err != nil {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("it is not a result entry; the board stores only the result the partial decryptions on it make, %s", got.Bytes()), err)
	}
	if want := got.Bytes(); !bytes.Equal(body, want) {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("%s; the board stores only the result the partial decryptions on it make, %s", resultDifference(claimed, got), want), nil)
	}
	i, err := b.log.Append(ctx, store.Append{Leaf: store.Leaf(store.Result, body), Key: keyResult, Check: admits(store.Result)})
	if errors.Is(err, store.ErrDuplicate) {
		return 0, refuse(ErrInvalidEntry, "a result is already on the board", nil)
	}
	return i, err
}

// resultDifference says how claimed, a posted result that is not got's
// encoding, differs from got.
func resultDifference(claimed, got *tally.Result) string {
	switch {
	case claimed.Ballots != got.Ballots:
		return fmt.Sprintf("the posted result counts %d ballots, the board has %d counted ballots", claimed.Ballots, got.Ballots)
	case !claimed.Equal(got):
		return fmt.Sprintf("the posted counts %v are not what the partial decryptions combine to, %v", claimed.Counts, got.Counts)
	case !slices.Equal(claimed.Trustees, got.Trustees):
		return fmt.Sprintf("the posted result names trustees %v, but it is made by the first %d partial decryptions in record order, trustees %v's", claimed.Trustees, len(got.Trustees), got.Trustees)
	}
	return "the posted result is not in its canonical encoding (JSON with its fields in order, no spaces, nothing repeated)"
}
