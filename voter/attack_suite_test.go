package voter_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
)

// lyingBoard serves, over HTTP, a copy of the election's log rewritten by
// rewrite and signed with the board's own key: a board that drops,
// reorders or forks entries and signs whatever it likes. It returns a
// voter client of that board.
func lyingBoard(t *testing.T, e *electiontest.Election, rewrite func([][]byte) [][]byte) *voter.Client {
	t.Helper()
	return &voter.Client{Board: forgedBoard(t, e.Signer, rewrite(e.Leaves(t))), BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
}

// serve starts b's HTTP API and returns a voter client of it.
func serve(t *testing.T, e *electiontest.Election, b *board.Board) *voter.Client {
	srv := httptest.NewServer(board.NewHandler(b, board.HandlerConfig{}))
	t.Cleanup(srv.Close)
	return &voter.Client{Board: boardapi.NewClient(srv.URL, nil), BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
}

// victim casts two ballots, then the victim's ballot through the honest
// board's HTTP API (so the voter holds a checked receipt), then two more.
func victim(t *testing.T) (*electiontest.Election, *voter.Client, *voter.Receipt) {
	e := electiontest.New(t, electiontest.Options{})
	honest := serve(t, e, e.Board)
	e.Cast(t, e.Voter(t), []int{0})
	e.Cast(t, e.Voter(t), []int{1})
	rc, err := honest.Cast(context.Background(), e.Board.Election(), e.Ballot(t, e.Voter(t), []int{0}))
	if err != nil {
		t.Fatal(err)
	}
	e.Cast(t, e.Voter(t), []int{1})
	e.Cast(t, e.Voter(t), []int{0})
	if _, err := honest.CheckReceipt(context.Background(), rc); err != nil {
		t.Fatalf("an honest board fails the receipt check: %v", err)
	}
	return e, honest, rc
}

func without(ls [][]byte, i uint64) [][]byte {
	out := append([][]byte{}, ls[:i]...)
	return append(out, ls[i+1:]...)
}

func logSize(t *testing.T, e *electiontest.Election) uint64 {
	n, err := e.Log.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAttackBoardDropsBallot: a board that drops an accepted ballot from
// its log, and signs the new log with its key (padding it with other
// ballots so that it is not smaller, or not), is caught by the voter's
// receipt check.
func TestAttackBoardDropsBallot(t *testing.T) {
	e, _, rc := victim(t)
	before := logSize(t, e)
	extra := [][]byte{store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{1})), store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{0}))}
	for name, rewrite := range map[string]func([][]byte) [][]byte{
		"dropped":               func(ls [][]byte) [][]byte { return without(ls, rc.Index) },
		"dropped and padded":    func(ls [][]byte) [][]byte { return append(without(ls, rc.Index), extra...) },
		"replaced by another":   func(ls [][]byte) [][]byte { ls[rc.Index] = extra[0]; return ls },
		"cut back to before it": func(ls [][]byte) [][]byte { return ls[:rc.Index] },
		"cut back and re-grown": func(ls [][]byte) [][]byte { return append(ls[:rc.Index], extra...) },
	} {
		c := lyingBoard(t, e, rewrite)
		_, err := c.CheckReceipt(context.Background(), rc)
		if err == nil {
			t.Fatalf("%s: a board that dropped the ballot passes the receipt check", name)
		}
		if !strings.Contains(err.Error(), "not an extension") && !strings.Contains(err.Error(), "rolled back") {
			t.Errorf("%s: unclear error: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	if n := logSize(t, e); n != before {
		t.Fatalf("the honest log changed from %d to %d entries", before, n)
	}
}

// TestAttackBoardReordersEntries: a board that swaps two entries (the
// voter's ballot with a later one, or two entries before it) and re-signs
// is caught by the receipt check: the new tree is not an extension of the
// one the receipt was signed in.
func TestAttackBoardReordersEntries(t *testing.T) {
	e, _, rc := victim(t)
	before := logSize(t, e)
	for name, swap := range map[string][2]uint64{
		"the ballot with the next":        {rc.Index, rc.Index + 1},
		"two ballots before the ballot":   {rc.Index - 2, rc.Index - 1},
		"a ceremony entry and the ballot": {1, rc.Index},
	} {
		c := lyingBoard(t, e, func(ls [][]byte) [][]byte {
			ls[swap[0]], ls[swap[1]] = ls[swap[1]], ls[swap[0]]
			return ls
		})
		_, err := c.CheckReceipt(context.Background(), rc)
		if err == nil || !strings.Contains(err.Error(), "not an extension") {
			t.Fatalf("%s: got %v, want a log that is not an extension of the receipt's", name, err)
		}
	}
	if n := logSize(t, e); n != before {
		t.Fatalf("the honest log changed from %d to %d entries", before, n)
	}
}

// TestAttackSplitView: a board that shows one client its honest log and
// another a fork (the victim's ballot swapped for another, at the same
// size or a larger one), each signed with its key. Each client alone sees a
// well-formed signed log; comparing their checkpoints catches the fork.
func TestAttackSplitView(t *testing.T) {
	e, honest, rc := victim(t)
	ctx := context.Background()
	before := logSize(t, e)
	other := store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{1}))
	mine, err := honest.Board.Checkpoint(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cp1, err := store.ParseCheckpoint(mine, e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	for name, rewrite := range map[string]func([][]byte) [][]byte{
		"same size": func(ls [][]byte) [][]byte { ls[rc.Index] = other; return ls },
		"larger":    func(ls [][]byte) [][]byte { ls[rc.Index] = other; return append(ls, other) },
		"smaller":   func(ls [][]byte) [][]byte { return without(ls, rc.Index) },
	} {
		forked := lyingBoard(t, e, rewrite)
		theirs, err := forked.Board.Checkpoint(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		cp2, err := store.ParseCheckpoint(theirs, e.Verifier)
		if err != nil {
			t.Fatalf("%s: the forked checkpoint is not signed by the board key: %v", name, err)
		}
		if cp1.Size == cp2.Size {
			if err := voter.CompareCheckpoints(cp1, cp2, nil); !errors.Is(err, voter.ErrSplitView) {
				t.Fatalf("%s: CompareCheckpoints: %v, want ErrSplitView", name, err)
			}
		}
		// Each client checks the other's checkpoint against its own board.
		if _, err := honest.CheckConsistent(ctx, theirs); !errors.Is(err, voter.ErrSplitView) {
			t.Fatalf("%s: the honest board's client: %v, want ErrSplitView", name, err)
		}
		if _, err := forked.CheckConsistent(ctx, mine); !errors.Is(err, voter.ErrSplitView) {
			t.Fatalf("%s: the forked board's client: %v, want ErrSplitView", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// Two clients of the honest board, one with an older checkpoint, agree.
	old, err := store.ParseCheckpoint([]byte(rc.Checkpoint), e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := honest.CheckConsistent(ctx, old.Signed); err != nil {
		t.Fatalf("an older honest checkpoint: %v", err)
	}
	if n := logSize(t, e); n != before {
		t.Fatalf("the honest log changed from %d to %d entries", before, n)
	}
}
