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
