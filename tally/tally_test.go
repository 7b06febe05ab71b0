package tally_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/tally"
)

var pickOne3 = ballot.Question{ID: "chair", Text: "Chair", Choices: []string{"a", "b", "c"}, Min: 1, Max: 1}
var upTo2 = ballot.Question{ID: "board", Text: "Board", Choices: []string{"a", "b", "c", "d"}, Min: 0, Max: 2}

// setup casts known votes and returns the aggregate and every trustee's share.
func setup(t *testing.T) (*electiontest.Election, *tally.Aggregate, []*tally.Partial) {
	e := electiontest.New(t, electiontest.Options{Questions: []ballot.Question{pickOne3, upTo2}, N: 3, T: 2})
	votes := [][2][]int{
		{{0}, {0, 1}}, {{2}, {}}, {{2}, {3}}, {{1}, {1, 3}}, {{2}, {1}},
	}
	ag := tally.NewAggregator(e.Board.Election())
	for _, v := range votes {
		raw := e.Ballot(t, e.Voter(t), v[0], v[1])
		b, err := ballot.Parse(e.Board.Election(), raw)
		if err != nil {
			t.Fatal(err)
		}
		ag.Add(b)
	}
	agg := ag.Aggregate()
	var shares []*tally.Partial
	for _, ks := range e.Shares {
		s, err := tally.Decrypt(e.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := tally.VerifyPartial(e.Board.Election(), agg, ks.VerificationKey, s); err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	return e, agg, shares
}

func TestEveryPairOfTrusteesGetsTheResult(t *testing.T) {
	e, agg, shares := setup(t)
	want := [][]uint64{{1, 1, 3}, {1, 3, 0, 2}}
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}, {2, 0}} {
		res, err := tally.Combine(e.Board.Election(), agg, []*tally.Partial{shares[pair[0]], shares[pair[1]]})
		if err != nil {
			t.Fatal(err)
		}
		if res.Ballots != 5 || !res.Equal(&tally.Result{Ballots: 5, Counts: want}) {
			t.Fatalf("trustees %v: counts %v, want %v", pair, res.Counts, want)
		}
	}
	// One trustee is not enough, and the same one twice is still one.
	for _, use := range [][]*tally.Partial{{shares[0]}, {shares[1], shares[1]}} {
		if _, err := tally.Combine(e.Board.Election(), agg, use); !errors.Is(err, tally.ErrNotEnoughPartials) {
			t.Fatalf("combine with %d share(s) of one trustee: %v", len(use), err)
		}
	}
}

func TestShareEncoding(t *testing.T) {
	e, agg, shares := setup(t)
	el := e.Board.Election()
	enc := shares[1].Bytes()
	s, err := tally.ParsePartial(el, enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Bytes(), enc) {
		t.Fatal("share re-encodes differently")
	}
	for name, bad := range map[string][]byte{
		"truncated":      enc[:len(enc)-1],
		"extended":       append(append([]byte(nil), enc...), 0),
		"trustee 0":      append([]byte{0}, enc[1:]...),
		"trustee 4 of 3": append([]byte{4}, enc[1:]...),
		"mixed indices":  append([]byte{1}, enc[1:]...), // partials still say trustee 2
	} {
		if _, err := tally.ParsePartial(el, bad); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	// Trustee 2's share checked against trustee 1's key fails.
	if tally.VerifyPartial(el, agg, e.Shares[0].VerificationKey, shares[1]) == nil {
		t.Fatal("a share verified against another trustee's key")
	}
}
