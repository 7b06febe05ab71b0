package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/voter"
)

// oneObject decodes stdout as exactly one JSON object, checks that its
// keys are exactly want (a script's stable keys), and decodes it into v.
func oneObject(t *testing.T, stdout string, v any, want ...string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var keys map[string]json.RawMessage
	if err := dec.Decode(&keys); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", stdout)
	}
	var got []string
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v:\n%s", got, want, stdout)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(stdout), v); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	verifyKeys = []string{"ok", "complete", "entries", "ballots", "counted", "manifest_hash", "manifest_pinned", "checkpoint",
		"failures", "omitted", "checks", "result", "turnout"}
	resultKeys = []string{"title", "ballots_counted", "trustees", "questions"}
)

// TestJSONElection runs an election with a 2-of-3 question through the
// commands a script calls, each with --json: vote (and again), receipt
// check (and an altered one, online and offline), board status, tally, verify (complete,
// --quiet, another election's manifest, a tampered record). Each prints
// one JSON object with its documented keys on stdout and nothing else,
// exits as without --json, and gives the k-of-n question's percentages of
// the ballots counted. Progress bars are drawn on stderr only when asked.
func TestJSONElection(t *testing.T) {
	ctx := context.Background()
	board := ballot.Question{ID: "board", Text: "Elect up to two", Choices: []string{"Ana", "Ben", "Chloé"}, Min: 0, Max: 2}
	s, err := sim.StartSite(ctx, sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Questions: []ballot.Question{sim.YesNo, board}}, Voters: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	os.WriteFile(in("manifest.json"), s.Board.Manifest().Bytes(), 0o644)
	os.WriteFile(in("board.vkey"), []byte(s.VKey+"\n"), 0o644)
	keyFlags := []string{"--board", s.BoardURL, "--board-key", in("board.vkey")}

	// Three voters; all three mark Ana.
	choices := [][]string{{"motion=yes", "board=Ana,Ben"}, {"motion=yes", "board=Ana"}, {"motion=no", "board=Ana,Chloé"}}
	vote := func(i int) []string {
		a := append([]string{"vote", "--json", "--issuer", s.IssuerURL, "--manifest", in("manifest.json"),
			"--voter-id", s.Voters[i][0], "--code", s.Voters[i][1], "--ticket", in(fmt.Sprintf("ticket-%d.json", i)),
			"--receipt", in(fmt.Sprintf("receipt-%d.json", i))}, keyFlags...)
		for _, c := range choices[i] {
			a = append(a, "--choose", c)
		}
		return a
	}
	voteKeys := []string{"cast", "already_cast", "tracking_code", "entry", "receipt"}
	var first voteJSON
	for i := range choices {
		out, errs, code := evote(t, vote(i)...)
		if code != 0 {
			t.Fatalf("vote %d: exit %d\n%s%s", i, code, out, errs)
		}
		var v voteJSON
		oneObject(t, out, &v, voteKeys...)
		if !v.Cast || v.AlreadyCast || len(v.TrackingCode) != 64 || v.Entry == 0 || v.Receipt != in(fmt.Sprintf("receipt-%d.json", i)) {
			t.Fatalf("vote %d: %+v", i, v)
		}
		if i == 0 {
			first = v
		}
	}
	out, errs, code := evote(t, vote(0)...)
	var again voteJSON
	if code != 0 {
		t.Fatalf("vote again: exit %d\n%s", code, errs)
	}
	oneObject(t, out, &again, voteKeys...)
	if !again.AlreadyCast || again.TrackingCode != first.TrackingCode || again.Entry != first.Entry {
		t.Fatalf("the same vote again: %+v, first %+v", again, first)
	}

	// Receipts.
	receiptKeys := []string{"ok", "offline", "tracking_code", "entry", "checkpoint_size"}
	var rc receiptJSON
	out, errs, code = evote(t, append([]string{"receipt", "check", "--json", in("receipt-0.json")}, keyFlags...)...)
	if code != 0 {
		t.Fatalf("receipt check: exit %d\n%s", code, errs)
	}
	oneObject(t, out, &rc, receiptKeys...)
	if !rc.OK || rc.Offline || rc.TrackingCode != first.TrackingCode || rc.Entry != first.Entry || rc.CheckpointSize <= rc.Entry {
		t.Fatalf("receipt check: %+v", rc)
	}
	r, err := voter.ParseReceipt(mustRead(t, in("receipt-0.json")))
	if err != nil {
		t.Fatal(err)
	}
	r.TrackingCode = strings.Repeat("0", 64)
	os.WriteFile(in("altered.json"), r.Marshal(), 0o644)
	for _, offline := range []bool{false, true} {
		a := append([]string{"receipt", "check", "--json", in("altered.json")}, keyFlags...)
		if offline {
			a = append(a, "--offline", "--manifest", in("manifest.json"))
		}
		out, errs, code = evote(t, a...)
		rc = receiptJSON{}
		oneObject(t, out, &rc, "ok", "offline", "tracking_code", "entry", "error")
		if code != 1 || rc.OK || rc.Offline != offline || !strings.Contains(rc.Error, "does not check out") || !strings.Contains(errs, "does not check out") {
			t.Fatalf("an altered receipt (offline %v): exit %d, %+v\n%s", offline, code, rc, errs)
		}
	}

	// The board's status.
	var st boardStatusJSON
	out, errs, code = evote(t, append([]string{"board", "status", "--json"}, keyFlags...)...)
	if code != 0 {
		t.Fatalf("board status: exit %d\n%s", code, errs)
	}
	oneObject(t, out, &st, "phase", "entries", "manifest_hash", "open_index", "close_index", "election_key", "checkpoint")
	if st.Phase != "open" || st.OpenIndex == 0 || st.CloseIndex != 0 || st.ElectionKey == "" || st.Checkpoint == nil || st.Checkpoint.Size != st.Entries || len(st.Checkpoint.Root) != 64 {
		t.Fatalf("board status: %+v", st)
	}
	out, _, code = evote(t, "board", "status", "--json", "--board", s.BoardURL)
	if oneObject(t, out, &st, "phase", "entries", "manifest_hash", "open_index", "close_index", "election_key", "checkpoint"); code != 0 || st.Checkpoint != nil {
		t.Fatalf("board status without --board-key: exit %d, %+v", code, st)
	}

	// Close; two trustees decrypt; evote tally --json combines and posts.
	if _, err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
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
	out, errs, code = evote(t, append([]string{"--progress", "tally", "--json", "--admin-token", s.AdminToken}, keyFlags...)...)
	if code != 0 {
		t.Fatalf("tally: exit %d\n%s%s", code, out, errs)
	}
	var tj tallyJSON
	oneObject(t, out, &tj, "posted_entry", "result")
	if !strings.Contains(errs, "fetching and verifying the record [") || !strings.Contains(errs, " entries (") {
		t.Errorf("tally --progress drew no bar in entries on stderr:\n%q", errs)
	}
	checkKOfN(t, tj.Result)

	// Export: a bar only with --progress.
	_, errs, code = evote(t, append([]string{"board", "export", "--out", in("quiet.evr")}, keyFlags...)...)
	if code != 0 || errs != "" {
		t.Fatalf("export without a terminal or --progress: exit %d, stderr %q", code, errs)
	}
	out, errs, code = evote(t, append([]string{"--progress", "board", "export", "--out", in("record.evr")}, keyFlags...)...)
	if code != 0 || !strings.Contains(out, "checkpoint signature checked") {
		t.Fatalf("export: exit %d\n%s%s", code, out, errs)
	}
	for _, w := range []string{"exporting the record [", "checking the record [", "==============================]"} {
		if !strings.Contains(errs, w) {
			t.Errorf("export --progress: stderr lacks %q:\n%q", w, errs)
		}
	}
	if strings.Contains(out, "[") {
		t.Errorf("a bar on stdout:\n%s", out)
	}

	// Verify.
	var vj verifyJSON
	out, errs, code = evote(t, "--progress", "verify", "--json", in("record.evr"), "--board-key", in("board.vkey"), "--manifest", in("manifest.json"))
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	oneObject(t, out, &vj, verifyKeys...)
	if !vj.OK || !vj.Complete || !vj.ManifestPinned || vj.Ballots != 3 || vj.Counted != 3 || vj.Failures != 0 || len(vj.Checks) == 0 || vj.Checkpoint == nil || vj.Error != "" {
		t.Fatalf("verify: %+v", vj)
	}
	if size := int64(len(mustRead(t, in("record.evr")))); !strings.Contains(errs, fmt.Sprintf("/%d bytes", size)) {
		t.Errorf("verify --progress: no bar with the file's %d bytes as its total:\n%q", size, errs)
	}
	if vj.Turnout == nil || vj.Turnout.Eligible != 4 || vj.Turnout.Issued != 3 || vj.Turnout.Counted != 3 || vj.Turnout.Percent != 75 {
		t.Fatalf("verify turnout: %+v", vj.Turnout)
	}
	checkKOfN(t, vj.Result)
	var raw map[string]json.RawMessage
	json.Unmarshal([]byte(out), &raw)
	var res map[string]json.RawMessage
	json.Unmarshal(raw["result"], &res)
	if len(res) != len(resultKeys) {
		t.Errorf("result keys %v, want %v", res, resultKeys)
	}
	out, _, code = evote(t, "verify", "--json", "--quiet", in("record.evr"), "--board-key", in("board.vkey"))
	oneObject(t, out, &vj, verifyKeys...)
	if code != 0 || !vj.OK || vj.ManifestPinned || len(vj.Checks) != 0 {
		t.Fatalf("verify --quiet: exit %d, %+v", code, vj)
	}

	// Not the given election: not ok, no result, exit 1.
	vj = verifyJSON{}
	out, errs, code = evote(t, "verify", "--json", in("record.evr"), "--board-key", in("board.vkey"), "--manifest", strings.Repeat("ab", 32))
	oneObject(t, out, &vj, append(verifyKeys, "error")...)
	if code != 1 || vj.OK || vj.Result != nil || vj.Turnout != nil || !strings.Contains(vj.Error, "--manifest") || vj.Checks[len(vj.Checks)-1].Name != "manifest" || !strings.Contains(errs, "does not verify") {
		t.Fatalf("verify, another election's manifest: exit %d, %+v\n%s", code, vj, errs)
	}
	// A tampered record: not ok, no result, exit 1; the text shows no result either.
	rec := mustRead(t, in("record.evr"))
	i := bytes.Index(rec, []byte(first.TrackingCode[:8]))
	bad := bytes.Clone(rec)
	at := len(rec) / 2
	if i > 0 {
		at = i
	}
	bad[at] ^= 1
	os.WriteFile(in("bad.evr"), bad, 0o644)
	vj = verifyJSON{}
	out, _, code = evote(t, "verify", "--json", in("bad.evr"), "--board-key", in("board.vkey"))
	oneObject(t, out, &vj, append(verifyKeys, "error")...)
	if code != 1 || vj.OK || vj.Result != nil || vj.Failures == 0 || vj.Error == "" {
		t.Fatalf("verify, a tampered record: exit %d, %+v", code, vj)
	}
	out, _, code = evote(t, "verify", in("bad.evr"), "--board-key", in("board.vkey"))
	if code != 1 || strings.Contains(out, "Ana") || strings.Contains(out, "ballots counted, decrypted") {
		t.Fatalf("verify of a tampered record printed a result: exit %d\n%s", code, out)
	}
	// The text: percentages of ballots, and said so.
	out, _, code = evote(t, "verify", in("record.evr"), "--board-key", in("board.vkey"), "--manifest", in("manifest.json"))
	if code != 0 || !strings.Contains(out, "100.0%") || !strings.Contains(out, "(% of the 3 ballots counted; a ballot marks up to 2, so they may add up to more than 100%)") {
		t.Fatalf("verify's table:\n%s", out)
	}
}

// checkKOfN: three ballots, all marking Ana: 100% of voters, not the 60%
// of the five marks.
func checkKOfN(t *testing.T, r *resultJSON) {
	t.Helper()
	if r == nil || r.BallotsCounted != 3 || len(r.Questions) != 2 || !slices.Equal(r.Trustees, []int{1, 2}) {
		t.Fatalf("result %+v", r)
	}
	motion, board := r.Questions[0], r.Questions[1]
	want := []choiceJSON{{"Ana", 3, 100}, {"Ben", 1, 33.33}, {"Chloé", 1, 33.33}}
	if board.ID != "board" || board.Max != 2 || !slices.Equal(board.Choices, want) {
		t.Fatalf("the 2-of-3 question: %+v, want %+v", board, want)
	}
	if !slices.Equal(motion.Choices, []choiceJSON{{"yes", 2, 66.67}, {"no", 1, 33.33}}) {
		t.Fatalf("the motion: %+v", motion)
	}
}
