package loadtest_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/loadtest"
	"github.com/evote/evote/voter"
)

func start(t *testing.T, n int) *loadtest.Local {
	site, err := loadtest.StartLocal(context.Background(), n, n, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Stop)
	return site
}

func TestRun(t *testing.T) {
	site := start(t, 40)
	before, _ := site.Election.Log.Size()
	rep, err := loadtest.Run(context.Background(), site.Config)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ballots != 40 || rep.Errors != 0 || rep.Tokens != 40 {
		t.Fatalf("report %+v: want 40 tokens, 40 ballots, no errors", rep)
	}
	if after, _ := site.Election.Log.Size(); after != before+40 {
		t.Fatalf("board grew by %d entries, want 40", after-before)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.P999 < rep.P99 {
		t.Fatalf("percentiles out of order: %v %v %v", rep.P50, rep.P99, rep.P999)
	}
	// A second run with the same voters: the issuer refuses their second
	// tokens (each asks with a fresh blinded message), so nothing is cast.
	if _, err := loadtest.Run(context.Background(), site.Config); err == nil {
		t.Fatal("a second run with the same roll got tokens again")
	}
	if after, _ := site.Election.Log.Size(); after != before+40 {
		t.Fatal("the refused second run changed the board")
	}
}

func TestFixedRate(t *testing.T) {
	site := start(t, 20)
	cfg := site.Config
	cfg.Rate = 100
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 20 ballots released at 100/s take at least 0.19 s.
	if rep.Errors != 0 || rep.CastSeconds < 0.19 {
		t.Fatalf("report %+v: want no errors and at least 0.19 s of casting", rep)
	}
}

// TestHold holds 200 idle keep-alive connections against the board while
// casting; every one is still held and answering at the end.
func TestHold(t *testing.T) {
	site := start(t, 20)
	cfg := site.Config
	cfg.Hold = 200
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Held != 200 || rep.HoldErrors != 0 {
		t.Fatalf("report %+v: want 200 held, no errors", rep)
	}
}

// countingBoard counts the casts sent through it, and refuses them all if
// refuse is set (the board and its answers are otherwise the real one's).
type countingBoard struct {
	voter.Board
	casts  atomic.Int64
	refuse bool
}

func (b *countingBoard) Cast(ctx context.Context, raw []byte) (*boardapi.Receipt, error) {
	b.casts.Add(1)
	if b.refuse {
		return nil, errors.New("this board refuses every cast")
	}
	return b.Board.Cast(ctx, raw)
}

// TestRoundRobin casts through three boards of one election: each gets a
// third of the casts, in turn, and the casts of the one that refuses them
// are counted as errors, not quietly sent elsewhere.
func TestRoundRobin(t *testing.T) {
	site := start(t, 30)
	before, _ := site.Election.Log.Size()
	cfg := site.Config
	a, b := &countingBoard{Board: cfg.Board}, &countingBoard{Board: cfg.Board}
	refusing := &countingBoard{Board: cfg.Board, refuse: true}
	cfg.Boards = []voter.Board{a, b, refusing}
	cfg.Board = nil // unused with Boards
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := []int64{a.casts.Load(), b.casts.Load(), refusing.casts.Load()}; !slices.Equal(got, []int64{10, 10, 10}) {
		t.Fatalf("casts per board %v, want 10 each", got)
	}
	if !slices.Equal(rep.PerBoard, []int{10, 10, 10}) {
		t.Fatalf("report's per-board counts %v, want 10 each", rep.PerBoard)
	}
	if rep.Ballots != 30 || rep.Errors != 10 {
		t.Fatalf("report %+v: want 30 ballots and the refusing board's 10 errors", rep)
	}
	if after, _ := site.Election.Log.Size(); after != before+20 {
		t.Fatalf("board grew by %d entries, want the 20 the two accepting boards took", after-before)
	}
	// One board alone reports no per-board counts (the JSON stays as it was).
	site2 := start(t, 4)
	rep, err = loadtest.Run(context.Background(), site2.Config)
	if err != nil || rep.PerBoard != nil {
		t.Fatalf("one board: %v, per-board %v; want no error and no per-board counts", err, rep.PerBoard)
	}
}
