package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/voter"
)

// TestBoardIssuance posts the issuer's statement with "evote board
// issuance": refused before close and without the admin token, recorded
// once after close, refused the second time; then "evote verify" of the
// tallied record prints the turnout from it.
func TestBoardIssuance(t *testing.T) {
	ctx := context.Background()
	s, err := sim.StartSite(ctx, sim.SiteOptions{Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t)}, Voters: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	m := s.Board.Manifest()
	vc := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: boardapi.NewClient(s.BoardURL, nil), BoardKey: s.Verifier, ManifestHash: m.Hash()}
	for _, v := range s.Voters[:3] {
		if _, err := vc.Vote(ctx, v[0], v[1], [][]int{{0}}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	body, err := s.IssuanceStatement(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("issuance.json"), append(body, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	post := []string{"board", "issuance", "--board", s.BoardURL, "--admin-token", s.AdminToken, in("issuance.json")}
	size := func() uint64 {
		n, err := s.Log.Size()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := size()
	if _, errs, code := evote(t, post...); code != 1 || !strings.Contains(errs, "the election is still open") {
		t.Fatalf("a statement before close: exit %d\n%s", code, errs)
	}
	if size() != before {
		t.Fatal("a statement before close changed the board")
	}
	admin := s.Admin(nil)
	if _, err := admin.Close(ctx); err != nil {
		t.Fatal(err)
	}
	before = size()
	if _, errs, code := evote(t, "board", "issuance", "--board", s.BoardURL, in("issuance.json")); code == 0 || !strings.Contains(errs, "admin token") {
		t.Fatalf("a statement without the admin token: exit %d\n%s", code, errs)
	}
	os.WriteFile(in("not.json"), []byte(`{"eligible":4,"issued":3}`), 0o644)
	if _, errs, code := evote(t, "board", "issuance", "--board", s.BoardURL, "--admin-token", s.AdminToken, in("not.json")); code != 1 || !strings.Contains(errs, "is not the issuer's statement") {
		t.Fatalf("a file that is no statement: exit %d\n%s", code, errs)
	}
	if size() != before {
		t.Fatal("a refused statement changed the board")
	}
	out, errs, code := evote(t, post...)
	if code != 0 || !strings.Contains(out, "4 eligible voters, 3 tokens issued") {
		t.Fatalf("the statement after close: exit %d\n%s%s", code, out, errs)
	}
	before = size()
	if _, errs, code := evote(t, post...); code != 1 || !strings.Contains(errs, "already on the board") {
		t.Fatalf("the statement again: exit %d\n%s", code, errs)
	}
	if size() != before {
		t.Fatal("a second statement changed the board")
	}

	// Tally in process, then verify the export with the command line.
	agg, err := s.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	for _, ks := range s.Shares[:2] {
		p, err := tally.Decrypt(s.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Board.PostPartial(ctx, p.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	shares, err := s.Board.Partials()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tally.Combine(s.Board.Election(), agg, shares)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Board.PostResult(ctx, res.Bytes()); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Export()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in("record.evr"), rec, 0o644)
	os.WriteFile(in("board.vkey"), []byte(s.VKey+"\n"), 0o644)
	out, errs, code = evote(t, "verify", in("record.evr"), "--board-key", in("board.vkey"))
	if code != 0 || !strings.Contains(out, "turnout: 3 ballots counted of 4 eligible voters (75.0%); 3 voting tokens issued (the issuer's signed statement, entry ") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
}
