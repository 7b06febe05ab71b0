package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/spf13/cobra"
)

func boardPhaseCmd(g *globals, which string) *cobra.Command {
	var bf boardFlags
	var untallied bool
	var without []int
	short, long := "End the key ceremony and open voting",
		`open ends the key ceremony: the board decides it from the posted messages
(which trustees qualify, the election key, each trustee's verification key)
and appends the open entry. Ballots are accepted from then on.

It decides for good, so the board refuses while any trustee is missing
something (its deal, its check of its shares, an answer to a complaint) or
is disqualified, naming each trustee, what it is missing and what the
election would lose; evote trustee status shows the same beforehand. Wait
for them, or go on without them: --without 3 (repeatable, or 2,3) says the
election is to open without those trustees' missing parts, and the board
then opens if no one else is missing. With an announcement missing, or fewer
than the threshold of good deals, no key can be made and it cannot open.`
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
			if which == "open" {
				do = func(ctx context.Context) (uint64, error) { return openWithout(ctx, g, c, without) }
			}
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
	if which == "open" {
		c.Flags().IntSliceVar(&without, "without", nil, "go on without trustee `INDEX`'s missing messages (repeatable, or a comma list): the board refuses to open while a trustee not named is missing")
		c.Example += "\n  evote board open --board http://127.0.0.1:8080 --admin-token-file admin.token --without 3"
	}
	if which == "close" {
		c.Flags().BoolVar(&untallied, "accept-untallied", false, "close even with fewer counted ballots than the manifest's min_ballots (there will be no result)")
	}
	return c
}

// openWithout asks the board to open, going on without the trustees
// given. The board decides; what it refuses it names, and the command adds
// what to run. Before asking, it reads the ceremony from the board (the
// board's own word: the admin is its operator) to say what going on
// without those trustees costs.
func openWithout(ctx context.Context, g *globals, c *boardapi.Client, without []int) (uint64, error) {
	p, perr := boardProgress(ctx, c)
	var i uint64
	var err error
	if len(without) == 0 {
		i, err = c.Open(ctx)
	} else {
		i, err = c.OpenWithout(ctx, without)
	}
	var be *boardapi.Error
	switch {
	case errors.Is(err, boardapi.ErrTrusteesMissing) && errors.As(err, &be):
		hint := "wait for them, or go on without them: evote board open --without INDEX"
		if perr == nil {
			hint = "wait for them (evote trustee status shows what each does next), or go on without them: evote board open --without " + joinInts(p.Missing())
		}
		return 0, fmt.Errorf("the board refuses to open: %s\n%s", be.Message, hint)
	case errors.Is(err, boardapi.ErrCeremonyIncomplete) && errors.As(err, &be):
		return 0, fmt.Errorf("the board cannot open: %s\nwait for the trustees named (evote trustee status)", be.Message)
	case err != nil:
		return 0, err
	}
	if perr == nil && len(p.Missing()) > 0 {
		g.printf("opened without %s: %s\n", record.Names(p.Missing()), p.GapsText())
		g.printf("  %s\n", p.Loss())
	}
	return i, nil
}

// boardProgress reads the ceremony the board holds, as the board says it,
// with the board's own manifest.
func boardProgress(ctx context.Context, c *boardapi.Client) (*record.Progress, error) {
	leaf, err := c.Entry(ctx, 0)
	if err != nil {
		return nil, err
	}
	if len(leaf) == 0 || store.EntryType(leaf[0]) != store.Manifest {
		return nil, errors.New("entry 0 is not a manifest")
	}
	m, err := ballot.ParseManifest(leaf[1:])
	if err != nil {
		return nil, err
	}
	cer := record.NewCeremony(m)
	n := uint64(m.Trustees.N)
	for i := uint64(1); i <= 2*n+3*n*n; i++ {
		leaf, err := c.Entry(ctx, i)
		if errors.Is(err, boardapi.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(leaf) == 0 || store.EntryType(leaf[0]) != store.Ceremony {
			break
		}
		if err := cer.Add(leaf[1:]); err != nil {
			return nil, err
		}
	}
	return cer.Progress(), nil
}
