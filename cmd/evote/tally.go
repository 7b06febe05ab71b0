package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/trustee"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func tallyCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "tally",
		Short: "Combine the trustees' partial decryptions into the result and post it",
		Long: `tally fetches the board's record after close, verifies it entry by entry,
recomputes the aggregate from the ballots, combines the first t valid partial
decryptions on the record (Lagrange interpolation in the exponent, then a
bounded discrete log) into the counts, posts the result (admin) and prints it.
The board accepts the result only if it is what the partials combine to.
Nothing is printed before the record has verified and the board has taken
the result. The percentages are of the ballots counted (of voters), not of
the marks: where a ballot may mark several choices they may add up to more
than 100%.

On a terminal, or with --progress, a bar on stderr shows the entries
fetched and verified of the board's size, with the time left.

With --json it prints one JSON object: "posted_entry" (the result's entry on
the board) and "result". ` + resultHelp + `
On a failure nothing is printed on stdout; the error goes to stderr and the
exit code is the text's.`,
		Example: `  evote tally --board http://127.0.0.1:8080 --board-key board.vkey --admin-token-file admin.token
  evote tally --board http://127.0.0.1:8080 --board-key board.vkey --admin-token-file admin.token --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(true)
			if err != nil {
				return err
			}
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			tl, err := fetchRecord(cmd.Context(), g, c, key, trustee.Options{})
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
			if asJSON {
				return g.printJSON(tallyJSON{PostedEntry: i, Result: newResultJSON(tl.Election.Manifest, res)})
			}
			ops.PrintResult(g.stdout, tl.Election.Manifest, res)
			if tl.Report != nil {
				printTurnout(g, tl.Report)
			}
			g.printf("\nposted as entry %d\n", i)
			return nil
		},
	}
	bf.add(c, true, true)
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of the table (keys in the help)")
	return c
}

// tallyJSON is what evote tally --json prints.
type tallyJSON struct {
	PostedEntry uint64      `json:"posted_entry"`
	Result      *resultJSON `json:"result"`
}

// fetchRecord fetches the board's record and verifies it as it downloads
// (trustee.Fetch), drawing the bar in entries of the board's size.
func fetchRecord(ctx context.Context, g *globals, c *boardapi.Client, key note.Verifier, o trustee.Options) (*trustee.Tally, error) {
	p := ops.NewProgress(g.stderr, g.showProgress(), "fetching and verifying the record", "entries")
	meter := newEntryMeter(p, boardSize(ctx, c, p))
	tl, err := trustee.Fetch(ctx, meteredExport{c, meter}, key, o)
	p.Done()
	return tl, err
}
