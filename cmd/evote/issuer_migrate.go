package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evote/evote/issuer"
	"github.com/spf13/cobra"
)

// rollLister is a roll that lists its entries (issuer/bolt).
type rollLister interface {
	Each(ctx context.Context, fn func(issuer.RollEntry) error) error
}

func issuerMigrateCmd(g *globals) *cobra.Command {
	var from, to storeFlag
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Move the voter roll from bbolt to PostgreSQL",
		Long: `migrate copies the issuer's roll from a bbolt store (--from bolt:DIR) into
an empty PostgreSQL database (--to postgres:DSN), before the issuer runs as
several processes on one database. Stop the issuer first: a bbolt roll an
issuer holds is refused after a few seconds' wait.

Every voter's entry is copied as it is: the enrolment code's hash, the wrong
codes and back-offs counted, the token issued (the blinded message and its
signature, so a voter who has a token gets that one again and never a
second), the sealed contacts and authenticator secrets, and any one-time
code sent. So are the roll's election binding (which election and issuing
key it serves: the file "election" beside the bbolt roll) and the count of
contacts its import sealed in (the file "contacts"). The entries go in one
transaction, all or none. Then the database's roll is read back: the
numbers of voters and of tokens issued, and every entry, must be the
bbolt roll's.

A --to holding any voter is refused, and so is one bound to another
election or key, or purged; a refusal adds no voter. A purged bbolt roll is
refused too: only its counts remain, and a PostgreSQL roll keeps counts only
with its voters' rows, so keep the bbolt store for its counts.

The bbolt roll still holds every voter's record afterwards: once the issuer
serves from PostgreSQL, erase it (evote issuer purge --store bolt:DIR) and
any copy of it.`,
		Example: `  evote issuer migrate --from bolt:issuer-data \
      --to postgres:postgres://evote_issuer@db.example.org/evote_roll`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if from.spec == "" || to.spec == "" {
				return usagef("give the roll to move and where to: --from bolt:DIR --to postgres:DSN")
			}
			fe, where, err := from.open()
			if err != nil {
				return err
			}
			te, _, err := to.open()
			if err != nil {
				return err
			}
			if fe != "bolt" || te != "postgres" {
				return usagef("migrate moves a bbolt roll into PostgreSQL: --from bolt:DIR --to postgres:DSN (not --from %s --to %s)", &from, &to)
			}
			moved, err := migrateRoll(ctx, &from, &to, where)
			if err != nil {
				return err
			}
			g.printf("moved the roll from %s to %s:\n", &from, &to)
			g.printf("  voters         %d\n  tokens issued  %d\n", moved.counts.Eligible, moved.counts.Issued)
			switch {
			case moved.binding != "":
				g.printf("  bound to       %s\n", oneLine(moved.binding))
			default:
				g.printf("  bound to       nothing yet (the roll predates the binding; its next start binds it)\n")
			}
			if moved.contacts >= 0 {
				g.printf("  contacts       %d noted\n", moved.contacts)
			}
			g.printf("every entry was read back from the database and compared\n")
			g.printf("next: serve the issuer on it, every issuer process with the same --store (no --roll: the voters are there):\n  evote issuer serve --key issuer.key --election manifest.json --store %s ...\n", to.shellArg())
			g.printf("then erase the bbolt roll, which still holds every voter's record: evote issuer purge --store %s\n", from.shellArg())
			return nil
		},
	}
	c.Flags().StringVar(&from.spec, "from", "", "the bbolt roll to move, as bolt:`DIR`")
	c.Flags().StringVar(&to.spec, "to", "", "the empty PostgreSQL database to move it into, as postgres:`DSN`. Keep the password out of the command line: put it in ~/.pgpass or PGPASSFILE")
	c.Flags().IntVar(&to.pool, "db-pool", 0, "the most database connections to open (0: the default)")
	return c
}

// movedRoll is what migrateRoll moved.
type movedRoll struct {
	counts   issuer.Counts
	binding  string // "" if the roll had none
	contacts int    // -1 if none was noted
}

// oneLine is a binding ("election X\nissuing key Y\n") on one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "; ")
}

// migrateRoll moves the bbolt roll in from (in the directory dir) into the
// PostgreSQL roll in to, as issuer migrate's help says.
func migrateRoll(ctx context.Context, from, to *storeFlag, dir string) (movedRoll, error) {
	src, err := from.openRoll(ctx, false)
	if err != nil {
		return movedRoll{}, err
	}
	defer src.Close()
	lister, ok := src.(rollLister)
	if !ok {
		return movedRoll{}, fmt.Errorf("the roll in %s cannot list its voters", from)
	}
	sc, err := src.Counts(ctx)
	if err != nil {
		return movedRoll{}, err
	}
	switch {
	case sc.Purged:
		return movedRoll{}, fmt.Errorf("the roll in %s was purged after its election: only its counts remain (%d eligible voters, %d tokens issued), and a PostgreSQL roll keeps counts only with its voters' rows, so it cannot hold them; keep %s for its counts (evote issuer counts --store %s)", from, sc.Eligible, sc.Issued, from, from.shellArg())
	case sc.Eligible == 0:
		return movedRoll{}, fmt.Errorf("the roll in %s holds no voters: there is nothing to move", from)
	}
	m := movedRoll{counts: sc, contacts: from.contactsNoted(ctx, src)}
	b, err := os.ReadFile(filepath.Join(dir, "election"))
	switch {
	case err == nil:
		m.binding = string(b)
	case !errors.Is(err, os.ErrNotExist):
		return movedRoll{}, err
	}
	var entries []issuer.RollEntry
	issued := 0
	err = lister.Each(ctx, func(e issuer.RollEntry) error {
		entries = append(entries, e)
		if e.Issued() {
			issued++
		}
		return nil
	})
	if err != nil {
		return movedRoll{}, fmt.Errorf("reading the roll in %s: %w", from, err)
	}
	if len(entries) != sc.Eligible || issued != sc.Issued {
		return movedRoll{}, fmt.Errorf("the roll in %s counts %d voters and %d tokens issued, but holds %d and %d: it is damaged; nothing was moved", from, sc.Eligible, sc.Issued, len(entries), issued)
	}

	dst, err := to.openRoll(ctx, true)
	if err != nil {
		return movedRoll{}, err
	}
	defer dst.Close()
	meta, ok := dst.(rollMeta)
	if !ok {
		return movedRoll{}, fmt.Errorf("the roll in %s keeps no binding", to)
	}
	dc, err := dst.Counts(ctx)
	switch {
	case err != nil:
		return movedRoll{}, err
	case dc.Purged:
		return movedRoll{}, fmt.Errorf("--to %s holds a purged roll (%d eligible voters, %d tokens issued): move the roll into a database of its own (createdb)", to, dc.Eligible, dc.Issued)
	case dc.Eligible > 0:
		return movedRoll{}, fmt.Errorf("--to %s is not empty: it holds a roll of %d voters. If an earlier migrate moved this roll there, the move is done (it moves all or nothing; compare evote issuer counts --store on each): serve the issuer on it. Otherwise move the roll into a database of its own (createdb), and drop none before knowing whose roll it holds", to, dc.Eligible)
	}
	// The binding first: a database bound to another election is refused
	// before a voter is added (Bind stores one only where there is none).
	if m.binding != "" {
		stored, err := meta.Bind(ctx, m.binding)
		if err != nil {
			return movedRoll{}, err
		}
		if stored != m.binding {
			return movedRoll{}, fmt.Errorf("--to %s is bound to another election or key:\n%sthe roll in %s serves\n%smove it into a database of its own (createdb)", to, stored, from, m.binding)
		}
	}
	if m.contacts >= 0 {
		if err := meta.NoteContacts(ctx, m.contacts); err != nil {
			return movedRoll{}, err
		}
	}
	if err := dst.Add(ctx, entries); err != nil {
		return movedRoll{}, fmt.Errorf("adding the voters to %s: %w; none was added", to, err)
	}

	// Read back.
	dc, err = dst.Counts(ctx)
	if err != nil {
		return movedRoll{}, err
	}
	if dc != sc {
		return movedRoll{}, fmt.Errorf("%s counts %d voters and %d tokens issued after the move, the bbolt roll %d and %d", to, dc.Eligible, dc.Issued, sc.Eligible, sc.Issued)
	}
	for i := range entries {
		got, err := dst.Get(ctx, entries[i].VoterID)
		if err != nil {
			return movedRoll{}, fmt.Errorf("reading entry %d back from %s: %w", i+1, to, err)
		}
		a, err1 := json.Marshal(&entries[i])
		b, err2 := json.Marshal(&got)
		if err := errors.Join(err1, err2); err != nil {
			return movedRoll{}, err
		}
		if string(a) != string(b) {
			return movedRoll{}, fmt.Errorf("entry %d of the roll reads back from %s other than it was written", i+1, to)
		}
	}
	if n, err := meta.ContactsNoted(ctx); err != nil || n != m.contacts {
		return movedRoll{}, fmt.Errorf("%s notes %d contacts after the move, the bbolt roll %d (%v)", to, n, m.contacts, err)
	}
	return m, nil
}
