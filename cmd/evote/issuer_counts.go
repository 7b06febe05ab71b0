package main

import (
	"math"

	"github.com/spf13/cobra"
)

// issuerCountsJSON is what evote issuer counts --json prints.
type issuerCountsJSON struct {
	Store    string  `json:"store"`
	Eligible int     `json:"eligible"`
	Issued   int     `json:"issued"`
	Percent  float64 `json:"percent_issued"` // issued of eligible
	Purged   bool    `json:"purged"`
}

func issuerCountsCmd(g *globals) *cobra.Command {
	var st storeFlag
	var asJSON bool
	c := &cobra.Command{
		Use:   "counts",
		Short: "Print the roll's counts: eligible voters and tokens issued",
		Long: `counts prints the numbers the issuer's roll holds, and only them: the voters
on the roll (eligible) and the eligibility tokens issued, never who. They
are the numbers "evote issuer statement" signs at close, and what remains
after "evote issuer purge". It opens the roll as purge does and changes no
entry in it; stop the issuer first (a running issuer holds the roll's lock, and
counts then fails after 5 seconds saying so).

With --json it prints one JSON object: "store", "eligible", "issued",
"percent_issued" (issued of eligible, 0 with none eligible) and "purged"
(the roll holds only the counts). On a failure nothing is printed on
stdout; the error goes to stderr.`,
		Example: `  evote issuer counts --store bolt:issuer-data
  evote issuer counts --store bolt:issuer-data --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := st.open(); err != nil {
				return err
			}
			r, err := st.openRoll(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := r.Counts(cmd.Context())
			if err != nil {
				return err
			}
			out := issuerCountsJSON{Store: st.String(), Eligible: n.Eligible, Issued: n.Issued, Purged: n.Purged}
			if n.Eligible > 0 {
				out.Percent = math.Round(10000*float64(n.Issued)/float64(n.Eligible)) / 100
			}
			if asJSON {
				return g.printJSON(out)
			}
			purged := ""
			if n.Purged {
				purged = "; the roll is purged, only its counts remain"
			}
			g.printf("the roll in %s: %d eligible voters, %d tokens issued (%.1f%%), %d not issued%s\n",
				out.Store, n.Eligible, n.Issued, out.Percent, n.Eligible-n.Issued, purged)
			return nil
		},
	}
	st.add(c, "the issuer's roll", "issuer-data")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (keys in the help)")
	return c
}
