package voter_test

import (
	"context"
	"errors"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
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
