package voter_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/tlog"
)

// memBoard is a voter.Board in memory: it calls a board in this process
// instead of one over HTTP, as a browser booth's would call fetch. Like a
// real transport it turns the board's refusals into boardapi's sentinels,
// which is all the voter's client branches on.
type memBoard struct{ b *board.Board }

func (m memBoard) Election(ctx context.Context) (*boardapi.ElectionInfo, error) {
	phase, err := m.b.Phase()
	if err != nil {
		return nil, err
	}
	size, err := m.b.Log().Size()
	if err != nil {
		return nil, err
	}
	info := &boardapi.ElectionInfo{Phase: phase, Size: size}
	for i := uint64(1); i < size; i++ {
		leaf, err := m.b.Log().Leaf(i)
		if err != nil {
			return nil, err
		}
		switch store.EntryType(leaf[0]) {
		case store.Open:
			info.OpenIndex = i
		case store.Close:
			info.CloseIndex = i
		}
	}
	return info, nil
}

func (m memBoard) Checkpoint(ctx context.Context, size uint64) ([]byte, error) {
	var cp *store.Checkpoint
	var err error
	if size == 0 {
		cp, err = m.b.Log().Checkpoint(ctx)
	} else {
		cp, err = m.b.Log().CheckpointAt(size)
	}
	if err != nil {
		return nil, err
	}
	return cp.Signed, nil
}

func (m memBoard) Entry(ctx context.Context, i uint64) ([]byte, error) { return m.b.Log().Leaf(i) }

func (m memBoard) Inclusion(ctx context.Context, i, size uint64) (tlog.RecordProof, error) {
	return m.b.Log().ProveInclusion(i, size)
}

func (m memBoard) Consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	return m.b.Log().ProveConsistency(old, new)
}

func (m memBoard) Cast(ctx context.Context, raw []byte) (*boardapi.Receipt, error) {
	rc, err := m.b.Cast(ctx, raw)
	switch {
	case errors.Is(err, board.ErrBallotOnBoard):
		return nil, boardapi.ErrBallotOnBoard
	case errors.Is(err, board.ErrAlreadyVoted):
		return nil, boardapi.ErrAlreadyVoted
	}
	return rc, err
}

func (m memBoard) Receipt(ctx context.Context, tc [32]byte) (*boardapi.Receipt, error) {
	rc, err := m.b.ReceiptFor(ctx, tc)
	if errors.Is(err, board.ErrNoSuchBallot) {
		return nil, boardapi.ErrNotFound
	}
	return rc, err
}

// memIssuer is a voter.Issuer in memory that signs every request with the
// issuing key: it checks no roll, as a test's issuer may not.
type memIssuer struct {
	key        *token.PrivateKey
	electionID []byte
}

func (m memIssuer) Info(ctx context.Context) (*issuerapi.Info, error) {
	pub := m.key.Public()
	return &issuerapi.Info{ElectionID: m.electionID, PublicKey: pub, KeyID: pub.ID()}, nil
}

func (m memIssuer) RequestToken(ctx context.Context, cred issuerapi.Credentials, blinded []byte) ([]byte, error) {
	return m.key.Sign(blinded)
}

// The client votes over any transport that implements voter.Board and
// voter.Issuer: here, an in-process board and issuer.
func ExampleClient_Vote() {
	dir, err := os.MkdirTemp("", "evote-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	key, err := token.GenerateKey(2048)
	if err != nil {
		panic(err)
	}
	// A board whose key ceremony is done and which is open for ballots.
	e, err := sim.New(sim.Options{Dir: dir, Issuer: key})
	if err != nil {
		panic(err)
	}
	defer e.Close()

	c := &voter.Client{
		Board:        memBoard{e.Board},
		Issuer:       memIssuer{key, e.Board.Manifest().ID()},
		BoardKey:     e.Verifier,
		ManifestHash: e.Board.Manifest().Hash(), // from the election authority, not the board
	}
	ctx := context.Background()
	rc, err := c.Vote(ctx, "voter-000001", "unused by this issuer", [][]int{{0}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("cast: entry %d of the board's log\n", rc.Index)
	if _, err := c.CheckReceipt(ctx, rc); err != nil {
		panic(err)
	}
	fmt.Println("the receipt checks: the board holds the ballot")
	// Output:
	// cast: entry 11 of the board's log
	// the receipt checks: the board holds the ballot
}
