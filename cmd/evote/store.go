package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/pgdb"
	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	issuerpg "github.com/evote/evote/issuer/postgres"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	storepg "github.com/evote/evote/store/postgres"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// engines names the storage engines --store takes, as ENGINE:WHERE.
const engines = "bolt:DIR (bbolt files in a directory) and postgres:DSN (a PostgreSQL database, such as postgres:postgres://evote@db.example.org/evote)"

// storeFlag is the one switch that picks a service's storage engine,
// --store ENGINE:WHERE, and --data DIR, its older synonym for bolt:DIR.
type storeFlag struct {
	spec, data string
	def        string // the directory when neither is given
	pool       int    // --db-pool: PostgreSQL connections at most
}

func (s *storeFlag) add(c *cobra.Command, what, def string) {
	s.def = def
	c.Flags().StringVar(&s.spec, "store", "", fmt.Sprintf("where %s is kept, as `ENGINE:WHERE`: %s (default bolt:%s). Keep a PostgreSQL password out of the command line: put it in ~/.pgpass or PGPASSFILE", what, engines, def))
	c.Flags().StringVar(&s.data, "data", "", "the same as --store bolt:`DIR`")
	c.Flags().IntVar(&s.pool, "db-pool", 0, "with --store postgres: the most database connections this process opens (0: 4, or the number of CPUs if more)")
}

// open says which engine to use and where: ("bolt", DIR) or ("postgres",
// DSN), or a usage error naming the engines there are. A DSN given as a
// URL alone (postgres://...) is taken as postgres:URL.
func (s *storeFlag) open() (engine, where string, err error) {
	switch {
	case s.pool < 0:
		return "", "", usagef("--db-pool %d: give a number of connections, or 0 for the default", s.pool)
	case s.spec != "" && s.data != "":
		return "", "", usagef("give --store or --data, not both (--data %s is --store bolt:%s)", s.data, s.data)
	case s.data != "":
		return "bolt", s.data, nil
	case s.spec == "":
		return "bolt", s.def, nil
	case strings.HasPrefix(s.spec, "postgres://") || strings.HasPrefix(s.spec, "postgresql://"):
		return "postgres", s.spec, nil
	}
	engine, where, ok := strings.Cut(s.spec, ":")
	switch {
	case !ok:
		return "", "", usagef("--store %s names no engine; write ENGINE:WHERE, one of %s (--store bolt:%s for a directory)", redactSpec(s.spec), engines, redactSpec(s.spec))
	case engine != "bolt" && engine != "postgres":
		return "", "", usagef("--store %s: no storage engine %q; the engines are %s", redactSpec(s.spec), engine, engines)
	case where == "":
		return "", "", usagef("--store %s: say where, as bolt:DIR or postgres:DSN", redactSpec(s.spec))
	}
	return engine, where, nil
}

// redactSpec is a --store value without any password in it: a URL's
// redacted, and a key=value DSN (host=... password=...), given with an
// engine or without, not shown at all.
func redactSpec(spec string) string {
	engine, where, ok := strings.Cut(spec, ":")
	switch {
	case strings.HasPrefix(where, "//"): // the spec is a URL
		return pgdb.Redact(spec)
	case strings.Contains(where, "://"):
		return engine + ":" + pgdb.Redact(where)
	case engine != "bolt" && strings.Contains(where, "="):
		return engine + ":" + pgdb.Redact(where)
	case !ok && strings.Contains(spec, "="):
		return pgdb.Redact(spec)
	}
	return spec
}

// String is the store as a person reads it in messages: a DSN without
// its password.
func (s *storeFlag) String() string {
	engine, where, err := s.open()
	if err != nil {
		return redactSpec(s.spec)
	}
	if engine == "postgres" {
		return engine + ":" + pgdb.Redact(where)
	}
	return engine + ":" + where
}

// openLog opens the board's log, with checkpoints signed by signer.
func (s *storeFlag) openLog(ctx context.Context, signer note.Signer) (store.Log, error) {
	engine, where, err := s.open()
	if err != nil {
		return nil, err
	}
	switch engine {
	case "bolt":
		return bolt.Open(where, signer, nil)
	case "postgres":
		return storepg.Open(ctx, where, signer, &storepg.Options{MaxConns: s.pool})
	}
	return nil, fmt.Errorf("no board log on engine %q", engine)
}

// openRoll opens the issuer's roll, creating an empty one if create is
// set and there is none.
func (s *storeFlag) openRoll(ctx context.Context, create bool) (issuer.Roll, error) {
	engine, where, err := s.open()
	if err != nil {
		return nil, err
	}
	switch engine {
	case "bolt":
		path := filepath.Join(where, "roll.db")
		if create {
			if err := os.MkdirAll(where, 0o700); err != nil {
				return nil, err
			}
		} else if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no roll in %s: %w", s, err)
		}
		return issuerbolt.Open(path)
	case "postgres":
		r, err := issuerpg.Open(ctx, where, &issuerpg.Options{MaxConns: s.pool})
		if err != nil {
			return nil, err
		}
		if !create {
			if c, err := r.Counts(ctx); err == nil && c.Eligible == 0 && !c.Purged {
				r.Close()
				return nil, fmt.Errorf("no roll in %s: the database holds no voters (evote issuer serve --roll imports them)", s)
			}
		}
		return r, nil
	}
	return nil, fmt.Errorf("no roll on engine %q", engine)
}

// rollMeta is what a database roll keeps of itself that a bbolt roll
// keeps in files beside it (issuer/postgres).
type rollMeta interface {
	Bind(ctx context.Context, binding string) (stored string, err error)
	NoteContacts(ctx context.Context, n int) error
	ContactsNoted(ctx context.Context) (int, error)
}

// bindRoll ties the roll r to the election and issuing key it serves: a
// roll left from a trial (evote issuer roll makes one) or from another
// election must not be served as this one's, with its voters, codes and
// counts. A bbolt roll keeps the binding in a file beside it, checked
// before the roll is opened (r nil: opening the file writes to it), a
// database roll in itself, checked once it is open. A roll made before
// the binding existed is bound on its next start.
func (s *storeFlag) bindRoll(ctx context.Context, r issuer.Roll, m *ballot.Manifest, pub *token.PublicKey) error {
	engine, where, err := s.open()
	if err != nil {
		return err
	}
	want := fmt.Sprintf("election %s\nissuing key %s\n", m.ElectionID, pub.ID())
	var got []byte
	switch rm, ok := r.(rollMeta); {
	case r == nil && engine != "bolt":
		return nil
	case ok:
		stored, err := rm.Bind(ctx, want)
		if err != nil {
			return err
		}
		got = []byte(stored)
	case engine == "bolt":
		path := filepath.Join(where, "election")
		got, err = os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.MkdirAll(where, 0o700); err != nil {
				return err
			}
			return writeNew(path, []byte(want), 0o600, false)
		case err != nil:
			return err
		}
	default:
		return nil
	}
	if string(got) != want {
		return fmt.Errorf("the roll in %s belongs to another election or key:\n%sthis is election %s, issuing key %s; a trial's roll? give this election its own --store (or delete the roll in %s if it was a trial)", s, got, m.ElectionID, pub.ID(), s)
	}
	return nil
}

// noteContacts records with the roll how many voters' contacts its
// import sealed in, so that a later start with a second factor can tell
// a roll imported without them (whose voters no code can reach).
func (s *storeFlag) noteContacts(ctx context.Context, r issuer.Roll, n int) error {
	engine, where, err := s.open()
	if err != nil {
		return err
	}
	if rm, ok := r.(rollMeta); ok {
		return rm.NoteContacts(ctx, n)
	}
	if engine != "bolt" {
		return nil
	}
	return os.WriteFile(filepath.Join(where, "contacts"), []byte(strconv.Itoa(n)+"\n"), 0o600)
}

// contactsNoted is what noteContacts recorded; -1 if nothing was (a roll
// imported before the note existed: not refused).
func (s *storeFlag) contactsNoted(ctx context.Context, r issuer.Roll) int {
	engine, where, err := s.open()
	if err != nil {
		return -1
	}
	if rm, ok := r.(rollMeta); ok {
		n, err := rm.ContactsNoted(ctx)
		if err != nil {
			return -1
		}
		return n
	}
	if engine != "bolt" {
		return -1
	}
	b, err := os.ReadFile(filepath.Join(where, "contacts"))
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}
