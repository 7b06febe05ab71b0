package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuance"
	"github.com/evote/evote/store"
	"github.com/evote/evote/verify"
)

// craft writes a statement's entry signed with key, as any holder of the
// key can, whatever its counts (issuance.Sign refuses some).
func craft(key ed25519.PrivateKey, st issuance.Statement) []byte {
	b, _ := json.Marshal(struct {
		ElectionID string `json:"election_id"`
		Eligible   uint64 `json:"eligible"`
		Issued     uint64 `json:"issued"`
		Time       string `json:"time"`
		Signature  []byte `json:"signature"`
	}{hex.EncodeToString(st.ElectionID), st.Eligible, st.Issued, st.Time.UTC().Format(issuance.TimeLayout), ed25519.Sign(key, st.Message())})
	return b
}

// statementTime is after any close entry a test makes (the board writes
// the close entry with the time it closes).
var statementTime = time.Date(2099, 6, 1, 18, 5, 0, 0, time.UTC)

// withStatement is the election's leaves with the issuer's statement
// replaced by body (a dishonest board can sign any log), and the
// statement's index.
func withStatement(t *testing.T, ls [][]byte, body []byte) ([][]byte, int) {
	t.Helper()
	out := slices.Clone(ls)
	at := index(t, out, store.Issuance, 0)
	out[at] = store.Leaf(store.Issuance, body)
	return out, at
}

// TestIssuanceInRecord: the issuer's statement, checked, gives the
// Report its counts and the turnout; under last-ballot-counts the ballots
// counted are the token keys', so a revote needs no token of its own.
func TestIssuanceInRecord(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1, 0)
	key := issuance.DeriveKey(e.Issuer)
	id := e.Board.Manifest().ID()
	ls, at := withStatement(t, leaves(t, rec, e.Verifier), craft(key, issuance.Statement{ElectionID: id, Eligible: 5, Issued: 3, Time: statementTime}))
	_, v := testKeys(t)
	rep, err := verify.Record(bytes.NewReader(resign(t, ls)), v, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := verify.Issuance{Entry: uint64(at), Eligible: 5, Issued: 3, Time: "2099-06-01T18:05:00Z", Turnout: 0.6}
	if rep.Issuance == nil || *rep.Issuance != want {
		t.Fatalf("Report.Issuance %+v, want %+v", rep.Issuance, want)
	}
	c := findCheck(rep, verify.CheckIssuance)
	if c == nil || !c.OK || c.First != int64(at) || !strings.Contains(c.Detail, "5 eligible voters, 3 tokens issued") || !strings.Contains(c.Detail, "turnout 60.0%") {
		t.Fatalf("issuance check %+v", c)
	}

	r := electiontest.New(t, electiontest.Options{Revoting: ballot.RevotingLastCounts})
	a, b := r.Voter(t), r.Voter(t)
	r.Cast(t, a, []int{0})
	r.Cast(t, b, []int{0})
	r.Cast(t, a, []int{1})
	r.Tally(t)
	rl := leaves(t, r.Export(t), r.Verifier)
	rl, _ = withStatement(t, rl, craft(issuance.DeriveKey(r.Issuer), issuance.Statement{ElectionID: r.Board.Manifest().ID(), Eligible: 2, Issued: 2, Time: statementTime}))
	rep, err = verify.Record(bytes.NewReader(resign(t, rl)), v, verify.Options{})
	if err != nil || rep.Counted != 2 || rep.Ballots != 3 || rep.Issuance == nil || rep.Issuance.Turnout != 1 {
		t.Fatalf("three ballots of two token keys, two tokens issued: %v, %+v", err, rep.Issuance)
	}
}

// TestAttackIssuanceCountedOverIssued: a statement saying fewer tokens
// were issued than ballots are counted (each counted ballot carries a
// token the issuer signed, so either the statement is false or the issuer
// signed tokens it does not own up to) fails verification, naming the
// issuance check at the statement's entry. The board refuses to record
// one (package board's TestAttackIssuanceFewerTokensThanBallots); here a
// board that signs whatever log it likes put it in.
func TestAttackIssuanceCountedOverIssued(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1, 0)
	body := craft(issuance.DeriveKey(e.Issuer), issuance.Statement{ElectionID: e.Board.Manifest().ID(), Eligible: 5, Issued: 2, Time: statementTime})
	ls, at := withStatement(t, leaves(t, rec, e.Verifier), body)
	_, v := testKeys(t)
	rep := mustFail(t, resign(t, ls), v, fmt.Sprintf("entry %d (issuance): the issuer states 2 tokens issued, but 3 ballots are counted", at))
	if rep.Issuance != nil {
		t.Fatalf("a failed statement gives the Report counts: %+v", rep.Issuance)
	}
}

// TestAttackIssuanceInRecord: a statement signed with another key, for
// another election, with more tokens than voters, altered or not in its
// canonical encoding, a second statement, and a statement before close all
// fail verification, each as a failure of the issuance check at its entry.
func TestAttackIssuanceInRecord(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1, 0)
	ls := leaves(t, rec, e.Verifier)
	key := issuance.DeriveKey(e.Issuer)
	id := e.Board.Manifest().ID()
	st := func(eligible, issued uint64) issuance.Statement {
		return issuance.Statement{ElectionID: id, Eligible: eligible, Issued: issued, Time: statementTime}
	}
	_, other, _ := ed25519.GenerateKey(nil)
	good := craft(key, st(5, 3))
	_, v := testKeys(t)
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"another key", craft(other, st(5, 3)), "the statement's signature does not verify under the manifest's issuance key"},
		{"a count changed", bytes.Replace(good, []byte(`"eligible":5`), []byte(`"eligible":6`), 1), "the statement's signature does not verify"},
		{"another election", craft(key, issuance.Statement{ElectionID: bytes.Repeat([]byte{1}, 32), Eligible: 5, Issued: 3, Time: statementTime}), "the statement is for another election"},
		{"issued > eligible", craft(key, st(3, 4)), "more tokens were issued than voters were eligible"},
		{"spaces", bytes.Replace(good, []byte(`,"issued"`), []byte(`, "issued"`), 1), "not in its canonical encoding"},
		{"not JSON", []byte("5 eligible, 3 issued"), "not a statement's JSON"},
	} {
		bad, at := withStatement(t, ls, c.body)
		mustFail(t, resign(t, bad), v, fmt.Sprintf("entry %d (issuance): ", at), c.want)
	}
	at := index(t, ls, store.Issuance, 0)
	twice := append(slices.Clone(ls), store.Leaf(store.Issuance, good))
	mustFail(t, resign(t, twice), v, fmt.Sprintf("entry %d (issuance): a second issuance statement; the first is entry %d", len(ls), at))
	// Moved before the close entry (it comes right after it).
	early := slices.Clone(ls)
	early[at-1], early[at] = early[at], early[at-1]
	mustFail(t, resign(t, early), v, fmt.Sprintf("entry %d (issuance): an issuance statement before the close entry", at-1))
}

// TestIssuanceNotRecorded: a manifest without a statement key makes a
// record without counts, complete without a statement, which the issuance
// check reports as not recorded (not a failure); a statement in such a
// record cannot be checked and fails.
func TestIssuanceNotRecorded(t *testing.T) {
	el, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), NoIssuanceKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	voter, err := el.Voter()
	if err != nil {
		t.Fatal(err)
	}
	b, err := el.Ballot(voter, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := el.Board.Cast(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if _, err := el.Tally(); err != nil {
		t.Fatal(err)
	}
	rec, err := el.Export()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Record(bytes.NewReader(rec), el.Verifier, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := findCheck(rep, verify.CheckIssuance); rep.Issuance != nil || c == nil || !c.OK || c.First != -1 || !strings.HasPrefix(c.Detail, "not recorded") {
		t.Fatalf("no statement key: issuance %+v, check %+v", rep.Issuance, c)
	}
	ls := leaves(t, rec, el.Verifier)
	body := craft(issuance.DeriveKey(el.Issuer), issuance.Statement{ElectionID: el.Board.Manifest().ID(), Eligible: 1, Issued: 1, Time: statementTime})
	_, v := testKeys(t)
	mustFail(t, resign(t, append(ls, store.Leaf(store.Issuance, body))), v, fmt.Sprintf("entry %d (issuance): an issuance statement, but the manifest names no issuance key", len(ls)))
}

// TestAttackIssuanceReadBeforeClose: a record whose statement is signed
// as read before the close entry's time (a board that took a statement
// made while voting was open, its count of tokens short of those issued
// after): the issuance check fails at the statement's entry, naming both
// times.
func TestAttackIssuanceReadBeforeClose(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1, 0)
	body := craft(issuance.DeriveKey(e.Issuer), issuance.Statement{ElectionID: e.Board.Manifest().ID(), Eligible: 5, Issued: 3, Time: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)})
	ls, at := withStatement(t, leaves(t, rec, e.Verifier), body)
	_, v := testKeys(t)
	mustFail(t, resign(t, ls), v, fmt.Sprintf("entry %d (issuance): the issuer's counts were read at 2001-01-01T00:00:00Z, before voting closed at", at))
}
