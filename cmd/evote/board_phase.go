package main

import (
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/spf13/cobra"
)

func boardPhaseCmd(g *globals, which string) *cobra.Command {
	var bf boardFlags
	var untallied bool
	short, long := "End the key ceremony and open voting",
		`open ends the key ceremony: the board decides it from the posted messages
(which trustees qualify, the election key, each trustee's verification key)
and appends the open entry. Ballots are accepted from then on.`
	if which == "close" {
		short, long = "End voting",
			`close appends the close entry: from then on every ballot is refused, and
trustees can decrypt the aggregate (evote trustee decrypt). It cannot be
undone. If fewer ballots are counted than the manifest's min_ballots, the
trustees will decrypt no tally, so close refuses unless --accept-untallied
says to end an election that will have no result. When the manifest names the
issuer's statement key, the issuer then states its counts (evote issuer
statement, then evote board issuance): the record is complete only with them.`
	}
	c := &cobra.Command{
		Use:     which,
		Short:   short,
		Long:    long,
		Example: "  evote board " + which + " --board http://127.0.0.1:8080 --admin-token-file admin.token",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(true)
			if err != nil {
				return err
			}
			do := c.Open
			if which == "close" {
				do = c.Close
				if !untallied {
					if err := checkMinBallots(cmd.Context(), c); err != nil {
						return err
					}
				}
			}
			i, err := do(cmd.Context())
			if err != nil {
				return err
			}
			g.printf("%s: entry %d\n", which, i)
			if which == "open" {
				info, err := c.Election(cmd.Context())
				if err != nil {
					return err
				}
				g.printf("  election key %s\n", ops.Printable(info.ElectionKey))
			}
			return nil
		},
	}
	bf.add(c, true, false)
	if which == "close" {
		c.Flags().BoolVar(&untallied, "accept-untallied", false, "close even with fewer counted ballots than the manifest's min_ballots (there will be no result)")
	}
	return c
}
