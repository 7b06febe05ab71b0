package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/evote/evote/issuance"
	"github.com/spf13/cobra"
)

func boardIssuanceCmd(g *globals) *cobra.Command {
	var bf boardFlags
	c := &cobra.Command{
		Use:   "issuance FILE",
		Short: "Record the issuer's signed counts (eligible voters, tokens issued)",
		Long: `issuance posts the issuer's signed statement of its counts (the issuance.json
that "evote issuer statement" writes) to the board, which records it as an
entry of the election's record. From then on every verifier checks that the
ballots counted are no more than the tokens issued, and these no more than
the eligible voters, and reports turnout; the report shows both figures.

The board accepts it only after close, once, and only if it is signed with
the statement key the manifest names (issuance_key), is for this election,
and says no more tokens issued than voters eligible and no fewer than the
ballots counted. A refused statement changes nothing on the board: fix what
the error names and post again. Trustees need not wait for it: it may come
before or after their partial decryptions and the result, but a record is
complete only once it is there.`,
		Example: `  evote board issuance --board http://127.0.0.1:8080 --admin-token-file admin.token issuance.json`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := os.ReadFile(a[0])
			if err != nil {
				return err
			}
			// An editor may have added a final newline; the entry is the
			// statement's canonical bytes, nothing else.
			b = bytes.TrimSuffix(b, []byte("\n"))
			st, err := issuance.Parse(b)
			if err != nil {
				return fmt.Errorf("%s is not the issuer's statement as evote issuer statement writes it: %w", a[0], err)
			}
			c, err := bf.client(true)
			if err != nil {
				return err
			}
			i, err := c.PostIssuance(cmd.Context(), st.Bytes())
			if err != nil {
				return fmt.Errorf("%s: %w", a[0], err)
			}
			g.printf("recorded the issuer's counts as entry %d: %d eligible voters, %d tokens issued\n", i, st.Eligible, st.Issued)
			return nil
		},
	}
	bf.add(c, true, false)
	return c
}
