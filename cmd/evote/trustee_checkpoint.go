package main

import (
	"fmt"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/evote/evote/trustee"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/tlog"
)

func trusteeCheckpointCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var journal string
	c := &cobra.Command{
		Use:   "checkpoint",
		Short: "During voting: record the board's newest checkpoint in this trustee's journal",
		Long: `checkpoint fetches the board's newest signed checkpoint, proves with the
board's consistency proof that it extends the one recorded before, and records
it in the trustee's journal (--journal). Run it now and then while the
election is open (by hand or from cron): "evote trustee decrypt" later
refuses a record that is not an extension of the journal's checkpoint, so a
board that hands the trustees a log of its own making, with only the ballots
it wants to learn about, is caught. A failure is evidence against the board:
keep the journal and the board's answer.`,
		Example: `  evote trustee checkpoint --board https://board.example.org --board-key board.vkey`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			bc, err := bf.client(false)
			if err != nil {
				return err
			}
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			if journal == "" {
				journal = trustee.DefaultJournal(key)
			}
			j, err := trustee.OpenJournal(journal, key)
			if err != nil {
				return err
			}
			signed, err := bc.Checkpoint(cmd.Context(), 0)
			if err != nil {
				return err
			}
			cp, err := store.ParseCheckpoint(signed, key)
			if err != nil {
				return fmt.Errorf("the board's checkpoint: %w", err)
			}
			var proof tlog.TreeProof
			before := j.Newest
			if before != nil && before.Size != cp.Size {
				lo, hi := min(before.Size, cp.Size), max(before.Size, cp.Size)
				if proof, err = bc.Consistency(cmd.Context(), lo, hi); err != nil {
					return fmt.Errorf("%w: the board gives no proof that its log of %d entries extends the one of %d recorded: %v", trustee.ErrFork, hi, lo, err)
				}
			}
			if err := j.Observe(cp, proof); err != nil {
				return err
			}
			if err := j.Save(); err != nil {
				return err
			}
			switch {
			case before == nil:
				g.printf("recorded the board's checkpoint of %d entries in %s (the first)\n", cp.Size, journal)
			case cp.Size < before.Size:
				g.printf("the board's checkpoint of %d entries is older than the %d recorded in %s, and of one history with it\n", cp.Size, before.Size, journal)
			default:
				g.printf("recorded the board's checkpoint of %d entries in %s; it extends the %d recorded before\n", cp.Size, journal, before.Size)
			}
			return nil
		},
	}
	bf.add(c, false, true)
	c.Flags().StringVar(&journal, "journal", "", "this trustee's journal `FILE` (default trustee-ORIGIN.journal, after the board key's name)")
	return c
}
