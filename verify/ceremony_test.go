package verify_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
)

// disqualifiedRecord is a record that stops at its open entry, whose
// ceremony (run anew for e's manifest, signed with e's trustee keys) has
// trustee 3 leave the complaints of trustees 2 and 1 unanswered. It
// returns the leaves and the index of the open entry.
func disqualifiedRecord(t *testing.T, e *electiontest.Election) ([][]byte, int) {
	t.Helper()
	m := e.Board.Manifest()
	ls := [][]byte{leaves(t, e.Export(t), e.Verifier)[0]}
	var trs []*dkg.Trustee
	var anns []*dkg.Announcement
	for i := 1; i <= 3; i++ {
		tr, a, err := dkg.NewTrustee(nil, i, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		trs, anns = append(trs, tr), append(anns, a)
		ls = append(ls, store.Leaf(store.Ceremony, record.Sign(m, e.TrusteeKeys[i-1], record.KindAnnouncement, a.Marshal())))
	}
	for i, tr := range trs {
		d, err := tr.Deal(nil, record.CeremonyContext(m), anns)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, store.Leaf(store.Ceremony, record.Sign(m, e.TrusteeKeys[i], record.KindDeal, d.Marshal())))
	}
	for _, j := range []int{2, 1} {
		c := (&dkg.Complaint{Accuser: j, Accused: 3, Reason: dkg.ReasonMismatch}).Marshal()
		ls = append(ls, store.Leaf(store.Ceremony, record.Sign(m, e.TrusteeKeys[j-1], record.KindComplaint, c)))
	}
	cer := record.NewCeremony(m)
	for _, l := range ls[1:] {
		if err := cer.Add(l[1:]); err != nil {
			t.Fatal(err)
		}
	}
	o, err := cer.Qualify()
	if err != nil {
		t.Fatal(err)
	}
	return append(ls, store.Leaf(store.Open, o.Bytes())), len(ls)
}

// TestRecordDisqualifiedDealer: a record whose open entry disqualifies a
// dealer verifies when the entry is, byte for byte, the one SPEC.md §7
// describes; an open entry that words the fault in English, lists the
// accusers in another order, counts the dealer anyway or is spaced
// differently is refused.
func TestRecordDisqualifiedDealer(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	ls, at := disqualifiedRecord(t, e)
	_, key := testKeys(t)
	body := string(ls[at][1:])
	if !strings.HasSuffix(body, `"qualified":[1,2],"disqualified":[{"trustee":3,"reason":"complaints-unanswered","accusers":[1,2]}]}`) {
		t.Fatalf("open entry %s", body)
	}
	rep, err := verify.Record(bytes.NewReader(resign(t, ls)), key, verify.Options{AllowIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.Name == verify.CheckOpen && !strings.Contains(c.Detail, "qualified trustees [1 2]") {
			t.Errorf("open check: %v", c)
		}
	}

	for _, tc := range []struct{ from, to, want string }{
		{`"reason":"complaints-unanswered"`, `"reason":"did not answer the complaints of trustees [1 2]"`,
			`it does not parse: open entry: trustee 3 is disqualified for "did not answer the complaints of trustees [1 2]", which is no fault's code`},
		{`"accusers":[1,2]`, `"accusers":[2,1]`,
			"disqualifications [trustee 3 complaints-unanswered [2 1]], the ceremony gives [trustee 3 complaints-unanswered [1 2]]"},
		{`"accusers":[1,2]`, `"accusers":[1]`, "disqualifications [trustee 3 complaints-unanswered [1]], the ceremony gives"},
		{`"reason":"complaints-unanswered"`, `"reason":"bad-answer"`, "disqualifications [trustee 3 bad-answer [1 2]], the ceremony gives"},
		{`,"accusers":[1,2]`, ``, "complaints-unanswered with 0 accusers"},
		{`"trustee":3,"reason"`, `"trustee":3, "reason"`, "same outcome, but not its canonical encoding"},
		{`{"trustee":3,"reason":"complaints-unanswered","accusers":[1,2]}`, `{"reason":"complaints-unanswered","trustee":3,"accusers":[1,2]}`, "same outcome, but not its canonical encoding"},
	} {
		bad := slices.Clone(ls)
		bad[at] = store.Leaf(store.Open, []byte(strings.Replace(body, tc.from, tc.to, 1)))
		_, err := verify.Record(bytes.NewReader(resign(t, bad)), key, verify.Options{AllowIncomplete: true})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("entry %d (open): not what the ceremony messages in entries 1-%d decide: ", at, at-1)) ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %q", tc.to, err, tc.want)
		}
	}

	// An open entry that counts trustee 3 (what the ceremony would decide
	// without the complaints) names trustee 3's deal as well.
	cer := record.NewCeremony(e.Board.Manifest())
	for _, l := range ls[1 : at-2] {
		if err := cer.Add(l[1:]); err != nil {
			t.Fatal(err)
		}
	}
	all, err := cer.Qualify()
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(ls)
	bad[at] = store.Leaf(store.Open, all.Bytes())
	// The dealer's fault is the open entry's failure, not its deal's: the
	// deal is a valid message (SPEC.md §7, §13).
	rep = mustFail(t, resign(t, bad), key, fmt.Sprintf("entry %d (open): ", at))
	if !strings.Contains(rep.Checks[len(rep.Checks)-1].String()+fmt.Sprint(rep.Checks), "trustee 3's deal (entry 6) is disqualified (it did not answer the complaints of trustees [1 2]), yet the open entry counts it") {
		t.Errorf("the open failure does not name the deal: %v", rep.Checks)
	}
	for _, c := range rep.Checks {
		if c.Name == verify.CheckCeremony && !c.OK {
			t.Errorf("a dealer's fault reported as its ceremony entry's: %v", c)
		}
	}
	if c := findCheck(rep, verify.CheckOpen); c == nil || c.OK || !strings.Contains(c.Detail, "qualified trustees [1 2 3], the ceremony gives [1 2]") ||
		!strings.Contains(c.Detail, "disqualifications none, the ceremony gives [trustee 3 complaints-unanswered [1 2]]") {
		t.Errorf("open check %v", c)
	}
}

// TestRecordCeremonyFailed: with a trustee's announcement missing, or
// fewer than t dealers qualified, the ceremony decides no key: any open
// entry fails, and the record can only stop before one (incomplete).
func TestRecordCeremonyFailed(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0)
	ls := leaves(t, rec, e.Verifier)
	_, key := testKeys(t)
	open := index(t, ls, store.Open, 0)

	noAnn := append(slices.Clone(ls[:3]), ls[4:]...) // without trustee 3's announcement
	mustFail(t, resign(t, noAnn), key, fmt.Sprintf("entry %d (open): the ceremony messages in entries 1-%d decide no election key: 2 of 3 trustees have announced their keys", open-1, open-2))

	// Trustee 2 and 3's deals missing: one qualified dealer, threshold 2.
	oneDeal := append(slices.Clone(ls[:5]), ls[open:]...)
	mustFail(t, resign(t, oneDeal), key, "entry 5 (open): the ceremony messages in entries 1-4 decide no election key: ceremony failed: only 1 of 3 dealers qualified")
	rep, err := verify.Record(bytes.NewReader(resign(t, oneDeal[:5])), key, verify.Options{AllowIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := findCheck(rep, verify.CheckComplete); c == nil || !c.OK || c.Detail != "the record is incomplete, as allowed: no open entry: the key ceremony never finished" {
		t.Fatalf("complete check %v", c)
	}
}

// TestRecordCeremonyAnyOrder: ceremony entries may come in any order
// before the open entry (SPEC.md §7): the checks first, then the deals,
// the announcements last, the record still verifies, open entry unchanged.
func TestRecordCeremonyAnyOrder(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1)
	ls := leaves(t, rec, e.Verifier)
	open := index(t, ls, store.Open, 0)
	slices.Reverse(ls[1:open])
	if store.EntryType(ls[1][0]) != store.Ceremony || ls[1][1] != record.KindCheck {
		t.Fatal("the first entry is not a check")
	}
	_, key := testKeys(t)
	if _, err := verify.Record(bytes.NewReader(resign(t, ls)), key, verify.Options{}); err != nil {
		t.Fatalf("the ceremony entries reversed: %v", err)
	}
}

// TestRecordCeremonyRefused: a ceremony entry that does not parse (a
// complaint with reason 3, a deal with t = 0) makes the record invalid,
// naming the entry; it is not a disqualification.
func TestRecordCeremonyRefused(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0)
	ls := leaves(t, rec, e.Verifier)
	m := e.Board.Manifest()
	_, key := testKeys(t)
	open := index(t, ls, store.Open, 0)
	deal := bytes.Clone(ls[4][2 : len(ls[4])-64])
	deal[3] = 0
	for _, tc := range []struct {
		leaf []byte
		want string
	}{
		{store.Leaf(store.Ceremony, record.Sign(m, e.TrusteeKeys[0], record.KindComplaint, []byte{1, 3, 1, 2, 3})), "complaint has unknown reason 3"},
		{store.Leaf(store.Ceremony, record.Sign(m, e.TrusteeKeys[0], record.KindDeal, deal)), "has 0 commitments and 3 shares; both must be at least 1"},
	} {
		mustFail(t, resign(t, insert(ls, open, tc.leaf)), key, fmt.Sprintf("entry %d (ceremony): ", open), tc.want)
	}
}

func findCheck(rep *verify.Report, name string) *verify.Check {
	for i := range rep.Checks {
		if rep.Checks[i].Name == name {
			return &rep.Checks[i]
		}
	}
	return nil
}

// TestCompleteAndIncomplete: a record is complete with its open, close and
// result entries (SPEC.md §8). Cut anywhere before the result it is
// incomplete: refused by default, naming what is missing, and accepted,
// still saying so and with no result, when incomplete records are allowed;
// the entries it holds are checked either way.
func TestCompleteAndIncomplete(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1)
	ls := leaves(t, rec, e.Verifier)
	_, key := testKeys(t)
	open, closeAt := index(t, ls, store.Open, 0), index(t, ls, store.Close, 0)
	p1, p2, res := index(t, ls, store.Partial, 0), index(t, ls, store.Partial, 1), index(t, ls, store.Result, 0)
	for _, tc := range []struct {
		end     int // entries kept
		missing string
	}{
		{open, "no open entry: the key ceremony never finished"},
		{open + 1, "no close entry: the election is still open"},
		{closeAt, "no close entry: the election is still open"},
		{closeAt + 1, "no result entry: the election is closed but not tallied (0 valid partial decryptions, the result needs 2)"},
		{p1 + 1, "no result entry: the election is closed but not tallied (1 valid partial decryptions, the result needs 2)"},
		{p2 + 1, "no result entry: the election is closed but not tallied (2 valid partial decryptions, the result needs 2)"},
	} {
		cut := resign(t, ls[:tc.end])
		mustFail(t, cut, key, "complete: the record is incomplete: "+tc.missing)
		rep, err := verify.Record(bytes.NewReader(cut), key, verify.Options{AllowIncomplete: true})
		if err != nil {
			t.Fatalf("%d entries, incomplete allowed: %v", tc.end, err)
		}
		if c := findCheck(rep, verify.CheckComplete); c == nil || !c.OK || c.Detail != "the record is incomplete, as allowed: "+tc.missing || rep.Result != nil {
			t.Errorf("%d entries: complete check %v, result %v", tc.end, c, rep.Result)
		}
	}
	// Allowing an incomplete record accepts no invalid entry in it.
	bad := slices.Clone(ls[:p2+1])
	bad[p2] = bytes.Clone(bad[p2])
	bad[p2][len(bad[p2])-1] ^= 1
	if _, err := verify.Record(bytes.NewReader(resign(t, bad)), key, verify.Options{AllowIncomplete: true}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("entry %d (partial)", p2)) {
		t.Errorf("a bad partial in an incomplete record: %v", err)
	}
	rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := index(t, ls, store.Issuance, 0)
	want := fmt.Sprintf("the record is complete: open (entry %d), close (entry %d) and result (entry %d), and the issuer's statement (entry %d)", open, closeAt, res, st)
	if c := findCheck(rep, verify.CheckComplete); c == nil || !c.OK || c.Detail != want {
		t.Errorf("complete check %v, want %q", c, want)
	}
	// The manifest names the issuer's statement key: a record with its
	// result but without the statement is incomplete, and only that.
	noStatement := resign(t, slices.Delete(slices.Clone(ls), st, st+1))
	mustFail(t, noStatement, key, "complete: the record is incomplete: no issuance statement")
	if _, err := verify.Record(bytes.NewReader(noStatement), key, verify.Options{AllowIncomplete: true}); err != nil {
		t.Errorf("no statement, incomplete allowed: %v", err)
	}

	// With no ballot the result follows close with no partial, and the
	// record is complete.
	e0 := electiontest.New(t, electiontest.Options{})
	if _, err := e0.Board.CloseVoting(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e0.PostIssuance(t.Context()); err != nil {
		t.Fatal(err)
	}
	ls0 := leaves(t, e0.Export(t), e0.Verifier)
	mustFail(t, resign(t, ls0), key, "complete: the record is incomplete: no result entry: the election is closed but not tallied")
	rep, err = verify.Record(bytes.NewReader(resign(t, ls0)), key, verify.Options{AllowIncomplete: true})
	if c := findCheck(rep, verify.CheckComplete); err != nil || c.Detail != "the record is incomplete, as allowed: no result entry: the election is closed but not tallied" {
		t.Errorf("an empty election not tallied: %v, %v", c, err)
	}
	empty := &tally.Result{Counts: [][]uint64{{0, 0}}, Trustees: []int{}}
	if _, err := verify.Record(bytes.NewReader(resign(t, append(ls0, store.Leaf(store.Result, empty.Bytes())))), key, verify.Options{}); err != nil {
		t.Fatalf("an empty election: %v", err)
	}
}

// TestPartialAfterResult: partial entries may follow the result (a
// trustee that decrypts late): each is checked like any partial, and the
// result stays the one of the first t (SPEC.md §8, §9). The board accepts
// them too.
func TestPartialAfterResult(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	e.Cast(t, e.Voter(t), []int{1})
	posted := e.Tally(t, 2, 3)
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	ks := e.Shares[0]
	late, err := tally.Decrypt(e.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Board.PostPartial(t.Context(), late.Bytes()); err != nil {
		t.Fatalf("the board refuses a partial after the result: %v", err)
	}
	rec := e.Export(t)
	rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{})
	if err != nil {
		t.Fatalf("a valid partial after the result: %v", err)
	}
	if !rep.Result.Equal(posted) || fmt.Sprint(rep.Result.Trustees) != "[2 3]" {
		t.Fatalf("result %+v, posted %+v", rep.Result, posted)
	}
	ls := leaves(t, rec, e.Verifier)
	last := len(ls) - 1
	if store.EntryType(ls[last][0]) != store.Partial || store.EntryType(ls[last-1][0]) != store.Result {
		t.Fatal("the record does not end with the result and a partial")
	}
	_, key := testKeys(t)
	bad := slices.Clone(ls)
	bad[last] = bytes.Clone(ls[last])
	bad[last][len(bad[last])-1] ^= 1
	mustFail(t, resign(t, bad), key, fmt.Sprintf("entry %d (partial): ", last))
	mustFail(t, resign(t, append(slices.Clone(ls), ls[last-2])), key, fmt.Sprintf("entry %d (partial): a second partial decryption from trustee 3", last+1))
}
