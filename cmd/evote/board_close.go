package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/store"
)

// countedBallots counts the ballots that would be counted if the board
// closed now: one per token key (its last ballot), in the first entries of
// the board's export, as many as the board says it holds. Those are read by
// store's strict reader, which is never asked to reach the checkpoint: the
// admin asks its own board, and nothing is decided on it but whether to
// refuse the close.
func countedBallots(ctx context.Context, c *boardapi.Client) (int, error) {
	info, err := c.Election(ctx)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(c.Export(ctx, pw)) }()
	defer pr.Close()
	r := store.NewReader(pr, noKey{})
	keys := map[[32]byte]bool{}
	for r.Count() < info.Size {
		leaf, err := r.Next()
		if err != nil {
			return 0, fmt.Errorf("reading the board's export: %w", err)
		}
		// A ballot's token key sits at bytes 33 to 65 of its body (SPEC.md §6).
		if store.EntryType(leaf[0]) == store.Ballot && len(leaf) >= 66 {
			keys[[32]byte(leaf[34:66])] = true
		}
	}
	return len(keys), nil
}

// noKey verifies no signature: countedBallots reads only entries, and an
// export shorter than the board said ends in an error, not a check.
type noKey struct{}

func (noKey) Name() string                { return "" }
func (noKey) KeyHash() uint32             { return 0 }
func (noKey) Verify(msg, sig []byte) bool { return false }

// checkMinBallots refuses to close an election whose counted ballots are
// fewer than its manifest's min_ballots: trustees would refuse to decrypt
// the tally, closing cannot be undone, and every ballot cast would be
// lost to the result.
func checkMinBallots(ctx context.Context, c *boardapi.Client) error {
	raw, err := c.Manifest(ctx)
	if err != nil {
		return err
	}
	m, err := ballot.ParseManifest(raw)
	if err != nil {
		return fmt.Errorf("the board's manifest: %w", err)
	}
	if m.MinBallots == 0 {
		return nil
	}
	n, err := countedBallots(ctx, c)
	if err != nil {
		return err
	}
	if n < m.MinBallots {
		return fmt.Errorf("refusing to close: %d ballots are counted, fewer than the %d the manifest sets as the least a tally may be decrypted from (min_ballots), so the trustees would decrypt no result; closing cannot be undone. Wait for more ballots, or end an election that will have no result with --accept-untallied", n, m.MinBallots)
	}
	return nil
}
