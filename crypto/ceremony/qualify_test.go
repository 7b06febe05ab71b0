package ceremony

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// TestFaultCodes pins the fault codes, which are written into the open
// entry: every one is valid, in SPEC.md §7's table in its order, and
// nothing else is a fault.
func TestFaultCodes(t *testing.T) {
	want := []Fault{FaultNoDeal, FaultTwoDeals, FaultWrongT, FaultWrongN, FaultBadProof, FaultUnanswered, FaultBadAnswer}
	codes := []string{"no-deal", "two-deals", "wrong-t", "wrong-n", "bad-proof", "complaints-unanswered", "bad-answer"}
	for i, f := range want {
		if string(f) != codes[i] || !f.Valid() || faultOrder[f] != i+1 {
			t.Errorf("fault %d is %q (valid %v, order %d), want %q", i, f, f.Valid(), faultOrder[f], codes[i])
		}
		if f.HasAccusers() != (f == FaultUnanswered || f == FaultBadAnswer) {
			t.Errorf("%q: HasAccusers is %v", f, f.HasAccusers())
		}
	}
	for _, f := range []Fault{"", "No-deal", "bad-deal", "did not answer"} {
		if f.Valid() {
			t.Errorf("%q is a valid fault", f)
		}
	}
	spec, err := os.ReadFile("../../SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	// The rows of §7's fault table read "| `code` | ...".
	sec := string(spec)
	start, end := strings.Index(sec, "\n## 7. "), strings.Index(sec, "\n## 8. ")
	if start < 0 || end < start {
		t.Fatal("SPEC.md has no §7")
	}
	var inSpec []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|").FindAllStringSubmatch(sec[start:end], -1) {
		inSpec = append(inSpec, m[1])
	}
	if !slices.Equal(inSpec, codes) {
		t.Errorf("SPEC.md §7 lists the faults %q, the code has %q", inSpec, codes)
	}
}

// TestQualifyPublic decides a ceremony from its public messages alone, no
// trustee in it: the election key is the qualified dealers' C₀ summed,
// each verification key the image of the summed polynomials at j, and
// the result tells a trustee which deals count and which answered shares
// to take.
func TestQualifyPublic(t *testing.T) {
	c := newTestCeremony(t, 5, 3)
	c.complain(t, 4, 2, ReasonUndecryptable) // unanswered: 2 is out
	c.complain(t, 3, 1, ReasonMismatch)      // answered rightly: 1 stays
	c.answer(t, 1, 3, c.share(1, 3))
	c.complain(t, 1, 5, ReasonMismatch) // answered wrongly: 5 is out
	c.answer(t, 5, 1, elgamal.ScalarFromUint64(7))
	res, err := c.qualify()
	if err != nil {
		t.Fatal(err)
	}
	want := []Disqualification{{Dealer: 2, Fault: FaultUnanswered, Accusers: []int{4}}, {Dealer: 5, Fault: FaultBadAnswer, Accusers: []int{1}}}
	if fmt.Sprint(res.Qualified) != "[1 3 4]" || !slices.EqualFunc(res.Disqualified, want, Disqualification.Equal) {
		t.Fatalf("QUAL %v, disqualified %v", res.Qualified, res.Disqualified)
	}
	h := ristretto255.NewIdentityElement()
	for _, i := range res.Qualified {
		h.Add(h, c.deals[i-1].Commitments[0])
	}
	if h.Equal(res.ElectionKey.Element()) != 1 {
		t.Fatal("the election key is not the qualified dealers' C₀ summed")
	}
	for j := 1; j <= 5; j++ {
		s := ristretto255.NewScalar()
		for _, i := range res.Qualified {
			s.Add(s, c.share(i, j))
		}
		if !bytes.Equal(ristretto255.NewIdentityElement().ScalarBaseMult(s).Bytes(), res.VerificationKey(j).Bytes()) {
			t.Fatalf("VK_%d is not g to trustee %d's summed share", j, j)
		}
	}
	if res.VerificationKey(0) != nil || res.VerificationKey(6) != nil {
		t.Error("a verification key outside 1..n")
	}
	for i := 1; i <= 5; i++ {
		if q := slices.Contains(res.Qualified, i); (res.Deal(i) != nil) != q || q && res.Deal(i) != c.deals[i-1] {
			t.Errorf("Deal(%d) = %v, dealer qualified %v", i, res.Deal(i), q)
		}
	}
	if s := res.AnsweredShare(1, 3); s == nil || s.Equal(c.share(1, 3)) != 1 {
		t.Errorf("AnsweredShare(1, 3) = %v, want the answer's share", s)
	}
	res.AnsweredShare(1, 3).Zero() // a copy: the result is unchanged
	if s := res.AnsweredShare(1, 3); s == nil || s.Equal(c.share(1, 3)) != 1 {
		t.Error("AnsweredShare returns the result's own scalar")
	}
	for _, p := range [][2]int{{5, 1}, {2, 4}, {1, 2}, {3, 3}} {
		if res.AnsweredShare(p[0], p[1]) != nil {
			t.Errorf("AnsweredShare(%d, %d) is not nil", p[0], p[1])
		}
	}
}

// TestQualifyFails: fewer than t qualified dealers decide no key, and the
// error names each culprit.
func TestQualifyFails(t *testing.T) {
	c := newTestCeremony(t, 3, 2)
	c.deals[0].Proof = c.deals[1].Proof
	c.deals = c.deals[:2]
	_, err := c.qualify()
	var ce *CeremonyError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CeremonyError", err)
	}
	want := []Disqualification{{Dealer: 1, Fault: FaultBadProof}, {Dealer: 3, Fault: FaultNoDeal}}
	if !slices.EqualFunc(ce.Disqualified, want, Disqualification.Equal) || !slices.Equal(ce.Qualified, []int{2}) {
		t.Fatalf("QUAL %v, disqualified %v", ce.Qualified, ce.Disqualified)
	}
	if !strings.HasPrefix(err.Error(), "dkg: ceremony failed: only 1 of 3 dealers qualified, the threshold is 2") {
		t.Errorf("error %q", err)
	}
}

// TestDealFault: the faults anyone sees in a deal, in their order.
func TestDealFault(t *testing.T) {
	c := newTestCeremony(t, 3, 2)
	d := *c.deals[1]
	if f := DealFault(c.ctx, &d, 3, 2); f != "" {
		t.Fatalf("a good deal: %q", f)
	}
	for _, tc := range []struct {
		ctx  []byte
		n, t int
		want Fault
	}{{c.ctx, 3, 3, FaultWrongT}, {c.ctx, 4, 2, FaultWrongN}, {c.ctx, 4, 3, FaultWrongT}, {[]byte("other"), 3, 2, FaultBadProof}} {
		if f := DealFault(tc.ctx, &d, tc.n, tc.t); f != tc.want {
			t.Errorf("n %d, t %d, ctx %q: %q, want %q", tc.n, tc.t, tc.ctx, f, tc.want)
		}
	}
	d.Dealer = 1
	if f := DealFault(c.ctx, &d, 3, 2); f != FaultBadProof {
		t.Errorf("another dealer's proof: %q", f)
	}
}
