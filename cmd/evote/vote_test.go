package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

// TestReceiptCheckOffline: a receipt from an election with witnesses
// checks with no network against the manifest and the board key alone,
// and an altered one is refused (exit 1).
func TestReceiptCheckOffline(t *testing.T) {
	s, err := sim.StartSite(context.Background(), sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t)}, Voters: 1, Witnesses: 2, WitnessQuorum: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	m := s.Board.Manifest()
	vc := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: boardapi.NewClient(s.BoardURL, nil), BoardKey: s.Verifier, ManifestHash: m.Hash()}
	rc, err := vc.Vote(context.Background(), s.Voters[0][0], s.Voters[0][1], [][]int{{0}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"manifest.json": m.Bytes(), "board.vkey": []byte(s.VKey + "\n"), "receipt.json": rc.Marshal()}
	altered := *rc
	altered.TrackingCode = strings.Repeat("0", 64)
	files["altered.json"] = altered.Marshal()
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	s.Stop() // no network from here on
	p := func(n string) string { return filepath.Join(dir, n) }
	out, errs, code := evote(t, "receipt", "check", "--offline", "--manifest", p("manifest.json"), "--board-key", p("board.vkey"), p("receipt.json"))
	if code != 0 || !strings.Contains(out, "cosigned by at least 2 of the election's 2 witnesses") {
		t.Errorf("offline check: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := evote(t, "receipt", "check", "--offline", "--manifest", p("manifest.json"), "--board-key", p("board.vkey"), p("altered.json")); code != 1 || !strings.Contains(errs, "altered") {
		t.Errorf("altered receipt: exit %d\n%s", code, errs)
	}
}

// TestBoardServeWitnesses: board serve gathers cosignatures from the
// --witness URLs when the manifest names witnesses, and refuses to start
// with fewer than the quorum, or with --witness for an election that
// names none.
func TestBoardServeWitnesses(t *testing.T) {
	ctx := context.Background()
	s, err := sim.StartSite(ctx, sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t)}, Voters: 1, Witnesses: 2, WitnessQuorum: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := startCosigner(ctx, s.Board, s.Log, s.VKey, s.WitnessURLs[:1], "", nil); err == nil || !strings.Contains(err.Error(), "at least 2 --witness") {
		t.Errorf("one witness for a quorum of two: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := startCosigner(cctx, s.Board, s.Log, s.VKey, s.WitnessURLs, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cosigned(ctx, 1, 10*time.Second); err != nil {
		t.Errorf("no cosigned checkpoint: %v", err)
	}
	plain := electiontest.New(t, electiontest.Options{})
	if _, err := startCosigner(ctx, plain.Board, plain.Log, plain.VKey, s.WitnessURLs, "", nil); err == nil || !strings.Contains(err.Error(), "names no witnesses") {
		t.Errorf("--witness for an election without witnesses: %v", err)
	}
}
