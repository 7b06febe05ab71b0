// Package electiontest runs whole elections in one process for tests, on
// package sim: each step fails the test instead of returning an error.
package electiontest

import (
	"bytes"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"golang.org/x/mod/sumdb/note"
)

// Options shape a test election; see sim.Options.
type Options struct {
	Questions  []ballot.Question
	N, T       int
	Revoting   string
	MinBallots int
	// OpenLog, if set, opens the board's log (sim.Options.OpenLog).
	OpenLog func(note.Signer) (store.Log, error)
}

// YesNo is a yes/no question.
var YesNo = sim.YesNo

var issuerKey *token.PrivateKey

// Issuer returns an RSA-2048 issuing key shared by the test binary.
func Issuer(t testing.TB) *token.PrivateKey {
	if issuerKey == nil {
		k, err := token.GenerateKey(2048)
		if err != nil {
			t.Fatal(err)
		}
		issuerKey = k
	}
	return issuerKey
}

// Election is an election in progress.
type Election struct {
	*sim.Election
}

// Voter holds a token key and its token.
type Voter = sim.Voter

// New creates the board, runs the key ceremony through it and opens it.
func New(t testing.TB, o Options) *Election {
	t.Helper()
	e, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: Issuer(t), Questions: o.Questions, N: o.N, T: o.T, Revoting: o.Revoting, MinBallots: o.MinBallots, OpenLog: o.OpenLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &Election{e}
}

// Voter issues a fresh voter a token, in process.
func (e *Election) Voter(t testing.TB) *Voter {
	t.Helper()
	v, err := e.Election.Voter()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Ballot encrypts the voter's selections.
func (e *Election) Ballot(t testing.TB, v *Voter, sel ...[]int) []byte {
	t.Helper()
	b, err := e.Election.Ballot(v, sel...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Cast encrypts and casts; it fails the test if the board refuses.
func (e *Election) Cast(t testing.TB, v *Voter, sel ...[]int) *board.Receipt {
	t.Helper()
	rc, err := e.Board.Cast(t.Context(), e.Ballot(t, v, sel...))
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// Tally closes, decrypts with the given trustees (default the first t) and
// posts the result.
func (e *Election) Tally(t testing.TB, trustees ...int) *tally.Result {
	t.Helper()
	res, err := e.Election.Tally(trustees...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Export returns the whole record.
func (e *Election) Export(t testing.TB) []byte {
	t.Helper()
	b, err := e.Election.Export()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Leaves returns every leaf of the election's log, in order.
func (e *Election) Leaves(t testing.TB) [][]byte {
	t.Helper()
	n, err := e.Log.Size()
	if err != nil {
		t.Fatal(err)
	}
	ls := make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, err := e.Log.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

// Signed is an export file of the leaves ls with a checkpoint signer
// signs: the record a board holding that key can make of any entries it
// likes (the attacks of a dishonest board re-sign records this way).
func Signed(t testing.TB, signer note.Signer, ls [][]byte) []byte {
	t.Helper()
	root, err := store.TreeHash(ls)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.SignCheckpoint(signer, uint64(len(ls)), root)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := store.NewWriter(&buf)
	for _, l := range ls {
		if err := w.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(cp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
