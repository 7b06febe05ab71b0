package board_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/electiontest"
)

// secondToken has the issuer sign v's token key again. The tokens are
// randomized (RFC 9474), so the second differs from the first and is just
// as valid.
func secondToken(t *testing.T, e *electiontest.Election, v *electiontest.Voter) *electiontest.Voter {
	t.Helper()
	m := e.Board.Manifest()
	blinded, st, err := token.Blind(rand.Reader, m.Issuer(), m.ID(), v.Key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := e.Issuer.Sign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(tok.Bytes(), v.Token.Bytes()) {
		t.Fatal("two signatures of one token key gave the same token")
	}
	return &electiontest.Voter{Secret: v.Secret, Key: v.Key, Token: tok}
}

// TestAttackTwoTokensOneKey: an issuer that signs one token key twice gives
// two valid tokens for it. Uniqueness is on the token key, so the second
// token cannot add a vote, but it must not pass unnoticed either: a ballot
// whose token key voted before with another token is refused under either
// policy, with nothing stored. Under last-ballot-counts a revote with the
// key's own token is still accepted.
func TestAttackTwoTokensOneKey(t *testing.T) {
	for _, policy := range []string{ballot.RevotingRefuse, ballot.RevotingLastCounts} {
		t.Run(policy, func(t *testing.T) {
			e := electiontest.New(t, electiontest.Options{Revoting: policy})
			v := e.Voter(t)
			other := secondToken(t, e, v)
			e.Cast(t, v, []int{0})
			if policy == ballot.RevotingLastCounts {
				if rc := e.Cast(t, v, []int{1}); !rc.Replaced {
					t.Fatal("the revote with the same token was not marked as replacing")
				}
			}
			before := size(t, e)
			_, err := e.Board.Cast(ctx, e.Ballot(t, other, []int{1}))
			refused(t, e, before, err, board.ErrAlreadyVoted, "a ballot with a second token for the key")
			if !strings.Contains(err.Error(), "with another token") {
				t.Errorf("the refusal does not say why: %v", err)
			}
			if strings.Contains(err.Error(), "store/") {
				t.Errorf("the refusal carries the store's prefix: %v", err)
			}
			// The first token still works where the policy allows it.
			_, err = e.Board.Cast(ctx, e.Ballot(t, v, []int{1}))
			switch {
			case policy == ballot.RevotingLastCounts && err != nil:
				t.Fatalf("a revote with the key's own token is refused: %v", err)
			case policy == ballot.RevotingRefuse && !errors.Is(err, board.ErrAlreadyVoted):
				t.Fatalf("a second ballot under refuse: %v", err)
			}
			// A fresh voter is not affected.
			e.Cast(t, e.Voter(t), []int{0})
		})
	}
}

// TestAttackTwoTokensOneKeyAtOnce: 16 ballots for one token key, half with
// each of its two tokens, cast at once under last-ballot-counts: the check
// runs inside the append's transaction, so every accepted ballot carries
// the same token and every refused one the other.
func TestAttackTwoTokensOneKeyAtOnce(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{Revoting: ballot.RevotingLastCounts})
	v := e.Voter(t)
	voters := []*electiontest.Voter{v, secondToken(t, e, v)}
	var bodies [][]byte
	for k := range 16 {
		bodies = append(bodies, e.Ballot(t, voters[k%2], []int{k % 2}))
	}
	before := size(t, e)
	errs := make([]error, len(bodies))
	var wg sync.WaitGroup
	for k, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[k] = e.Board.Cast(ctx, b)
		}()
	}
	wg.Wait()
	accepted := map[int]int{}
	for k, err := range errs {
		switch {
		case err == nil:
			accepted[k%2]++
		case !errors.Is(err, board.ErrAlreadyVoted) || !strings.Contains(err.Error(), "with another token"):
			t.Fatalf("ballot %d: %v", k, err)
		}
	}
	if len(accepted) != 1 || accepted[0]+accepted[1] != 8 {
		t.Fatalf("accepted %v (by token), want all 8 of one token and none of the other", accepted)
	}
	if n := size(t, e); n != before+8 {
		t.Fatalf("the log grew by %d entries, want 8", n-before)
	}
}
