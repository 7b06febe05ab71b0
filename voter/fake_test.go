package voter_test

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/tlog"
)

// lossyBoard is memBoard (example_test.go) that loses the reply to the
// next cast after the board stored the ballot, or refuses every cast with
// refuse.
type lossyBoard struct {
	memBoard
	loseReply bool
	refuse    error
}

var errLost = errors.New("the reply was lost")

func (l *lossyBoard) Cast(ctx context.Context, raw []byte) (*boardapi.Receipt, error) {
	if l.refuse != nil {
		return nil, l.refuse
	}
	rc, err := l.memBoard.Cast(ctx, raw)
	if err == nil && l.loseReply {
		l.loseReply = false
		return nil, errLost
	}
	return rc, err
}

// TestClientOverFakes votes through in-memory implementations of
// voter.Board and voter.Issuer: the client needs nothing of HTTP. A reply
// lost after the ballot is stored ends, on the next CastTicket, in that
// ballot's receipt (ErrBallotOnBoard); another ballot of the same token is
// refused with ErrAlreadyVoted and is not taken for the first; and a board
// that claims the ballot is there but has no receipt for it gets no
// success.
func TestClientOverFakes(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	ctx := context.Background()
	b := &lossyBoard{memBoard: memBoard{e.Board}, loseReply: true}
	c := &voter.Client{
		Board:        b,
		Issuer:       memIssuer{e.Issuer, e.Board.Manifest().ID()},
		BoardKey:     e.Verifier,
		ManifestHash: e.Board.Manifest().Hash(),
	}
	el, err := c.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := voter.NewTicket(nil, el, "voter-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GetToken(ctx, el, tk, "any", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(el, tk, [][]int{{0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CastTicket(ctx, el, tk); !errors.Is(err, errLost) {
		t.Fatalf("the first cast: %v, want the lost reply", err)
	}
	size := logSize(t, e)
	rc, err := c.CastTicket(ctx, el, tk)
	if err != nil {
		t.Fatalf("casting again after the lost reply: %v", err)
	}
	if tk.Receipt != rc || logSize(t, e) != size {
		t.Fatal("the second cast did not end in the first ballot's receipt alone")
	}
	if _, err := c.CheckReceipt(ctx, rc); err != nil {
		t.Fatal(err)
	}

	// Another ballot of the same token: refused, and not taken for this one.
	if err := c.Seal(el, tk, [][]int{{1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CastTicket(ctx, el, tk); !errors.Is(err, boardapi.ErrAlreadyVoted) || errors.Is(err, boardapi.ErrBallotOnBoard) {
		t.Fatalf("a second ballot of the token: %v, want ErrAlreadyVoted", err)
	}
	if tk.Receipt != nil || logSize(t, e) != size {
		t.Fatal("a refused ballot left a receipt or an entry")
	}

	// A board that says a ballot it does not hold is on the board gets no
	// receipt out of the client; one that says the token voted gets no
	// receipt lookup.
	v := e.Voter(t)
	raw := e.Ballot(t, v, []int{0})
	for _, refusal := range []error{boardapi.ErrBallotOnBoard, boardapi.ErrAlreadyVoted} {
		b.refuse = refusal
		if _, err := c.Cast(ctx, el, raw); err == nil {
			t.Fatalf("%v: Cast returned a receipt", refusal)
		}
		tk := mustTicket(t, c, el)
		got, err := c.CastTicket(ctx, el, tk)
		if err == nil || got != nil || tk.Receipt != nil {
			t.Fatalf("%v: CastTicket ended in %v, %v", refusal, got, err)
		}
		if refusal == boardapi.ErrBallotOnBoard && !errors.Is(err, boardapi.ErrNotFound) {
			t.Fatalf("a ballot the board does not hold, said to be on it: %v, want the receipt lookup's ErrNotFound", err)
		}
	}
	if n := logSize(t, e); n != size {
		t.Fatalf("the log grew from %d to %d entries", size, n)
	}
	if leaf, err := e.Log.Leaf(rc.Index); err != nil || store.EntryType(leaf[0]) != store.Ballot {
		t.Fatalf("entry %d is not the ballot: %v", rc.Index, err)
	}
}

// mustTicket is a ticket of a fresh voter with a token and a ballot.
func mustTicket(t *testing.T, c *voter.Client, el *ballot.Election) *voter.Ticket {
	t.Helper()
	tk, err := voter.NewTicket(nil, el, "voter-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GetToken(context.Background(), el, tk, "any", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(el, tk, [][]int{{1}}); err != nil {
		t.Fatal(err)
	}
	return tk
}

// proofless is memBoard that fails the next consistency proof with err.
type proofless struct {
	memBoard
	err error
}

func (p *proofless) Consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	if err := p.err; err != nil {
		p.err = nil
		return nil, err
	}
	return p.memBoard.Consistency(ctx, old, new)
}

// TestProofUnanswered: a board that stores the ballot and then does not
// answer for the consistency proof (its process died behind a load
// balancer, its database restarting: no connection, or 503) is not
// accused of a split view: the error says to retry and wraps the cause,
// and the retry ends in the ballot's receipt. A board that answers and
// refuses the proof is still a split view.
func TestProofUnanswered(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		err   error
		split bool
	}{
		{"connection refused", syscall.ECONNREFUSED, false},
		{"503", &boardapi.Error{StatusCode: 503, Code: boardapi.CodeStorage, Message: "database out of reach"}, false},
		{"404", &boardapi.Error{StatusCode: 404, Code: boardapi.CodeNotFound, Message: "no such proof"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := electiontest.New(t, electiontest.Options{})
			b := &proofless{memBoard: memBoard{e.Board}}
			c := &voter.Client{Board: b, Issuer: memIssuer{e.Issuer, e.Board.Manifest().ID()}, BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
			el, err := c.Election(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tk, err := voter.NewTicket(nil, el, "voter-1")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.GetToken(ctx, el, tk, "any", ""); err != nil {
				t.Fatal(err)
			}
			if err := c.Seal(el, tk, [][]int{{0}}); err != nil {
				t.Fatal(err)
			}
			b.err = tc.err
			_, err = c.CastTicket(ctx, el, tk)
			if got := errors.Is(err, voter.ErrSplitView); got != tc.split {
				t.Fatalf("cast with the proof failing (%v): %v; split view %v, want %v", tc.err, err, got, tc.split)
			}
			if tc.split {
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("the error does not wrap its cause: %v", err)
			}
			if rc, err := c.CastTicket(ctx, el, tk); err != nil || rc == nil {
				t.Fatalf("the retry: %v", err)
			}
		})
	}
}
