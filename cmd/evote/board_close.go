package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/store"
)

// countedBallots counts the ballots that would be counted if the board
// closed now: one per token key (its last ballot). It reads the board's
// export as it streams, framing only (SPEC.md and store/SPEC.md): the
// admin asks its own board, and nothing is decided on it but whether to
// warn.
func countedBallots(ctx context.Context, c *boardapi.Client) (int, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(c.Export(ctx, pw)) }()
	defer pr.Close()
	r := bufio.NewReaderSize(pr, 64<<10)
	magic := make([]byte, len(store.Magic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != store.Magic {
		return 0, fmt.Errorf("reading the board's export: not an evote record (%v)", err)
	}
	keys := map[[32]byte]bool{}
	var l [4]byte
	leaf := make([]byte, store.MaxLeafSize)
	for {
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return 0, fmt.Errorf("reading the board's export: %w", err)
		}
		n := binary.BigEndian.Uint32(l[:])
		if n == 0 {
			return len(keys), nil
		}
		if n > store.MaxLeafSize {
			return 0, fmt.Errorf("reading the board's export: an entry of %d bytes", n)
		}
		if _, err := io.ReadFull(r, leaf[:n]); err != nil {
			return 0, fmt.Errorf("reading the board's export: %w", err)
		}
		// A ballot's token key sits at bytes 33 to 65 of its body (SPEC.md §6).
		if store.EntryType(leaf[0]) == store.Ballot && n >= 66 {
			keys[[32]byte(leaf[34:66])] = true
		}
	}
}

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
