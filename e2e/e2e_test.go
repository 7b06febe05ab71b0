package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestMultiProcess runs a whole election as separate processes: issuer and
// board servers, trustees exchanging files, voters, close, two of three
// trustees decrypting, the tally, the export and the verifier.
func TestMultiProcess(t *testing.T) {
	start := time.Now()
	e := newElection(t, 8)
	t.Logf("keys, servers and ceremony: %v", time.Since(start))

	choices := []string{"yes", "no", "yes", "yes", "2"} // "2" is "no", by number
	for i, c := range choices {
		id, code := e.voter()
		args := []string{}
		if i == 0 {
			args = append(args, "--receipt", "receipt.json")
		}
		out := e.vote(id, code, c, args...)
		if out.code != 0 || !strings.Contains(out.stdout, "tracking code") {
			t.Fatalf("vote %s: exit %d\n%s%s", id, out.code, out.stdout, out.stderr)
		}
		if i == 0 {
			// The same command again (a voter unsure it went through): the
			// ticket resumes, nothing is cast twice, and the voter gets the
			// receipt again.
			before := e.size()
			again := e.vote(id, "", c, args...)
			if again.code != 0 || !strings.Contains(again.stdout, "already cast") || !strings.Contains(again.stdout, "receipt saved to receipt.json") {
				t.Fatalf("vote %s again: exit %d\n%s%s", id, again.code, again.stdout, again.stderr)
			}
			if e.size() != before {
				t.Fatalf("voting again with the same ticket grew the board from %d to %d entries", before, e.size())
			}
		}
	}
	if out := e.must("receipt", "check", "--board", e.boardURL, "--board-key", "board.vkey", "receipt.json"); !strings.Contains(out, "included in its newest checkpoint") {
		t.Fatalf("receipt check:\n%s", out)
	}
	e.must("board", "close", "--board", e.boardURL, "--admin-token-file", "admin.token")
	// Trustees 1 and 3 decrypt: any two of three suffice.
	for _, i := range []int{1, 3} {
		out := e.must("trustee", "decrypt", "--share", share(i), "--board", e.boardURL, "--board-key", "board.vkey")
		if !strings.Contains(out, "verified 5 ballots") {
			t.Fatalf("trustee %d decrypt:\n%s", i, out)
		}
	}
	out := e.must("tally", "--board", e.boardURL, "--board-key", "board.vkey", "--admin-token-file", "admin.token")
	for _, want := range []string{"5 ballots counted", "decrypted by trustees 1, 3", "yes            3", "no             2"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("tally output lacks %q:\n%s", want, out)
		}
	}
	e.must("board", "export", "--board", e.boardURL, "--board-key", "board.vkey", "--out", "record.evr")
	out = e.must("verify", "record.evr", "--board-key", "board.vkey")
	if !strings.Contains(out, "all hold") || strings.Contains(out, "FAIL") {
		t.Fatalf("verify:\n%s", out)
	}
	t.Logf("whole election: %v\n%s", time.Since(start), out)
}
