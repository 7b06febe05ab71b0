package board_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
)

// Ballots are public. Under last-ballot-counts a coercer who saw a voter's
// first ballot must not be able to re-post it after the voter's revote and
// make it the counted one again.
func TestAttackReplayOldBallotOverridesRevote(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{Revoting: ballot.RevotingLastCounts})
	v := e.Voter(t)
	first := e.Cast(t, v, []int{0}) // coerced: yes
	leaf, err := e.Log.Leaf(first.Index)
	if err != nil {
		t.Fatal(err)
	}
	second := e.Cast(t, v, []int{1}) // the voter's own choice: no
	if !second.Replaced {
		t.Fatal("the revote was not marked as replacing")
	}
	before := size(t, e)
	_, err = e.Board.Cast(context.Background(), leaf[1:])
	if !errors.Is(err, board.ErrAlreadyVoted) {
		t.Fatalf("replaying an earlier ballot: got %v, want ErrAlreadyVoted", err)
	}
	if size(t, e) != before {
		t.Fatal("the refused replay grew the log")
	}
	// The latest ballot replayed is refused too (it is already counted).
	latest, _ := e.Log.Leaf(second.Index)
	if _, err := e.Board.Cast(context.Background(), latest[1:]); !errors.Is(err, board.ErrAlreadyVoted) {
		t.Fatalf("replaying the latest ballot: got %v, want ErrAlreadyVoted", err)
	}
	res := e.Tally(t)
	if res.Ballots != 1 || res.Counts[0][0] != 0 || res.Counts[0][1] != 1 {
		t.Fatalf("result %v, want the revote (no) counted once", res.Counts)
	}
}

// Under refuse, an exact replay is refused and changes nothing.
func TestAttackExactReplayUnderRefuse(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	rc := e.Cast(t, e.Voter(t), []int{0})
	leaf, _ := e.Log.Leaf(rc.Index)
	before := size(t, e)
	_, err := e.Board.Cast(context.Background(), leaf[1:])
	refused(t, e, before, err, board.ErrAlreadyVoted, "exact replay")
}

// Ballots racing with close: every accepted ballot lies before the close
// entry, every one after it is refused, and the aggregate counts exactly the
// accepted ones.
func TestAttackCastRacingClose(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	const n = 24
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = e.Ballot(t, e.Voter(t), []int{i % 2})
	}
	var wg sync.WaitGroup
	idx := make([]uint64, n)
	errs := make([]error, n)
	var closeIdx uint64
	var closeErr error
	for i := range raws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := e.Board.Cast(context.Background(), raws[i])
			errs[i] = err
			if err == nil {
				idx[i] = rc.Index
			}
		}()
		if i == n/2 {
			wg.Add(1)
			go func() { defer wg.Done(); closeIdx, closeErr = e.Board.CloseVoting(context.Background()) }()
		}
	}
	wg.Wait()
	if closeErr != nil {
		t.Fatal(closeErr)
	}
	accepted := uint64(0)
	for i, err := range errs {
		switch {
		case err == nil:
			accepted++
			if idx[i] > closeIdx {
				t.Fatalf("ballot %d accepted at index %d after close at %d", i, idx[i], closeIdx)
			}
		case !errors.Is(err, board.ErrClosed):
			t.Fatalf("ballot %d: %v", i, err)
		}
	}
	sz := size(t, e)
	for i := closeIdx + 1; i < sz; i++ {
		leaf, _ := e.Log.Leaf(i)
		if store.EntryType(leaf[0]) == store.Ballot {
			t.Fatalf("a ballot landed at %d, after the close entry %d", i, closeIdx)
		}
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	if agg.Ballots != accepted {
		t.Fatalf("aggregate counts %d ballots, %d were accepted", agg.Ballots, accepted)
	}
}

// A result that is not what the posted partial decryptions combine to is
// refused, as is one posted before enough partials exist, and a second one.
func TestAttackForgedResult(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	for _, v := range []int{0, 0, 1} {
		e.Cast(t, e.Voter(t), []int{v})
	}
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	agg, _ := e.Board.Aggregate()
	el := e.Board.Election()
	forged := &tally.Result{Ballots: 3, Counts: [][]uint64{{1, 2}}, Trustees: []int{1, 2}}
	before := size(t, e)
	_, err := e.Board.PostResult(ctx, forged.Bytes())
	refused(t, e, before, err, board.ErrInvalidEntry, "result with no partials")
	var shares []*tally.Partial
	for _, ks := range e.Shares[:2] {
		s, err := tally.Decrypt(el, agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.PostPartial(ctx, s.Bytes()); err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	// The same trustee's partial again, under its own index: refused.
	before = size(t, e)
	_, err = e.Board.PostPartial(ctx, shares[0].Bytes())
	refused(t, e, before, err, board.ErrInvalidEntry, "second partial of trustee 1")
	// Trustee 1's partial relabelled as trustee 3's: the proofs bind the index.
	relabelled := shares[0].Bytes()
	relabelled[0] = 3
	for k := 1; k < len(relabelled); k += 129 {
		relabelled[k] = 3
	}
	_, err = e.Board.PostPartial(ctx, relabelled)
	refused(t, e, before, err, board.ErrInvalidEntry, "partial relabelled to another trustee")
	for _, r := range []*tally.Result{
		forged,
		{Ballots: 4, Counts: [][]uint64{{2, 2}}, Trustees: []int{1, 2}},
		{Ballots: 3, Counts: [][]uint64{{2, 1, 0}}, Trustees: []int{1, 2}},
	} {
		_, err = e.Board.PostResult(ctx, r.Bytes())
		refused(t, e, before, err, board.ErrInvalidEntry, "forged result")
	}
	good, err := tally.Combine(el, agg, shares)
	if err != nil {
		t.Fatal(err)
	}
	if good.Counts[0][0] != 2 || good.Counts[0][1] != 1 {
		t.Fatalf("counts %v", good.Counts)
	}
	if _, err := e.Board.PostResult(ctx, good.Bytes()); err != nil {
		t.Fatal(err)
	}
	before = size(t, e)
	_, err = e.Board.PostResult(ctx, good.Bytes())
	refused(t, e, before, err, board.ErrInvalidEntry, "second result")
}
