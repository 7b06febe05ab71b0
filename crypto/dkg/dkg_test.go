package dkg

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/internal/encodingtest"
	"github.com/gtank/ristretto255"
)

var testContext = []byte("manifest hash of test election")

// ceremony drives n trustees through the protocol, passing every message
// and every trustee state through its encoding between steps.
type testCeremony struct {
	n, t       int
	ctx        []byte
	trustees   []*Trustee
	anns       []*Announcement
	deals      []*Deal
	complaints []*Complaint
	answers    []*Answer
}

func reload(tb testing.TB, tr *Trustee) *Trustee {
	tb.Helper()
	out, err := UnmarshalTrustee(tr.Marshal())
	if err != nil {
		tb.Fatalf("trustee %d state: %v", tr.index, err)
	}
	if !bytes.Equal(out.Marshal(), tr.Marshal()) {
		tb.Fatal("trustee state re-encodes differently")
	}
	return out
}

func newCeremony(tb testing.TB, n, t int) *testCeremony {
	tb.Helper()
	c := &testCeremony{n: n, t: t, ctx: testContext}
	for i := 1; i <= n; i++ {
		tr, ann, err := NewTrustee(nil, i, n, t)
		if err != nil {
			tb.Fatal(err)
		}
		c.trustees = append(c.trustees, reload(tb, tr))
		c.anns = append(c.anns, encodingtest.RoundTrip(tb, ann, (*Announcement).Marshal, ParseAnnouncement))
	}
	for i, tr := range c.trustees {
		d, err := tr.Deal(nil, c.ctx, c.anns)
		if err != nil {
			tb.Fatal(err)
		}
		c.trustees[i] = reload(tb, tr)
		c.deals = append(c.deals, encodingtest.RoundTrip(tb, d, (*Deal).Marshal, ParseDeal))
	}
	return c
}

func (c *testCeremony) verify(tb testing.TB) {
	tb.Helper()
	for _, tr := range c.trustees {
		cs, err := tr.Verify(c.deals)
		if err != nil {
			tb.Fatal(err)
		}
		for _, x := range cs {
			c.complaints = append(c.complaints, encodingtest.RoundTrip(tb, x, (*Complaint).Marshal, ParseComplaint))
		}
	}
}

func (c *testCeremony) answer(tb testing.TB, who ...int) {
	tb.Helper()
	for _, i := range who {
		as, err := c.trustees[i-1].Answer(c.complaints)
		if err != nil {
			tb.Fatal(err)
		}
		for _, a := range as {
			c.answers = append(c.answers, encodingtest.RoundTrip(tb, a, (*Answer).Marshal, ParseAnswer))
		}
	}
}

func (c *testCeremony) qualify() (*Result, error) {
	return Qualify(c.ctx, c.n, c.t, c.anns, c.deals, c.complaints, c.answers)
}

func (c *testCeremony) finalize(tb testing.TB) (*Result, []*KeyShare) {
	tb.Helper()
	pub, err := c.qualify()
	if err != nil {
		tb.Fatal(err)
	}
	var shares []*KeyShare
	for i, tr := range c.trustees {
		res, ks, err := tr.Finalize(c.anns, c.deals, c.complaints, c.answers)
		if err != nil {
			tb.Fatalf("trustee %d: %v", tr.index, err)
		}
		if !bytes.Equal(res.ElectionKey.Bytes(), pub.ElectionKey.Bytes()) {
			tb.Fatalf("trustee %d got another election key", tr.index)
		}
		c.trustees[i] = reload(tb, tr)
		shares = append(shares, encodingtest.RoundTrip(tb, ks, (*KeyShare).Marshal, ParseKeyShare))
	}
	checkResult(tb, pub, shares)
	return pub, shares
}

// lagrange returns the coefficients interpolating at 0 from points xs.
func lagrange(xs []int) []*ristretto255.Scalar {
	out := make([]*ristretto255.Scalar, len(xs))
	for i, xi := range xs {
		num, den := scalarInt(1), scalarInt(1)
		for j, xj := range xs {
			if i != j {
				num.Multiply(num, scalarInt(xj))
				den.Multiply(den, ristretto255.NewScalar().Subtract(scalarInt(xj), scalarInt(xi)))
			}
		}
		out[i] = num.Multiply(num, ristretto255.NewScalar().Invert(den))
	}
	return out
}

// interpolateVKs returns Σ λⱼ·VKⱼ over the trustees in xs: h exactly when
// the shares lie on one polynomial of degree < len(xs) with h at 0. The
// secret itself is never formed.
func interpolateVKs(res *Result, xs []int) *ristretto255.Element {
	ls := lagrange(xs)
	pts := make([]*ristretto255.Element, len(xs))
	for i, x := range xs {
		pts[i] = res.VerificationKey(x).Element()
	}
	return ristretto255.NewIdentityElement().VarTimeMultiScalarMult(ls, pts)
}

func subsets(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, append([]int(nil), cur...))
			return
		}
		for i := start; i <= n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(1, nil)
	return out
}

func checkResult(tb testing.TB, res *Result, shares []*KeyShare) {
	tb.Helper()
	for _, ks := range shares {
		if !bytes.Equal(ks.VerificationKey.Bytes(), res.VerificationKey(ks.Index).Bytes()) {
			tb.Fatalf("trustee %d: key share's VK differs from the result's", ks.Index)
		}
	}
	h := res.ElectionKey.Element()
	for _, s := range subsets(res.N, res.T) {
		if interpolateVKs(res, s).Equal(h) != 1 {
			tb.Fatalf("verification keys of %v do not interpolate to h", s)
		}
	}
	if res.T > 1 {
		for _, s := range subsets(res.N, res.T-1) {
			if interpolateVKs(res, s).Equal(h) == 1 {
				tb.Fatalf("only %d verification keys %v interpolate to h", res.T-1, s)
			}
		}
	}
}

func TestHonestCeremony(t *testing.T) {
	for _, p := range [][2]int{{1, 1}, {3, 1}, {3, 2}, {5, 3}, {5, 5}, {7, 4}} {
		t.Run(fmt.Sprintf("%d-of-%d", p[1], p[0]), func(t *testing.T) {
			c := newCeremony(t, p[0], p[1])
			c.verify(t)
			if len(c.complaints) != 0 {
				t.Fatalf("honest ceremony produced complaints: %+v", c.complaints[0])
			}
			res, _ := c.finalize(t)
			if len(res.Qualified) != p[0] || len(res.Disqualified) != 0 {
				t.Fatalf("QUAL = %v, disqualified %v", res.Qualified, res.Disqualified)
			}
		})
	}
}

// sealBad replaces dealer i's share for j by an encryption of f_i(j)+1
// (mismatch) or by garbage (undecryptable).
func (c *testCeremony) sealBad(tb testing.TB, i, j int, garbage bool) {
	tb.Helper()
	d := c.deals[i-1]
	if garbage {
		d.EncryptedShares[j-1][40] ^= 1
		return
	}
	s := evalPoly(c.trustees[i-1].coeffs, j)
	s.Add(s, scalarInt(1))
	info := shareInfo(c.ctx, i, j, c.n, c.t, commitmentHash(d.Commitments))
	es, err := sealShare(nil, c.anns[j-1].EncryptionKey[:], info, s)
	if err != nil {
		tb.Fatal(err)
	}
	d.EncryptedShares[j-1] = es
}

// disqualified returns dealer i's faults, each as its code followed by the
// accusers it names, such as "complaints-unanswered [4]".
func disqualified(res *Result, i int) string {
	var out []string
	for _, d := range res.Disqualified {
		if d.Dealer == i {
			s := string(d.Fault)
			if d.Accusers != nil {
				s += fmt.Sprint(" ", d.Accusers)
			}
			out = append(out, s)
		}
	}
	return strings.Join(out, "; ")
}

func TestBadShareUnanswered(t *testing.T) {
	for _, garbage := range []bool{false, true} {
		c := newCeremony(t, 5, 3)
		c.sealBad(t, 2, 4, garbage)
		c.verify(t)
		want := ReasonMismatch
		if garbage {
			want = ReasonUndecryptable
		}
		if len(c.complaints) != 1 || *c.complaints[0] != (Complaint{Accuser: 4, Accused: 2, Reason: want}) {
			t.Fatalf("complaints = %v, want trustee 4 accusing 2 (reason %d)", c.complaints, want)
		}
		// Trustee 4 cannot finalise while the complaint is missing from the record.
		if _, _, err := c.trustees[3].Finalize(c.anns, c.deals, nil, nil); err == nil || !strings.Contains(err.Error(), "trustee 2's share for trustee 4") {
			t.Fatalf("finalising without the complaint: %v", err)
		}
		res, _ := c.finalize(t)
		if r := disqualified(res, 2); r != "complaints-unanswered [4]" {
			t.Fatalf("dealer 2 reason = %q; disqualified = %v", r, res.Disqualified)
		}
		if fmt.Sprint(res.Qualified) != "[1 3 4 5]" {
			t.Fatalf("QUAL = %v", res.Qualified)
		}
	}
}

func TestBadShareAnswered(t *testing.T) {
	c := newCeremony(t, 5, 3)
	c.sealBad(t, 2, 4, false)
	c.verify(t)
	c.answer(t, 1, 2, 3, 4, 5)
	if len(c.answers) != 1 || c.answers[0].Dealer != 2 || c.answers[0].Recipient != 4 {
		t.Fatalf("answers = %v", c.answers)
	}
	res, shares := c.finalize(t) // trustee 4 takes its share from the answer
	if len(res.Qualified) != 5 {
		t.Fatalf("answered dealer disqualified: %v", res.Disqualified)
	}
	_ = shares
}

func TestFalseComplaint(t *testing.T) {
	c := newCeremony(t, 5, 3)
	c.verify(t)
	c.complaints = append(c.complaints, &Complaint{Accuser: 3, Accused: 1, Reason: ReasonMismatch})
	res, err := c.qualify()
	if err != nil {
		t.Fatal(err)
	}
	if disqualified(res, 1) != "complaints-unanswered [3]" {
		t.Fatalf("unanswered false complaint: disqualified = %v", res.Disqualified)
	}
	c.answer(t, 1)
	res, _ = c.finalize(t)
	if len(res.Qualified) != 5 {
		t.Fatalf("answered false complaint disqualified: %v", res.Disqualified)
	}
}

func TestWrongAnswer(t *testing.T) {
	c := newCeremony(t, 4, 2)
	c.sealBad(t, 3, 1, false)
	c.verify(t)
	c.answers = []*Answer{{Dealer: 3, Recipient: 1, Share: scalarInt(42)}}
	res, _ := c.finalize(t)
	if disqualified(res, 3) != "bad-answer [1]" {
		t.Fatalf("disqualified = %v", res.Disqualified)
	}
}

func TestPubliclyBadDeals(t *testing.T) {
	cases := map[string]struct {
		tamper func(c *testCeremony)
		reason string
	}{
		"bad proof": {func(c *testCeremony) { c.deals[1].Proof = c.deals[0].Proof }, "bad-proof"},
		"too few commitments": {func(c *testCeremony) {
			c.deals[1].Commitments = c.deals[1].Commitments[:2]
		}, "wrong-t"},
		"too many commitments": {func(c *testCeremony) {
			c.deals[1].Commitments = append(c.deals[1].Commitments, elgamal.Generator())
		}, "wrong-t"},
		"too few shares": {func(c *testCeremony) {
			c.deals[1].EncryptedShares = c.deals[1].EncryptedShares[:4]
		}, "wrong-n"},
		"too many shares": {func(c *testCeremony) {
			c.deals[1].EncryptedShares = append(c.deals[1].EncryptedShares, c.deals[1].EncryptedShares[0])
		}, "wrong-n"},
		"wrong t and n": {func(c *testCeremony) { // t is looked at first
			c.deals[1].Commitments = c.deals[1].Commitments[:2]
			c.deals[1].EncryptedShares = c.deals[1].EncryptedShares[:4]
		}, "wrong-t"},
		"wrong n and proof": {func(c *testCeremony) { // then n, then the proof
			c.deals[1].EncryptedShares = c.deals[1].EncryptedShares[:4]
			c.deals[1].Proof = c.deals[0].Proof
		}, "wrong-n"},
		"no deal": {func(c *testCeremony) { c.deals = append(c.deals[:1], c.deals[2:]...) }, "no-deal"},
		"two deals": {func(c *testCeremony) {
			d := *c.deals[1]
			d.EncryptedShares = append([]EncryptedShare(nil), d.EncryptedShares...)
			d.EncryptedShares[0][50] ^= 1
			c.deals = append(c.deals, &d)
		}, "two-deals"},
		"other context": {func(c *testCeremony) {
			tr, _, _ := NewTrustee(nil, 2, 5, 3)
			anns := append([]*Announcement(nil), c.anns...)
			anns[1] = tr.Announcement()
			d, err := tr.Deal(nil, []byte("another election"), anns)
			if err != nil {
				panic(err)
			}
			c.deals[1] = d
		}, "bad-proof"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newCeremony(t, 5, 3)
			tc.tamper(c)
			c.verify(t)
			for _, x := range c.complaints {
				if x.Accused == 2 {
					t.Errorf("publicly bad deal drew a complaint: %+v", x)
				}
			}
			res, err := c.qualify()
			if err != nil {
				t.Fatal(err)
			}
			if r := disqualified(res, 2); r != tc.reason {
				t.Fatalf("dealer 2 reason = %q, want %q", r, tc.reason)
			}
			if fmt.Sprint(res.Qualified) != "[1 3 4 5]" {
				t.Fatalf("QUAL = %v", res.Qualified)
			}
			if name != "other context" { // there trustee 2's state was replaced
				c.finalize(t)
			}
		})
	}
}

func TestTooFewQualified(t *testing.T) {
	c := newCeremony(t, 5, 4)
	c.deals[0].Proof = c.deals[4].Proof
	c.sealBad(t, 3, 5, true)
	c.verify(t)
	_, err := c.qualify()
	var ce *CeremonyError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CeremonyError", err)
	}
	want := []Disqualification{{Dealer: 1, Fault: FaultBadProof}, {Dealer: 3, Fault: FaultUnanswered, Accusers: []int{5}}}
	if !slices.EqualFunc(ce.Disqualified, want, Disqualification.Equal) {
		t.Fatalf("disqualified = %v, want %v", ce.Disqualified, want)
	}
	for _, want := range []string{"trustee 1 published a proof of knowledge", "trustee 3 did not answer the complaints of trustees [5]", "threshold is 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, _, err := c.trustees[1].Finalize(c.anns, c.deals, c.complaints, c.answers); !errors.As(err, &ce) {
		t.Fatalf("trustee finalised a failed ceremony: %v", err)
	}
}

func TestContextBinding(t *testing.T) {
	c := newCeremony(t, 3, 2)
	// Every trustee verifying under another context: every share fails to
	// open, and every proof fails, so all deals are publicly bad.
	res, err := Qualify([]byte("other"), 3, 2, c.anns, c.deals, nil, nil)
	if err == nil {
		t.Fatalf("deals qualified under another context: %v", res.Qualified)
	}
	// A deal's share moved to another recipient does not open.
	c.deals[0].EncryptedShares[1] = c.deals[0].EncryptedShares[2]
	c.verify(t)
	if len(c.complaints) != 1 || c.complaints[0].Accuser != 2 || c.complaints[0].Reason != ReasonUndecryptable {
		t.Fatalf("complaints = %v", c.complaints)
	}
}

func TestBadInputs(t *testing.T) {
	c := newCeremony(t, 3, 2)
	for name, f := range map[string]func() error{
		"missing announcement": func() error { _, err := Qualify(c.ctx, 3, 2, c.anns[:2], c.deals, nil, nil); return err },
		"duplicate announcement": func() error {
			_, err := Qualify(c.ctx, 3, 2, []*Announcement{c.anns[0], c.anns[0], c.anns[2]}, c.deals, nil, nil)
			return err
		},
		"complaint out of range": func() error {
			_, err := Qualify(c.ctx, 3, 2, c.anns, c.deals, []*Complaint{{Accuser: 4, Accused: 1, Reason: 1}}, nil)
			return err
		},
		"answer out of range": func() error {
			_, err := Qualify(c.ctx, 3, 2, c.anns, c.deals, nil, []*Answer{{Dealer: 1, Recipient: 9, Share: scalarInt(1)}})
			return err
		},
		"t > n":   func() error { _, _, err := NewTrustee(nil, 1, 3, 4); return err },
		"t = 0":   func() error { _, _, err := NewTrustee(nil, 1, 3, 0); return err },
		"index 0": func() error { _, _, err := NewTrustee(nil, 0, 3, 2); return err },
		"n > 255": func() error { _, _, err := NewTrustee(nil, 1, 256, 2); return err },
		"redeal":  func() error { _, err := c.trustees[0].Deal(nil, []byte("other"), c.anns); return err },
		"wrong own announcement": func() error {
			tr, _, _ := NewTrustee(nil, 1, 3, 2)
			_, err := tr.Deal(nil, c.ctx, c.anns)
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Dealing again under the same context returns the same deal.
	d, err := c.trustees[0].Deal(nil, c.ctx, c.anns)
	if err != nil || !bytes.Equal(d.Marshal(), c.deals[0].Marshal()) {
		t.Fatalf("redeal under the same context: %v", err)
	}
}
