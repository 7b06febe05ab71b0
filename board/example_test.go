package board_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/store"
)

// A board accepts a voter's ballot and answers with a receipt the voter
// checks against the board's signed checkpoint; the same token casting
// again is refused, and nothing of it is stored.
func Example() {
	dir, _ := os.MkdirTemp("", "board-example")
	defer os.RemoveAll(dir)
	issuer, _ := token.GenerateKey(2048)
	// An election whose key ceremony has run and whose board is open.
	e, err := sim.New(sim.Options{Dir: dir, Issuer: issuer})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	v, _ := e.Voter() // a token key, blind-signed by the issuer
	raw, _ := e.Ballot(v, []int{0})

	ctx := context.Background()
	rc, err := e.Board.Cast(ctx, raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The voter's check: the receipt's checkpoint is the board's, and the
	// ballot is in the tree it signs.
	cp, _ := store.ParseCheckpoint([]byte(rc.Checkpoint), e.Verifier)
	proof, _ := boardapi.DecodeHashes(rc.Inclusion)
	fmt.Println("in the log:", store.VerifyInclusion(cp, rc.Index, store.Leaf(store.Ballot, raw), proof) == nil)

	before, _ := e.Log.Size()
	again, _ := e.Ballot(v, []int{1})
	_, err = e.Board.Cast(ctx, again)
	after, _ := e.Log.Size()
	fmt.Println("second ballot refused:", errors.Is(err, board.ErrAlreadyVoted), "log unchanged:", before == after)
	// Output:
	// in the log: true
	// second ballot refused: true log unchanged: true
}
