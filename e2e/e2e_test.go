package e2e

import (
	"fmt"
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
	// While voting goes on, trustees record the board's checkpoint in their
	// journals; at the tally they decrypt only a record extending it (and,
	// for trustee 3, the voter's receipt).
	for _, i := range []int{1, 3} {
		out := e.must("trustee", "checkpoint", "--board", e.boardURL, "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i))
		if !strings.Contains(out, "recorded the board's checkpoint") {
			t.Fatalf("trustee %d checkpoint:\n%s", i, out)
		}
	}
	e.must("board", "close", "--board", e.boardURL, "--admin-token-file", "admin.token")
	// A trustee that saw no checkpoint of the board (no journal, no
	// receipts) is refused: the board could have handed it a fork.
	before := e.size()
	if r := e.evote("trustee", "decrypt", "--share", share(2), "--board", e.boardURL, "--board-key", "board.vkey", "--journal", "trustee-2.journal"); r.code != 1 || !strings.Contains(r.stderr, "no checkpoint of this board was seen before") {
		t.Fatalf("decrypt with no history: exit %d\n%s", r.code, r.stderr)
	}
	if e.size() != before {
		t.Fatal("a refused decrypt posted something")
	}
	// Trustees 1 and 3 decrypt: any two of three suffice.
	for _, i := range []int{1, 3} {
		args := []string{"trustee", "decrypt", "--share", share(i), "--board", e.boardURL, "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i)}
		if i == 3 {
			args = append(args, "--checkpoint", "receipt.json")
		}
		out := e.must(args...)
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
	// The issuer states its counts after the result (they may come before
	// or after it): 8 voters on the roll, 5 tokens issued.
	if out := e.postIssuance(e.boardURL); !strings.Contains(out, "8 eligible voters, 5 tokens issued") {
		t.Fatalf("board issuance:\n%s", out)
	}
	e.must("board", "export", "--board", e.boardURL, "--board-key", "board.vkey", "--out", "record.evr")
	out = e.must("verify", "record.evr", "--board-key", "board.vkey", "--manifest", "manifest.json")
	if !strings.Contains(out, "all hold") || strings.Contains(out, "FAIL") || !strings.Contains(out, "turnout: 5 ballots counted of 8 eligible voters (62.5%); 5 voting tokens issued") {
		t.Fatalf("verify:\n%s", out)
	}
	// Pinned to another election's manifest, the same record fails, and
	// shows no result.
	other := e.evote("verify", "record.evr", "--board-key", "board.vkey", "--manifest", strings.Repeat("ab", 32))
	if other.code != 1 || !strings.Contains(other.stdout, "this record is of another election") || strings.Contains(other.stdout, "ballots counted") {
		t.Fatalf("verify against another manifest: exit %d\n%s%s", other.code, other.stdout, other.stderr)
	}
	t.Logf("whole election: %v\n%s", time.Since(start), out)
}

// TestCloseBelowMinBallots: closing an election with fewer counted ballots
// than its min_ballots would lose every ballot to the result (trustees
// refuse to decrypt so small a tally, and closing cannot be undone), so
// "evote board close" refuses, naming the counts and the way out, and the
// board is unchanged; with enough ballots it closes.
func TestCloseBelowMinBallots(t *testing.T) {
	e := newElection(t, 4) // min_ballots 2
	id, code := e.voter()
	if r := e.vote(id, code, "yes"); r.code != 0 {
		t.Fatalf("vote: exit %d\n%s", r.code, r.stderr)
	}
	before := e.size()
	r := e.evote("board", "close", "--board", e.boardURL, "--admin-token-file", "admin.token")
	if r.code != 1 || !strings.Contains(r.stderr, "1 ballots are counted, fewer than the 2") || !strings.Contains(r.stderr, "--accept-untallied") {
		t.Fatalf("close below min_ballots: exit %d\n%s", r.code, r.stderr)
	}
	if e.size() != before {
		t.Fatalf("the refused close changed the board from %d to %d entries", before, e.size())
	}
	id, code = e.voter()
	if r := e.vote(id, code, "no"); r.code != 0 {
		t.Fatalf("vote: exit %d\n%s", r.code, r.stderr)
	}
	e.must("board", "close", "--board", e.boardURL, "--admin-token-file", "admin.token")
}
