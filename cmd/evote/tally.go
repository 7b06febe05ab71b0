package main

import (
	"errors"
	"fmt"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/trustee"
	"github.com/spf13/cobra"
)

func tallyCmd(g *globals) *cobra.Command {
	var bf boardFlags
	c := &cobra.Command{
		Use:   "tally",
		Short: "Combine the trustees' partial decryptions into the result and post it",
		Long: `tally fetches the board's record after close, verifies it entry by entry,
recomputes the aggregate from the ballots, combines the first t valid partial
decryptions on the record (Lagrange interpolation in the exponent, then a
bounded discrete log) into the counts, posts the result (admin) and prints it.
The board accepts the result only if it is what the partials combine to.`,
		Example: `  evote tally --board http://127.0.0.1:8080 --board-key board.vkey --admin-token-file admin.token`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(true)
			if err != nil {
				return err
			}
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			p := ops.NewProgress(g.stderr, g.showProgress(), "fetching and verifying the record", "bytes")
			tl, err := trustee.Fetch(cmd.Context(), c, key, trustee.Options{Progress: p.Set})
			p.Done()
			if err != nil {
				return err
			}
			res, err := tl.Combine()
			if errors.Is(err, tally.ErrNotEnoughPartials) {
				return fmt.Errorf("%w; trustees post theirs with evote trustee decrypt", err)
			}
			if err != nil {
				return closeHint(err)
			}
			i, err := c.PostResult(cmd.Context(), res.Bytes())
			if err != nil {
				return err
			}
			ops.PrintResult(g.stdout, tl.Election.Manifest, res)
			g.printf("\nposted as entry %d\n", i)
			return nil
		},
	}
	bf.add(c, true, true)
	return c
}
