package main

import (
	"errors"
	"fmt"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/evote/evote/trustee"
	"github.com/spf13/cobra"
)

func trusteeDecryptCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var share, journal string
	var others []string
	var withoutHistory bool
	c := &cobra.Command{
		Use:   "decrypt",
		Short: "Step 7: post this trustee's partial decryption of the tally",
		Long: `decrypt fetches the board's whole record after close and, as it downloads,
verifies it entry by entry (every ballot's token, proofs and signature) and
recomputes the aggregate from the ballots itself, never trusting the board's.
It then decrypts its share of that aggregate only, with a proof of correct
decryption against its verification key, and posts it. No single ballot is
ever decrypted.

A board could instead hand the trustees a closed log of its own making, with
only the ballots it wants to learn about. So decrypt refuses a record that
counts fewer ballots than the manifest's min_ballots; one that is not an
extension of the newest checkpoint in this trustee's journal (--journal,
which "evote trustee checkpoint" fills during voting) or of any checkpoint
given with --checkpoint (a signed checkpoint or a voter's receipt); and, once
it has decrypted one closed log, any other.

On a terminal, or with --progress, a bar on stderr shows the entries
fetched and verified of the board's size, with the time left.`,
		Example: `  evote trustee decrypt --share trustee-1.share --board http://127.0.0.1:8080 --board-key board.vkey`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(false)
			if err != nil {
				return err
			}
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			if share == "" {
				return usagef("--share trustee-INDEX.share is required")
			}
			b, err := kr.ReadFile(share)
			if err != nil {
				return err
			}
			ks, err := trustee.ParseKeyShare(b)
			clear(b)
			if err != nil {
				return fmt.Errorf("%s: %w", share, err)
			}
			if journal == "" {
				journal = trustee.DefaultJournal(key)
			}
			j, err := trustee.OpenJournal(journal, key)
			if err != nil {
				return err
			}
			var given []*store.Checkpoint
			for _, f := range others {
				cp, err := trustee.ReadCheckpoint(f, key)
				if err != nil {
					return usageError{err}
				}
				given = append(given, cp)
			}
			seen := j.Checkpoints(given...)
			if len(seen) == 0 {
				if !withoutHistory {
					return fmt.Errorf("no checkpoint of this board was seen before (%s holds none, and no --checkpoint was given): a board could hand this trustee a log of its own making with only the ballots it wants to read. Give --checkpoint FILE (voters' receipts, a monitor's checkpoint), or use the journal that evote trustee checkpoint filled during voting; --without-history decrypts anyway", journal)
				}
				g.logf("warning: no checkpoint of this board seen before: only the record's own consistency is checked (--without-history)\n")
			}
			refused := func(err error) error {
				if errors.Is(err, trustee.ErrFork) {
					return fmt.Errorf("refusing to decrypt: %w; keep %s and the board's record as evidence", err, journal)
				}
				return closeHint(err)
			}
			tl, err := fetchRecord(cmd.Context(), g, c, key, trustee.Options{Checkpoints: seen})
			if err != nil {
				return refused(err)
			}
			if err := j.Check(tl); err != nil {
				return refused(err)
			}
			s, err := tl.Decrypt(ks)
			if err != nil {
				return closeHint(err)
			}
			if err := j.Decrypted(tl); err != nil {
				return fmt.Errorf("not posted: recording the decryption in %s: %w", journal, err)
			}
			i, err := c.PostPartial(cmd.Context(), s.Bytes())
			if err != nil {
				return fmt.Errorf("posting the partial decryption: %w", err)
			}
			g.printf("trustee %d: verified %d ballots, decrypted the aggregate of %d counted, posted as entry %d\n",
				ks.Index, tl.Report.Ballots, tl.Report.Counted, i)
			return nil
		},
	}
	bf.add(c, false, true)
	c.Flags().StringVar(&share, "share", "", "this trustee's key share `FILE` (age-encrypted)")
	c.Flags().StringVar(&journal, "journal", "", "this trustee's journal `FILE` of the board's checkpoints (see evote trustee checkpoint; default trustee-ORIGIN.journal, after the board key's name)")
	c.Flags().StringArrayVar(&others, "checkpoint", nil, "a checkpoint someone else was shown: a signed checkpoint or receipt `FILE` the record must extend (repeatable)")
	c.Flags().BoolVar(&withoutHistory, "without-history", false, "decrypt even though no checkpoint of this board was seen before (no journal, no --checkpoint)")
	return c
}

// closeHint says what to do about a tally of an election still open.
func closeHint(err error) error {
	if errors.Is(err, trustee.ErrNotClosed) {
		return fmt.Errorf("%w (evote board close)", err)
	}
	return err
}
