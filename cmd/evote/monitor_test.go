package main

import (
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
)

// TestMonitorOnce: evote monitor --once exits 0 on a consistent board, 1
// on a fork (a state file holding a checkpoint of another history, as a
// board that forked while the monitor was down leaves it), 3 when the board
// cannot be reached.
func TestMonitorOnce(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	e.Cast(t, e.Voter(t), []int{1})
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{}))
	defer srv.Close()
	dir := t.TempDir()
	vkey := filepath.Join(dir, "board.vkey")
	os.WriteFile(vkey, []byte(e.VKey+"\n"), 0o644)
	mh := e.Board.Manifest().Hash()
	state := filepath.Join(dir, "monitor.json")
	base := []string{"monitor", "--once", "--board", srv.URL, "--board-key", vkey, "--listen", ""}

	out, errs, code := evote(t, append(base, "--state", state, "--manifest", hex.EncodeToString(mh[:]))...)
	if code != 0 || !strings.Contains(out, "consistent") {
		t.Fatalf("honest board: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatal("no state file written")
	}
	if _, errs, code := evote(t, append(base, "--state", state, "--checkpoint", state)...); code != 0 {
		t.Fatalf("again: exit %d\n%s", code, errs)
	}

	// A state file holding the board-signed checkpoint of a forked history.
	ls := e.Leaves(t)
	n := len(ls)
	ls[n-1], ls[n-2] = ls[n-2], ls[n-1]
	root, err := store.TreeHash(ls)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.SignCheckpoint(e.Signer, uint64(n), root)
	if err != nil {
		t.Fatal(err)
	}
	forked := filepath.Join(dir, "forked.json")
	os.WriteFile(forked, []byte(`{"checkpoint":`+jsonString(string(cp.Signed))+`,"grew_at":1700000000}`), 0o600)
	_, errs, code = evote(t, append(base, "--state", forked)...)
	if code != 1 || !strings.Contains(errs, "fork") {
		t.Fatalf("forked: exit %d, want 1\n%s", code, errs)
	}
	_, errs, code = evote(t, append(base, "--checkpoint", forked)...)
	if code != 1 || !strings.Contains(errs, "fork") {
		t.Fatalf("forked --checkpoint: exit %d, want 1\n%s", code, errs)
	}

	srv.Close()
	_, errs, code = evote(t, append(base, "--state", state)...)
	if code != 3 || !strings.Contains(errs, "cannot be reached") {
		t.Fatalf("unreachable: exit %d, want 3\n%s", code, errs)
	}

	if _, _, code := evote(t, "monitor", "--once", "--board", srv.URL); code != 2 {
		t.Fatalf("no --board-key: exit %d, want 2", code)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
