package board_test

import (
	"net/http/httptest"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
)

// TestCounterFollowsTheLog: a Counter reads the whole log once, then only
// what was appended since; a revote is a ballot but not another counted
// one; the issuer's statement gives the turnout; and a counter of the
// board loaded again from its log (a restart) starts from the same
// counts, not from zero.
func TestCounterFollowsTheLog(t *testing.T) {
	e, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Revoting: ballot.RevotingLastCounts, Eligible: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	el := &electiontest.Election{Election: e}
	c := board.NewCounter(e.Board)
	read := func() board.Counts {
		t.Helper()
		n, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := read(); n.Ballots != 0 || n.Counted != 0 || n.Phase != "open" || n.Issuance != nil {
		t.Fatalf("before any ballot: %+v", n)
	}
	if _, ok := read().Turnout(); ok {
		t.Fatal("a turnout without the issuer's statement")
	}
	v1, v2, v3 := el.Voter(t), el.Voter(t), el.Voter(t)
	el.Cast(t, v1, []int{0})
	el.Cast(t, v2, []int{1})
	if n := read(); n.Ballots != 2 || n.Counted != 2 {
		t.Fatalf("two voters: %+v", n)
	}
	el.Cast(t, v1, []int{1}) // a revote
	el.Cast(t, v3, []int{0})
	if n := read(); n.Ballots != 4 || n.Counted != 3 {
		t.Fatalf("a revote and a third voter: %+v, want 4 ballots, 3 counted", n)
	}
	el.Tally(t)
	n := read()
	size, _ := e.Log.Size()
	if n.Phase != "closed" || n.Entries != size || n.Issuance == nil || n.Issuance.Eligible != 10 || n.Issuance.Issued != 3 {
		t.Fatalf("after the tally: %+v (log of %d entries)", n, size)
	}
	if tu, ok := n.Turnout(); !ok || tu != 0.3 {
		t.Fatalf("turnout %v %v, want 0.3", tu, ok)
	}

	b2, err := board.Load(e.Log)
	if err != nil {
		t.Fatal(err)
	}
	again, err := board.NewCounter(b2).Read()
	if err != nil {
		t.Fatal(err)
	}
	if again.Ballots != n.Ballots || again.Counted != n.Counted || again.Entries != n.Entries || again.Phase != n.Phase || again.Issuance.Eligible != n.Issuance.Eligible || again.Issuance.Issued != n.Issuance.Issued {
		t.Fatalf("restarted: %+v, want %+v", again, n)
	}
}

// Under refuse every ballot is its token key's only one: counted equals
// ballots, with no set of keys kept.
func TestCounterRefusePolicy(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	for range 3 {
		e.Cast(t, e.Voter(t), []int{0})
	}
	n, err := board.NewCounter(e.Board).Read()
	if err != nil {
		t.Fatal(err)
	}
	if n.Ballots != 3 || n.Counted != 3 {
		t.Fatalf("%+v", n)
	}
}

// TestMetricsFromTheLog: the board's metrics of ballots, phase and
// turnout are the log's: a handler made again on the same log (a
// restarted board) serves the same values from its first scrape, while
// the process's own request counters start again from zero.
func TestMetricsFromTheLog(t *testing.T) {
	e, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Revoting: ballot.RevotingLastCounts, Eligible: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	el := &electiontest.Election{Election: e}
	first := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{}))
	defer first.Close()
	v := el.Voter(t)
	for _, c := range [][]byte{el.Ballot(t, v, []int{0}), el.Ballot(t, el.Voter(t), []int{1}), el.Ballot(t, v, []int{1})} {
		if resp, eb := postBallot(t, first.URL, c); resp.StatusCode != 201 {
			t.Fatalf("cast: %d %s", resp.StatusCode, eb.Error)
		}
	}
	m := scrape(t, first.URL)
	for k, want := range map[string]float64{
		"evote_board_ballots": 3, "evote_board_ballots_counted": 2,
		`evote_board_phase{phase="open"}`: 1, `evote_board_phase{phase="ceremony"}`: 0, `evote_board_phase{phase="closed"}`: 0,
		`evote_board_casts_total{result="accepted"}`: 3,
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("open: %s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if _, ok := m["evote_board_turnout"]; ok {
		t.Error("a turnout before the issuer's statement")
	}
	el.Tally(t)

	b2, err := board.Load(e.Log)
	if err != nil {
		t.Fatal(err)
	}
	again := httptest.NewServer(board.NewHandler(b2, board.HandlerConfig{}))
	defer again.Close()
	m = scrape(t, again.URL)
	for k, want := range map[string]float64{
		"evote_board_ballots": 3, "evote_board_ballots_counted": 2,
		`evote_board_phase{phase="closed"}`: 1, `evote_board_phase{phase="open"}`: 0,
		"evote_board_eligible_voters": 8, "evote_board_tokens_issued": 2, "evote_board_turnout": 0.25,
		`evote_board_casts_total{result="accepted"}`: 0, // this process's requests
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("restarted: %s = %v (present %v), want %v", k, got, ok, want)
		}
	}
}
