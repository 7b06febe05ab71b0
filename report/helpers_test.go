package report_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/verify"
)

// Hostile texts in the manifest: markup and a script the report must show
// as text, never run.
const (
	hostileTitle  = `Assemblea <script>alert("t")</script> & "soci"`
	hostileChoice = `<img src=x onerror=alert(1)>Bianchi`
)

// The test election: a yes/no motion and a 2-of-4 board election, nine
// ballots of twelve voters on the issuer's roll (its signed statement in
// the record), trustees 1 and 3 of 3 (2 needed) decrypting.
var (
	questions = []ballot.Question{
		{ID: "motion", Text: "Approvare il bilancio? / Adopt the budget?", Choices: []string{"sì / yes", "no"}, Min: 1, Max: 1},
		{ID: "council", Text: "Consiglio direttivo (2 seggi)", Choices: []string{"Rossi", hostileChoice, "Verdi", "Neri"}, Min: 0, Max: 2},
	}
	votes = [][][]int{
		{{0}, {0, 1}}, {{0}, {0, 2}}, {{0}, {1}}, {{1}, {1, 3}}, {{0}, {0, 1}},
		{{1}, {}}, {{0}, {2, 3}}, {{0}, {0, 1}}, {{1}, {1, 2}},
	}
	// wantCounts are votes' counts, by hand.
	wantCounts = [][]uint64{{6, 3}, {4, 6, 3, 2}}
)

var (
	fixtureOnce sync.Once
	fixture     struct {
		record []byte
		vkey   string
		err    error
	}
)

// tallied returns the record of the test election, made once per test
// binary, and the board's verifier key.
func tallied(t testing.TB) ([]byte, string) {
	t.Helper()
	fixtureOnce.Do(func() {
		k, err := token.GenerateKey(2048)
		if err != nil {
			fixture.err = err
			return
		}
		dir, err := osMkdirTemp()
		if err != nil {
			fixture.err = err
			return
		}
		defer os.RemoveAll(dir)
		e, err := sim.New(sim.Options{Dir: dir, Issuer: k, Questions: questions, Title: hostileTitle,
			Origin: "board.example.org/assemblea-2025", Opens: "2025-06-01T08:00:00+02:00", Closes: "2025-06-02T20:00:00+02:00",
			Eligible: 12})
		if err != nil {
			fixture.err = err
			return
		}
		defer e.Close()
		for _, sel := range votes {
			v, err := e.Voter()
			if err != nil {
				fixture.err = err
				return
			}
			b, err := e.Ballot(v, sel...)
			if err != nil {
				fixture.err = err
				return
			}
			if _, err := e.Board.Cast(t.Context(), b); err != nil {
				fixture.err = err
				return
			}
		}
		if _, err := e.Tally(1, 3); err != nil {
			fixture.err = err
			return
		}
		fixture.record, fixture.err = e.Export()
		fixture.vkey = e.VKey
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.record, fixture.vkey
}

// verified verifies record under vkey, failing the test on a read error
// (not on a failed check).
func verified(t testing.TB, record []byte, vkey string) *verify.Report {
	t.Helper()
	key, err := verify.BoardKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Record(bytes.NewReader(record), key, verify.Options{})
	if rep == nil {
		t.Fatal(err)
	}
	return rep
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "evote-report-test-") }

func styleHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
