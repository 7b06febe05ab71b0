package voter_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http/httptest"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

type setup struct {
	e                   *electiontest.Election
	client              *voter.Client
	codes               [][]string // voter id, code
	issuerURL, boardURL string
}

func newSetup(t *testing.T) setup { return newSetupOf(t, 3, electiontest.Options{}) }

// newSetupOf starts an issuer with n voters and a board for an election
// made with o, on loopback, and returns a voter client of them.
func newSetupOf(t *testing.T, n int, o electiontest.Options) setup {
	e := electiontest.New(t, o)
	m := e.Board.Manifest()
	rollCSV, err := issuer.GenerateRoll(n)
	if err != nil {
		t.Fatal(err)
	}
	roll := issuer.NewMemRoll()
	if _, err := issuer.ImportRoll(context.Background(), roll, bytes.NewReader(rollCSV)); err != nil {
		t.Fatal(err)
	}
	is, err := issuer.New(issuer.Config{ElectionID: m.ID(), Key: e.Issuer, Roll: roll})
	if err != nil {
		t.Fatal(err)
	}
	isrv := httptest.NewServer(issuer.NewHandler(is, issuer.HandlerConfig{}))
	t.Cleanup(isrv.Close)
	bsrv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{AdminToken: "admin"}))
	t.Cleanup(bsrv.Close)
	recs, err := csv.NewReader(bytes.NewReader(rollCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return setup{e, &voter.Client{
		Issuer:       issuerapi.NewClient(isrv.URL, nil),
		Board:        boardapi.NewClient(bsrv.URL, nil),
		BoardKey:     e.Verifier,
		ManifestHash: e.Board.Manifest().Hash(),
	}, recs[1:], isrv.URL, bsrv.URL}
}

func TestVoteAndCheckReceipt(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	rc, err := s.client.Vote(ctx, s.codes[0][0], s.codes[0][1], [][]int{{1}})
	if err != nil {
		t.Fatal(err)
	}
	// More ballots arrive; the receipt still proves the ballot is there.
	if _, err := s.client.Vote(ctx, s.codes[1][0], s.codes[1][1], [][]int{{0}}); err != nil {
		t.Fatal(err)
	}
	saved, err := voter.ParseReceipt(rc.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	now, err := s.client.CheckReceipt(ctx, saved)
	if err != nil {
		t.Fatalf("receipt check: %v", err)
	}
	if now.Size <= rc.Index+1 {
		t.Fatalf("newest checkpoint size %d does not cover the later ballot", now.Size)
	}
	// A voter cannot vote twice with the same code.
	if _, err := s.client.Vote(ctx, s.codes[0][0], s.codes[0][1], [][]int{{0}}); err == nil {
		t.Fatal("a second vote with the same enrolment code succeeded")
	}
}

func TestAttackTamperedReceipt(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	rc, err := s.client.Vote(ctx, s.codes[0][0], s.codes[0][1], [][]int{{1}})
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(r *voter.Receipt){
		"another index":     func(r *voter.Receipt) { r.Index-- },
		"another leaf hash": func(r *voter.Receipt) { r.LeafHash = flipHex(r.LeafHash) },
		"forged checkpoint": func(r *voter.Receipt) { r.Checkpoint = r.Checkpoint[:len(r.Checkpoint)-10] + "AAAAAAAAA\n" },
	} {
		bad := *rc
		edit(&bad)
		if _, err := s.client.CheckReceipt(ctx, &bad); err == nil {
			t.Errorf("%s: receipt check passed", name)
		}
	}
}

// flipHex changes the first digit of a hex string (always: never a no-op).
func flipHex(h string) string {
	d := "1"
	if h[0] == '1' {
		d = "2"
	}
	return d + h[1:]
}
