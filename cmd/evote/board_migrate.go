package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	storepg "github.com/evote/evote/store/postgres"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func boardMigrateCmd(g *globals) *cobra.Command {
	var key string
	var from, to storeFlag
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Move the board's log to another store (bbolt to PostgreSQL)",
		Long: `migrate copies the board's log from --from into --to, an empty store, as a
move from the embedded bbolt file to PostgreSQL (--from bolt:DIR --to
postgres:DSN) before the board runs as several processes on one database.
Stop the board first: --from is opened read-only and a bbolt store a board
holds is refused.

Everything is copied: every entry, the tree's stored hashes (computed again
from the entries and compared with the source's) and every key that points
at an entry, such as each ballot's token, so that a ballot cast before the
move is still refused after it. The copy goes in transactions of a few
thousand entries. Then both stores are read back whole and compared, entry
by entry, hash by hash and key by key, and the tree hash printed is the one
both hold: the board on --to signs the very checkpoints, and exports the
very record, the board on --from did.

--key is the board's signing key: --from must be that key's log, and --to
is bound to it. A --to that holds any entry is refused, and so is one bound
to another key; neither store is changed by a refusal. A copy that fails
part way leaves --to holding part of the log: empty it (for PostgreSQL,
drop and create the database) and run migrate again. --from is never
changed: keep it until the board on --to serves the same checkpoint.`,
		Example: `  evote board migrate --key board.key --from bolt:board-data \
      --to postgres:postgres://evote@db.example.org/evote_board`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			switch {
			case from.spec == "" || to.spec == "":
				return usagef("give the store to copy from and the one to copy into: --from bolt:DIR --to postgres:DSN")
			case from.String() == to.String():
				return usagef("--from and --to are the same store, %s", &from)
			}
			if _, _, err := from.open(); err != nil {
				return err
			}
			if _, _, err := to.open(); err != nil {
				return err
			}
			signer, _, err := readBoardKey(g, key)
			if err != nil {
				return err
			}
			src, err := from.openEngine(ctx, true)
			if err != nil {
				return fmt.Errorf("--from %s: %w", &from, err)
			}
			defer src.Close()
			// The source's key is checked before --to is opened, which for
			// PostgreSQL creates the log's tables: a wrong key changes nothing.
			if n, err := src.Size(ctx); err != nil {
				return fmt.Errorf("--from %s: %w", &from, err)
			} else if n == 0 {
				return fmt.Errorf("--from %s holds no log: there is nothing to copy", &from)
			}
			if err := src.Bind(ctx, signer.Name(), signer.KeyHash()); err != nil {
				return fmt.Errorf("--from %s is not the log of --key %s: %w", &from, key, err)
			}
			dst, err := to.openEngine(ctx, false)
			if err != nil {
				return fmt.Errorf("--to %s: %w", &to, err)
			}
			defer dst.Close()

			var bar *ops.Progress
			step := ""
			c, err := store.Copy(ctx, dst, src, signer.Name(), signer.KeyHash(), &store.CopyOptions{
				Progress: func(s string, done, total uint64) {
					if s != step {
						bar.Done()
						step = s
						bar = ops.NewProgress(g.stderr, g.showProgress(), s+" the log", "entries")
					}
					bar.Set(done, total)
				},
			})
			bar.Done()
			switch {
			case errors.Is(err, store.ErrNotEmpty):
				return fmt.Errorf("--to %s: %w; copy into a store of its own (for PostgreSQL, an empty database: createdb), or, if it holds a copy that failed part way, empty it and run migrate again", &to, err)
			case err != nil:
				return err
			}
			g.printf("copied the board's log from %s to %s:\n", &from, &to)
			g.printf("  entries  %d\n  keys     %d\n  tree     %x at %d entries, the same in both (the root evote board status prints)\n", c.Entries, c.Keys, c.Root[:], c.Entries)
			g.printf("every entry, tree hash and key was read back from both and compared; %s is unchanged\n", &from)
			fronts := ", on every front the same store"
			if engine, _, _ := to.open(); engine == "bolt" {
				fronts = "" // a bbolt file serves one board process
			}
			g.printf("next: serve the board on it%s:\n  evote board serve --key %s --store %s ...\n", fronts, key, to.shellArg())
			g.printf("and check that it serves the same checkpoint of %d entries the old board signed; then retire %s\n", c.Entries, &from)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "board.key", "the board's signing key (age-encrypted): --from must be its log")
	c.Flags().StringVar(&from.spec, "from", "", "the store to copy the log from, as `ENGINE:WHERE` (bolt:DIR); read only")
	c.Flags().StringVar(&to.spec, "to", "", "the empty store to copy the log into, as `ENGINE:WHERE` (postgres:DSN). Keep a PostgreSQL password out of the command line: put it in ~/.pgpass or PGPASSFILE")
	c.Flags().IntVar(&to.pool, "db-pool", 0, "with a PostgreSQL --to: the most database connections to open (0: the default)")
	return c
}

// readBoardKey reads the board's age-encrypted signing key, and gives its
// signer and verifier.
func readBoardKey(g *globals, key string) (note.Signer, note.Verifier, error) {
	kr, err := g.keyring()
	if err != nil {
		return nil, nil, err
	}
	skey, err := kr.ReadFile(key)
	if err != nil {
		return nil, nil, err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	vkey, verr := verifierKeyOf(skey)
	clear(skey) // the signer keeps its own copy
	if err == nil {
		err = verr
	}
	var v note.Verifier
	if err == nil {
		v, err = note.NewVerifier(vkey)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	return signer, v, nil
}

// openEngine opens the engine of the board's log in s, read-only if
// asked (as far as the engine allows: see store/bolt and store/postgres).
func (s *storeFlag) openEngine(ctx context.Context, readOnly bool) (store.Engine, error) {
	engine, where, err := s.open()
	if err != nil {
		return nil, err
	}
	switch engine {
	case "bolt":
		return bolt.OpenEngine(where, &bolt.Options{ReadOnly: readOnly})
	case "postgres":
		return storepg.OpenEngine(ctx, where, &storepg.Options{MaxConns: s.pool, ReadOnly: readOnly})
	}
	return nil, fmt.Errorf("no board log on engine %q", engine)
}

// shellArg is the store as a --store argument to print in a next step: as
// String, without a password, and quoted if the shell would split it.
func (s *storeFlag) shellArg() string {
	v := s.String()
	if strings.ContainsAny(v, " '\"&;?*$\\") {
		return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
	}
	return v
}
