package verify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/tlog"
)

func TestRecordVerifies(t *testing.T) {
	e, rec, posted := election(t, electiontest.Options{}, 0, 1, 0, 0, 1)
	var mu sync.Mutex
	var seen []verify.Check
	var progressed uint64
	rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{
		ChunkSize: 2, Workers: 3,
		OnCheck:  func(c verify.Check) { mu.Lock(); seen = append(seen, c); mu.Unlock() },
		Progress: func(done, total uint64) { progressed = done },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Failures != 0 {
		t.Fatalf("report not OK: %+v", rep.Checks)
	}
	if rep.Result == nil || !rep.Result.Equal(posted) || !rep.Posted.Equal(posted) {
		t.Fatalf("recomputed result %+v, posted %+v, tally gave %+v", rep.Result, rep.Posted, posted)
	}
	if want := [][]uint64{{3, 2}}; fmt.Sprint(rep.Result.Counts) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", rep.Result.Counts, want)
	}
	if rep.Ballots != 5 || rep.Counted != 5 || rep.Entries != uint64(len(leaves(t, rec, e.Verifier))) {
		t.Errorf("ballots %d counted %d entries %d", rep.Ballots, rep.Counted, rep.Entries)
	}
	if progressed != uint64(len(rec)) {
		t.Errorf("progress ended at %d bytes of %d", progressed, len(rec))
	}
	if len(seen) != len(rep.Checks) {
		t.Errorf("OnCheck saw %d checks, the report has %d", len(seen), len(rep.Checks))
	}
	names := map[string]bool{}
	for _, c := range rep.Checks {
		names[c.Name] = true
		t.Log(c)
	}
	for _, n := range []string{verify.CheckManifest, verify.CheckCeremony, verify.CheckOpen, verify.CheckBallot, verify.CheckTokens,
		verify.CheckClose, verify.CheckAggregate, verify.CheckPartial, verify.CheckResult, verify.CheckCheckpoint} {
		if !names[n] {
			t.Errorf("no %q check in the report", n)
		}
	}
	if last := rep.Checks[len(rep.Checks)-1]; last.Name != verify.CheckCheckpoint {
		t.Errorf("last check is %v, want the checkpoint", last)
	}
}

func TestRecordLastBallotCounts(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{Revoting: ballot.RevotingLastCounts, N: 2, T: 2})
	a, b := e.Voter(t), e.Voter(t)
	e.Cast(t, a, []int{0})
	e.Cast(t, b, []int{0})
	e.Cast(t, a, []int{1}) // replaces a's first ballot
	posted := e.Tally(t)
	rec := e.Export(t)
	for _, chunk := range []int{1, 2, 512} {
		rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{ChunkSize: chunk})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Ballots != 3 || rep.Counted != 2 || !rep.Result.Equal(posted) {
			t.Fatalf("chunk %d: ballots %d counted %d result %+v, posted %+v", chunk, rep.Ballots, rep.Counted, rep.Result, posted)
		}
		if fmt.Sprint(rep.Result.Counts) != "[[1 1]]" {
			t.Errorf("counts %v, want [[1 1]]", rep.Result.Counts)
		}
	}
}

func TestRecordSeveralQuestions(t *testing.T) {
	q2 := ballot.Question{ID: "board", Text: "Elect two", Choices: []string{"a", "b", "c"}, Min: 0, Max: 2}
	e := electiontest.New(t, electiontest.Options{Questions: []ballot.Question{electiontest.YesNo, q2}})
	e.Cast(t, e.Voter(t), []int{0}, []int{0, 2})
	e.Cast(t, e.Voter(t), []int{1}, []int{})
	e.Cast(t, e.Voter(t), []int{0}, []int{2})
	posted := e.Tally(t, 3, 1)
	rep, err := verify.Record(bytes.NewReader(e.Export(t)), e.Verifier, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Result.Equal(posted) || fmt.Sprint(rep.Result.Counts) != "[[2 1] [1 0 2]]" {
		t.Fatalf("result %+v, posted %+v", rep.Result, posted)
	}
}

func TestRecordIncomplete(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	rec := e.Export(t)
	mustFail(t, rec, e.Verifier, "complete: the record is incomplete: no close entry")
	rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{AllowIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counted != 1 || rep.Result != nil {
		t.Errorf("counted %d, result %v", rep.Counted, rep.Result)
	}
}

// TestRecordOnEntry: the OnEntry hook sees every entry in order, as the
// export holds it, with the root a checkpoint of that many entries signs.
func TestRecordOnEntry(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1)
	want := leaves(t, rec, e.Verifier)
	var got [][]byte
	_, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{
		OnEntry: func(i uint64, leaf []byte, root func() (tlog.Hash, error)) {
			if i != uint64(len(got)) {
				t.Errorf("entry %d after %d entries", i, len(got))
			}
			got = append(got, leaf)
			r, err := root()
			if w, _ := store.TreeHash(got); err != nil || r != w {
				t.Errorf("entry %d: root %v (%v), want the root of entries 0-%d %v", i, r, err, i, w)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("the hook saw %d entries, the record has %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d differs from the record's", i)
		}
	}
}

func TestBoardKey(t *testing.T) {
	v, err := verify.BoardKey(" " + testVerifierKey + "\n")
	if err != nil || v.Name() != "evote.example/verify-test-board" {
		t.Fatalf("BoardKey: %v, %v", v, err)
	}
	if _, err := verify.BoardKey("evote.example/board+00000000+AAAA"); err == nil {
		t.Error("a malformed key is accepted")
	}
}

// TestAttackWrongBoardKey: a record signed by another key (another board, or
// a forger) does not verify.
func TestAttackWrongBoardKey(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0)
	_, other := testKeys(t)
	mustFail(t, rec, other, "checkpoint:", "not signed by the log key")
	// And the re-signed record fails under the election's real key.
	mustFail(t, resign(t, leaves(t, rec, e.Verifier)), e.Verifier, "checkpoint:")
}

// TestAttackFlippedBit flips one bit at many places of a record, in every
// kind of entry, the framing and the checkpoint: every change fails, and a
// change in a ballot, open, partial or result entry, or in any entry's
// type byte, is named by its entry.
func TestAttackFlippedBit(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1)
	ls := leaves(t, rec, e.Verifier)
	starts, end := frames(rec)
	type flip struct {
		off   int
		entry int // -1: not in a leaf
		named bool
	}
	var flips []flip
	for i, s := range starts {
		n := len(ls[i])
		body := s + 4
		typ := store.EntryType(ls[i][0])
		exact := typ == store.Ballot || typ == store.Open || typ == store.Partial || typ == store.Result
		flips = append(flips, flip{body, i, true}) // the type byte
		for k := 1; k <= 9; k++ {
			flips = append(flips, flip{body + 1 + (n-2)*k/9, i, exact})
		}
		flips = append(flips, flip{s + 3, -1, false}) // the length's low byte
	}
	flips = append(flips, flip{3, -1, false}, flip{end + 2, -1, false})
	for k := 0; k < 8; k++ {
		flips = append(flips, flip{end + 8 + (len(rec)-end-9)*k/7, -1, false})
	}
	kinds := map[store.EntryType]int{}
	for _, f := range flips {
		for _, bit := range []byte{0x01, 0x20} {
			bad := bytes.Clone(rec)
			bad[f.off] ^= bit
			rep, err := verify.Record(bytes.NewReader(bad), e.Verifier, verify.Options{})
			if err == nil || rep.OK {
				t.Errorf("byte %d bit %#x (entry %d): the altered record verifies", f.off, bit, f.entry)
				continue
			}
			if f.entry < 0 {
				continue
			}
			kinds[store.EntryType(ls[f.entry][0])]++
			named := strings.HasPrefix(err.Error(), fmt.Sprintf("entry %d ", f.entry))
			if f.named && !named {
				t.Errorf("byte %d bit %#x of entry %d (%v): error does not name the entry: %v",
					f.off, bit, f.entry, store.EntryType(ls[f.entry][0]), err)
			}
			if !named && !strings.Contains(err.Error(), "do not hash") {
				t.Errorf("byte %d bit %#x of entry %d (%v): error names neither the entry nor the root: %v",
					f.off, bit, f.entry, store.EntryType(ls[f.entry][0]), err)
			}
		}
	}
	for _, typ := range []store.EntryType{store.Manifest, store.Ceremony, store.Open, store.Ballot, store.Close, store.Partial, store.Result} {
		if kinds[typ] == 0 {
			t.Errorf("no flip landed in a %v entry", typ)
		}
	}
}

// TestAttackDoubleVoteInRecord: under the refuse policy, a board that slips
// in a second ballot for a token (and signs the log) is caught, naming
// both entries.
func TestAttackDoubleVoteInRecord(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	v := e.Voter(t)
	e.Cast(t, v, []int{0})
	e.Cast(t, e.Voter(t), []int{1})
	second := store.Leaf(store.Ballot, e.Ballot(t, v, []int{1}))
	e.Tally(t)
	ls := leaves(t, e.Export(t), e.Verifier)
	first := index(t, ls, store.Ballot, 0)
	at := index(t, ls, store.Close, 0)
	_, key := testKeys(t)
	mustFail(t, resign(t, insert(ls, at, second)), key,
		fmt.Sprintf("entry %d (tokens): a second ballot for the token of entry %d", at, first))
	// Under last-ballot-counts the same record shape is fine: see
	// TestRecordLastBallotCounts.
}

// TestAttackBallotAfterClose: a ballot appended after the close entry.
func TestAttackBallotAfterClose(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	late := store.Leaf(store.Ballot, e.Ballot(t, e.Voter(t), []int{1}))
	e.Tally(t)
	ls := leaves(t, e.Export(t), e.Verifier)
	at := index(t, ls, store.Close, 0) + 1
	_, key := testKeys(t)
	mustFail(t, resign(t, insert(ls, at, late)), key,
		fmt.Sprintf("entry %d (ballot): a ballot after the close entry (entry %d)", at, at-1))
}

// TestAttackOpenWithOtherKey: an open entry whose election key is not the
// ceremony's (a board that wants to decrypt ballots itself).
func TestAttackOpenWithOtherKey(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1)
	ls := leaves(t, rec, e.Verifier)
	at := index(t, ls, store.Open, 0)
	var body struct {
		ElectionKey      string   `json:"election_key"`
		VerificationKeys []string `json:"verification_keys"`
		Qualified        []int    `json:"qualified"`
	}
	if err := json.Unmarshal(ls[at][1:], &body); err != nil {
		t.Fatal(err)
	}
	_, pk, _ := elgamal.GenerateKey(nil)
	body.ElectionKey = fmt.Sprintf("%x", pk.Bytes())
	raw, _ := json.Marshal(body)
	ls[at] = store.Leaf(store.Open, raw)
	_, key := testKeys(t)
	rep := mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (open): not what the ceremony messages in entries 1-%d decide: election key %x", at, at-1, pk.Bytes()))
	if rep.Failures != 1 {
		t.Errorf("%d failures, want only the open entry's: %v", rep.Failures, rep.Checks)
	}
}

// TestAttackAlteredResult: a result with moved votes, and one with another
// ballot count, each validly signed.
func TestAttackAlteredResult(t *testing.T) {
	e, rec, posted := election(t, electiontest.Options{}, 0, 1, 1)
	ls := leaves(t, rec, e.Verifier)
	at := index(t, ls, store.Result, 0)
	_, key := testKeys(t)

	moved := *posted
	moved.Counts = [][]uint64{{posted.Counts[0][0] + 1, posted.Counts[0][1] - 1}}
	ls[at] = store.Leaf(store.Result, moved.Bytes())
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (result): the posted counts [[2 1]] are not what", at), "combine to: [[1 2]]")

	more := *posted
	more.Ballots++
	ls[at] = store.Leaf(store.Result, more.Bytes())
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (result): the result counts 4 ballots, the record has 3", at))

	ls[at] = store.Leaf(store.Result, bytes.Replace(posted.Bytes(), []byte(`"ballots"`), []byte(`"Ballots"`), 1))
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (result): result entry: field \"Ballots\" is not spelt as this format spells it", at))

	fewer := *posted
	fewer.Trustees = posted.Trustees[:1]
	ls[at] = store.Leaf(store.Result, fewer.Bytes())
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (result): the result names 1 trustees, the threshold is 2", at))
}

// TestAttackBadPartialProof: a partial decryption whose proof is for
// another aggregate.
func TestAttackBadPartialProof(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1)
	ls := leaves(t, rec, e.Verifier)
	at := index(t, ls, store.Partial, 1)
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	other := *agg
	other.Ballots++
	ks := e.Shares[1]
	s, err := tally.Decrypt(e.Board.Election(), &other, ks.Index, ks.Secret, ks.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	ls[at] = store.Leaf(store.Partial, s.Bytes())
	_, key := testKeys(t)
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (partial): the partial decryption of trustee 2:", at), "partial decryption does not verify")

	// A replayed partial from the same trustee.
	ls = leaves(t, rec, e.Verifier)
	ls = insert(ls, at+1, ls[at])
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (partial): a second partial decryption from trustee 2; the first is entry %d", at+1, at))
}

// TestAttackDroppedBallot: a board that drops a counted ballot and re-signs
// its log: the trustees' partial decryptions no longer fit the aggregate.
func TestAttackDroppedBallot(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1, 0)
	ls := leaves(t, rec, e.Verifier)
	b := index(t, ls, store.Ballot, 1)
	ls = append(ls[:b:b], ls[b+1:]...)
	_, key := testKeys(t)
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (partial): the partial decryption of trustee 1", index(t, ls, store.Partial, 0)))
}

// TestAttackReorderedPhases: ballots before open, ceremony after open,
// partial before close, a second manifest.
func TestAttackReorderedPhases(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1)
	orig := leaves(t, rec, e.Verifier)
	_, key := testKeys(t)
	open, cer := index(t, orig, store.Open, 0), index(t, orig, store.Ceremony, 0)
	ballotLeaf := orig[index(t, orig, store.Ballot, 0)]

	ls := insert(orig, open, ballotLeaf)
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (ballot): a ballot before the open entry", open))

	ls = insert(orig, open+1, orig[cer])
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (ceremony): a ceremony message after the open entry (entry %d)", open+1, open))

	cl := index(t, orig, store.Close, 0)
	ls = insert(orig, cl, orig[index(t, orig, store.Partial, 0)])
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (partial): a partial entry before the close entry", cl))

	ls = insert(orig, 2, orig[0])
	mustFail(t, resign(t, ls), key, "entry 2 (manifest): a second manifest entry")
}

// TestAttackAlteredCeremonyMessage: every ceremony message is signed by its
// trustee, so a changed bit anywhere in a deal (even inside a sealed share,
// which no other public check reads) names the deal's entry.
func TestAttackAlteredCeremonyMessage(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0)
	ls := leaves(t, rec, e.Verifier)
	d := index(t, ls, store.Ceremony, 4) // the second deal (3 announcements first)
	_, key := testKeys(t)
	for _, k := range []int{1, 40, len(ls[d]) / 2, len(ls[d]) - 100, len(ls[d]) - 1} {
		ls2 := append([][]byte{}, ls...)
		ls2[d] = bytes.Clone(ls[d])
		ls2[d][k] ^= 1
		mustFail(t, resign(t, ls2), key, fmt.Sprintf("entry %d (ceremony)", d))
	}
	// A deal signed by another trustee's key is refused as well.
	payload := ls[d][2 : len(ls[d])-64]
	forged := store.Leaf(store.Ceremony, record.Sign(e.Board.Manifest(), e.TrusteeKeys[0], record.KindDeal, payload))
	ls2 := append([][]byte{}, ls...)
	ls2[d] = forged
	mustFail(t, resign(t, ls2), key, fmt.Sprintf("entry %d (ceremony): ceremony message is not signed by trustee 2", d))
}

// TestAttackReplayedBallotInRecord: under last-ballot-counts, a board that
// re-appends a voter's earlier ballot after the revote (so that the coerced
// first ballot counts again) is caught.
func TestAttackReplayedBallotInRecord(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{Revoting: ballot.RevotingLastCounts})
	v := e.Voter(t)
	e.Cast(t, v, []int{0})
	e.Cast(t, v, []int{1})
	e.Tally(t)
	_, key := testKeys(t)
	ls := leaves(t, e.Export(t), e.Verifier)
	first, closeAt := index(t, ls, store.Ballot, 0), index(t, ls, store.Close, 0)
	var forged [][]byte
	forged = append(forged, ls[:closeAt]...)
	forged = append(forged, ls[first])
	forged = append(forged, ls[closeAt:closeAt+1]...)
	mustFail(t, resign(t, forged), key, fmt.Sprintf("entry %d (tokens): a copy of the ballot of entry %d", closeAt, first))
}
