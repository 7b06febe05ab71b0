package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// engines names the storage engines --store takes, as ENGINE:WHERE.
const engines = "bolt:DIR (bbolt files in a directory)"

// storeFlag is the one switch that picks a service's storage engine,
// --store ENGINE:WHERE, and --data DIR, its older synonym for bolt:DIR.
type storeFlag struct {
	spec, data string
	def        string // the directory when neither is given
}

func (s *storeFlag) add(c *cobra.Command, what, def string) {
	s.def = def
	c.Flags().StringVar(&s.spec, "store", "", fmt.Sprintf("where %s is kept, as `ENGINE:WHERE`: %s (default bolt:%s)", what, engines, def))
	c.Flags().StringVar(&s.data, "data", "", "the same as --store bolt:`DIR`")
}

// open says which engine to use and where: ("bolt", DIR), or a usage error
// naming the engines there are.
func (s *storeFlag) open() (engine, where string, err error) {
	switch {
	case s.spec != "" && s.data != "":
		return "", "", usagef("give --store or --data, not both (--data %s is --store bolt:%s)", s.data, s.data)
	case s.data != "":
		return "bolt", s.data, nil
	case s.spec == "":
		return "bolt", s.def, nil
	}
	engine, where, ok := strings.Cut(s.spec, ":")
	switch {
	case !ok:
		return "", "", usagef("--store %s names no engine; write ENGINE:WHERE, one of %s (--store bolt:%s for a directory)", s.spec, engines, s.spec)
	case engine != "bolt":
		return "", "", usagef("--store %s: no storage engine %q; the engines are %s", s.spec, engine, engines)
	case where == "":
		return "", "", usagef("--store %s: say where, as bolt:DIR", s.spec)
	}
	return engine, where, nil
}

// String is the store as a person reads it in messages.
func (s *storeFlag) String() string {
	engine, where, err := s.open()
	if err != nil {
		return s.spec
	}
	return engine + ":" + where
}

// openLog opens the board's log, with checkpoints signed by signer.
func (s *storeFlag) openLog(signer note.Signer) (store.Log, error) {
	engine, where, err := s.open()
	if err != nil {
		return nil, err
	}
	switch engine {
	case "bolt":
		return bolt.Open(where, signer, nil)
	}
	return nil, fmt.Errorf("no board log on engine %q", engine)
}

// openRoll opens the issuer's roll, creating an empty one if create is
// set and there is none.
func (s *storeFlag) openRoll(create bool) (issuer.Roll, error) {
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
	}
	return nil, fmt.Errorf("no roll on engine %q", engine)
}

// bindRoll ties a bbolt roll to the election and issuing key it serves,
// in a file beside it: a roll left from a trial (evote issuer roll makes
// one) or from another election must not be served as this one's, with
// its voters, codes and counts. A roll made before the binding existed is
// bound on its next start.
func (s *storeFlag) bindRoll(m *ballot.Manifest, pub *token.PublicKey) error {
	engine, where, err := s.open()
	if err != nil || engine != "bolt" {
		return err
	}
	path := filepath.Join(where, "election")
	want := fmt.Sprintf("election %s\nissuing key %s\n", m.ElectionID, pub.ID())
	got, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(where, 0o700); err != nil {
			return err
		}
		return writeNew(path, []byte(want), 0o600, false)
	case err != nil:
		return err
	case string(got) != want:
		return fmt.Errorf("the roll in %s belongs to another election or key:\n%sthis is election %s, issuing key %s; a trial's roll? give this election its own --store (or delete %s if it was a trial)", s, got, m.ElectionID, pub.ID(), where)
	}
	return nil
}

// noteContacts records, beside a bbolt roll, how many voters' contacts
// its import sealed in, so that a later start with a second factor can
// tell a roll imported without them (whose voters no code can reach).
func (s *storeFlag) noteContacts(n int) error {
	engine, where, err := s.open()
	if err != nil || engine != "bolt" {
		return err
	}
	return os.WriteFile(filepath.Join(where, "contacts"), []byte(strconv.Itoa(n)+"\n"), 0o600)
}

// contactsNoted is what noteContacts recorded; -1 if nothing was (another
// engine, or a roll imported before the note existed: not refused).
func (s *storeFlag) contactsNoted() int {
	engine, where, err := s.open()
	if err != nil || engine != "bolt" {
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
