package loadtest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http/httptest"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/loadtest"
)

func setup(t *testing.T, n int) (*electiontest.Election, loadtest.Config) {
	e := electiontest.New(t, electiontest.Options{})
	rollCSV, err := issuer.GenerateRoll(n)
	if err != nil {
		t.Fatal(err)
	}
	roll := issuer.NewMemRoll()
	if _, err := issuer.ImportRoll(context.Background(), roll, bytes.NewReader(rollCSV)); err != nil {
		t.Fatal(err)
	}
	is, err := issuer.New(issuer.Config{ElectionID: e.Board.Manifest().ID(), Key: e.Issuer, Roll: roll})
	if err != nil {
		t.Fatal(err)
	}
	isrv := httptest.NewServer(issuer.NewHandler(is, issuer.HandlerConfig{RatePerSecond: -1}))
	t.Cleanup(isrv.Close)
	bsrv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{}))
	t.Cleanup(bsrv.Close)
	recs, _ := csv.NewReader(bytes.NewReader(rollCSV)).ReadAll()
	var voters []loadtest.Voter
	for _, r := range recs[1:] {
		voters = append(voters, loadtest.Voter{ID: r[0], Code: r[1]})
	}
	hc := loadtest.HTTPClient(16)
	return e, loadtest.Config{
		Issuer: issuer.NewClient(isrv.URL, hc), Board: board.NewClient(bsrv.URL, hc),
		BoardKey: e.Verifier, Voters: voters, Connections: 16,
	}
}

func TestRun(t *testing.T) {
	e, cfg := setup(t, 40)
	before, _ := e.Log.Size()
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ballots != 40 || rep.Errors != 0 || rep.Tokens != 40 {
		t.Fatalf("report %+v: want 40 tokens, 40 ballots, no errors", rep)
	}
	if after, _ := e.Log.Size(); after != before+40 {
		t.Fatalf("board grew by %d entries, want 40", after-before)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.P999 < rep.P99 {
		t.Fatalf("percentiles out of order: %v %v %v", rep.P50, rep.P99, rep.P999)
	}
	// A second run with the same voters: the issuer refuses their second
	// tokens (each asks with a fresh blinded message), so nothing is cast.
	if _, err := loadtest.Run(context.Background(), cfg); err == nil {
		t.Fatal("a second run with the same roll got tokens again")
	}
	if after, _ := e.Log.Size(); after != before+40 {
		t.Fatal("the refused second run changed the board")
	}
}

func TestFixedRate(t *testing.T) {
	_, cfg := setup(t, 20)
	cfg.Rate = 100
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 20 ballots released at 100/s take at least 0.19 s.
	if rep.Errors != 0 || rep.CastSeconds < 0.19 {
		t.Fatalf("report %+v: want no errors and at least 0.19 s of casting", rep)
	}
}
