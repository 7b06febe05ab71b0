package verify_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/threshold"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
)

// TestAttackResultWrongTrusteesInRecord: a board that signs a result with
// the right counts but another list of trustees, or the right result in
// another encoding, is caught. The result is made by the first t partial
// entries in record order (SPEC.md §9), here trustees 3 and 1, though
// trustee 2's partial is valid too.
func TestAttackResultWrongTrusteesInRecord(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	for _, p := range []int{0, 1, 1} {
		e.Cast(t, e.Voter(t), []int{p})
	}
	posted := e.Tally(t, 3, 1)
	if fmt.Sprint(posted.Trustees) != "[3 1]" {
		t.Fatalf("the board's result names trustees %v, want [3 1] (record order)", posted.Trustees)
	}
	rec := e.Export(t)
	if rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{}); err != nil || !rep.OK {
		t.Fatalf("the untouched record: %v", err)
	}
	ls := leaves(t, rec, e.Verifier)
	at := index(t, ls, store.Result, 0)
	// Trustee 2's valid partial after trustee 3's and 1's, before the result.
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	ks := e.Shares[1]
	s2, err := tally.Decrypt(e.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	ls = insert(ls, at, store.Leaf(store.Partial, s2.Bytes()))
	at++
	_, key := testKeys(t)
	if rep, err := verify.Record(bytes.NewReader(resign(t, ls)), key, verify.Options{}); err != nil || !rep.OK {
		t.Fatalf("with a third valid partial: %v", err)
	}
	for _, c := range []struct{ body, want string }{
		{`{"ballots":3,"counts":[[1,2]],"trustees":[1,3]}`, "names trustees [1 3], but the result is made by the first 2 partial decryptions in record order, trustees [3 1]'s"},
		{`{"ballots":3,"counts":[[1,2]],"trustees":[1,2]}`, "names trustees [1 2], but"},
		{`{"ballots":3,"counts":[[1,2]],"trustees":[3,2]}`, "names trustees [3 2], but"},
		{`{"ballots":3,"counts":[[1,2]],"trustees":[3,1,2]}`, "names 3 trustees, the threshold is 2"},
		{`{"ballots":3,"counts":[[1,2]],"trustees":[3,3]}`, "names trustee 3 twice"},
		{`{"ballots":3,"counts":[[1,2]],"trustees":null}`, "\x00null"},
		{`{"ballots": 3,"counts":[[1,2]],"trustees":[3,1]}`, "is not in its canonical encoding"},
		{`{"counts":[[1,2]],"ballots":3,"trustees":[3,1]}`, "is not in its canonical encoding"},
	} {
		ls[at] = store.Leaf(store.Result, []byte(c.body))
		want := fmt.Sprintf("entry %d (result): the result %s", at, c.want)
		if c.want == "\x00null" { // refused by the strict JSON reader, before any count
			want = fmt.Sprintf("entry %d (result): result entry: trustees is null", at)
		}
		mustFail(t, resign(t, ls), key, want)
	}
}

// TestAttackTrivialPartialInRecord: the trivial partial (identity, no
// proof) is the partial only of an aggregate ciphertext whose first
// component is the identity. A board that signs a partial entry holding it
// for an aggregate that needs decrypting (to skip a trustee's proof) is
// caught.
func TestAttackTrivialPartialInRecord(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{}, 0, 1, 1)
	ls := leaves(t, rec, e.Verifier)
	at := index(t, ls, store.Partial, 1)
	bad := bytes.Clone(ls[at])
	clear(bad[3 : 2+threshold.PartialSize])
	ls[at] = bad
	_, key := testKeys(t)
	mustFail(t, resign(t, ls), key, fmt.Sprintf("entry %d (partial):", at), "the trivial partial (D = identity, no proof) for a ciphertext whose A is not the identity")
}

// issueAgain has the issuer sign v's token key a second time: RSA-PSS blind
// signatures are randomized, so this is a second, different, valid token.
func issueAgain(t *testing.T, e *electiontest.Election, v *electiontest.Voter) *electiontest.Voter {
	t.Helper()
	m := e.Board.Manifest()
	blinded, st, err := token.Blind(rand.Reader, m.Issuer(), m.ID(), v.Key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := e.Issuer.Sign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		t.Fatal(err)
	}
	return &electiontest.Voter{Secret: v.Secret, Key: v.Key, Token: tok}
}

// TestAttackTwoTokensOneKeyInRecord: a board that slips in a ballot for a
// token key that voted with another token (the issuer signed the key
// twice) is caught, naming both entries. Under last-ballot-counts the
// slipped ballot is put before the real one, so that it does not count and
// the token check is the only one to fail; under refuse it is a second
// ballot for the key.
func TestAttackTwoTokensOneKeyInRecord(t *testing.T) {
	_, key := testKeys(t)
	for _, policy := range []string{ballot.RevotingLastCounts, ballot.RevotingRefuse} {
		t.Run(policy, func(t *testing.T) {
			e := electiontest.New(t, electiontest.Options{Revoting: policy})
			v := e.Voter(t)
			slipped := store.Leaf(store.Ballot, e.Ballot(t, issueAgain(t, e, v), []int{1}))
			e.Cast(t, e.Voter(t), []int{1})
			e.Cast(t, v, []int{0})
			e.Tally(t)
			ls := leaves(t, e.Export(t), e.Verifier)
			first := index(t, ls, store.Ballot, 0)
			ls = insert(ls, first, slipped) // the real ballot of v is now first+2
			want := fmt.Sprintf("entry %d (tokens): a ballot for the token key of entry %d with another eligibility token", first+2, first)
			if policy == ballot.RevotingRefuse {
				want = fmt.Sprintf("entry %d (tokens): a second ballot for the token of entry %d", first+2, first)
			}
			rep := mustFail(t, resign(t, ls), key, want)
			if policy == ballot.RevotingLastCounts && rep.Failures != 1 {
				t.Errorf("%d checks fail, want only the token check", rep.Failures)
			}
		})
	}
}
