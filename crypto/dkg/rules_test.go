package dkg

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The rules of SPEC.md §7 that Qualify follows, each with an example it
// accepts and one it refuses or disqualifies.

// TestBothComplaintFaults: a dealer that leaves one complaint unanswered
// and answers another with a wrong share has two faults, unanswered first.
func TestBothComplaintFaults(t *testing.T) {
	c := newCeremony(t, 5, 3)
	c.complaints = []*Complaint{
		{Accuser: 5, Accused: 2, Reason: ReasonMismatch},
		{Accuser: 3, Accused: 2, Reason: ReasonUndecryptable},
		{Accuser: 1, Accused: 2, Reason: ReasonMismatch},
	}
	c.answers = []*Answer{{Dealer: 2, Recipient: 3, Share: scalarInt(7)}}
	res, err := c.qualify()
	if err != nil {
		t.Fatal(err)
	}
	want := []Disqualification{{Dealer: 2, Fault: FaultUnanswered, Accusers: []int{1, 5}}, {Dealer: 2, Fault: FaultBadAnswer, Accusers: []int{3}}}
	if !slices.EqualFunc(res.Disqualified, want, Disqualification.Equal) {
		t.Fatalf("disqualified %v, want %v", res.Disqualified, want)
	}
	if got := res.Disqualified[0].String(); got != "trustee 2 did not answer the complaints of trustees [1 5]" {
		t.Errorf("text %q", got)
	}
	if fmt.Sprint(res.Qualified) != "[1 3 4 5]" {
		t.Errorf("QUAL = %v", res.Qualified)
	}
}

// TestManyComplaintsAllAnswered: Qualify does not count complaints. A
// dealer that answers t or more complaints, each with its valid share,
// qualifies (an evote trustee would not answer them, TestAttackComplaints
// ToRevealSecret, but a dealer that publishes its own polynomial harms no
// one else). A complaint is settled by its answer, whatever its reason.
func TestManyComplaintsAllAnswered(t *testing.T) {
	c := newCeremony(t, 5, 3)
	c.verify(t)
	dealer := c.trustees[0]
	for _, j := range []int{2, 3, 4, 5} {
		c.complaints = append(c.complaints, &Complaint{Accuser: j, Accused: 1, Reason: ReasonUndecryptable + j%2})
		c.answers = append(c.answers, &Answer{Dealer: 1, Recipient: j, Share: evalPoly(dealer.coeffs, j)})
	}
	res, err := c.qualify()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Qualified) != 5 || len(res.Disqualified) != 0 {
		t.Fatalf("QUAL = %v, disqualified %v; a dealer answering all its complaints must qualify", res.Qualified, res.Disqualified)
	}
	// One answer missing: disqualified, naming that accuser only.
	res, err = Qualify(c.ctx, 5, 3, c.anns, c.deals, c.complaints, c.answers[1:])
	if err != nil {
		t.Fatal(err)
	}
	if disqualified(res, 1) != "complaints-unanswered [2]" {
		t.Fatalf("disqualified %v", res.Disqualified)
	}
}

// TestSelfComplaint: a trustee may complain about its own deal. It is a
// complaint like any other: unanswered it disqualifies the dealer, and the
// dealer's answer (Trustee.Answer gives it) settles it.
func TestSelfComplaint(t *testing.T) {
	c := newCeremony(t, 3, 2)
	c.verify(t)
	c.complaints = []*Complaint{{Accuser: 2, Accused: 2, Reason: ReasonMismatch}}
	res, err := c.qualify()
	if err != nil {
		t.Fatal(err)
	}
	if disqualified(res, 2) != "complaints-unanswered [2]" {
		t.Fatalf("an unanswered self-complaint: disqualified %v", res.Disqualified)
	}
	c.answer(t, 2)
	if len(c.answers) != 1 || c.answers[0].Recipient != 2 {
		t.Fatalf("answers to a self-complaint: %v", c.answers)
	}
	if res, _ := c.finalize(t); len(res.Qualified) != 3 {
		t.Fatalf("an answered self-complaint: disqualified %v", res.Disqualified)
	}
}

// TestAnswerWithoutComplaint: Qualify ignores an answer no complaint asked
// for, even one whose share is wrong.
func TestAnswerWithoutComplaint(t *testing.T) {
	c := newCeremony(t, 3, 2)
	c.verify(t)
	plain, err := c.qualify()
	if err != nil {
		t.Fatal(err)
	}
	c.answers = []*Answer{{Dealer: 1, Recipient: 2, Share: scalarInt(1)}, {Dealer: 3, Recipient: 3, Share: evalPoly(c.trustees[2].coeffs, 3)}}
	res, _ := c.finalize(t)
	if len(res.Qualified) != 3 || !bytes.Equal(res.ElectionKey.Bytes(), plain.ElectionKey.Bytes()) {
		t.Fatalf("unasked answers changed the outcome: QUAL %v, disqualified %v", res.Qualified, res.Disqualified)
	}
}

// TestComplaintReasons: a complaint's reason is 1 (the share does not
// open) or 2 (it opens to a scalar that fails the commitments); Qualify
// treats both alike, and any other byte does not parse.
func TestComplaintReasons(t *testing.T) {
	c := newCeremony(t, 3, 2)
	var keys []string
	for _, r := range []int{ReasonUndecryptable, ReasonMismatch} {
		b := (&Complaint{Accuser: 1, Accused: 3, Reason: r}).Marshal()
		cm, err := ParseComplaint(b)
		if err != nil || cm.Reason != r {
			t.Fatalf("reason %d: %v", r, err)
		}
		res, err := Qualify(c.ctx, 3, 2, c.anns, c.deals, []*Complaint{cm}, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, disqualified(res, 3)+" "+hex.EncodeToString(res.ElectionKey.Bytes()))
	}
	if keys[0] != keys[1] || !strings.HasPrefix(keys[0], "complaints-unanswered [1] ") {
		t.Fatalf("reasons 1 and 2 decide %q", keys)
	}
	for _, r := range []byte{0, 3, 4, 0x80, 0xff} {
		if _, err := ParseComplaint([]byte{1, 3, 1, 3, r}); err == nil || !strings.Contains(err.Error(), "unknown reason") {
			t.Errorf("reason %d: %v", r, err)
		}
	}
}

// TestMessageOrder: Qualify is a function of the set of messages, not of
// their order: any order of announcements, deals, complaints and answers
// (an answer before its complaint, a complaint before the deal it accuses)
// decides the same.
func TestMessageOrder(t *testing.T) {
	c := newCeremony(t, 5, 3)
	c.sealBad(t, 2, 4, false)
	c.sealBad(t, 5, 1, true)
	c.verify(t)
	c.answer(t, 2)
	c.complaints = append(c.complaints, &Complaint{Accuser: 3, Accused: 1, Reason: ReasonMismatch})
	want, err := c.qualify()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(want.Qualified) != "[2 3 4]" {
		t.Fatalf("QUAL = %v, disqualified %v", want.Qualified, want.Disqualified)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		anns, deals, cs, as := slices.Clone(c.anns), slices.Clone(c.deals), slices.Clone(c.complaints), slices.Clone(c.answers)
		r.Shuffle(len(anns), func(i, j int) { anns[i], anns[j] = anns[j], anns[i] })
		r.Shuffle(len(deals), func(i, j int) { deals[i], deals[j] = deals[j], deals[i] })
		r.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
		r.Shuffle(len(as), func(i, j int) { as[i], as[j] = as[j], as[i] })
		got, err := Qualify(c.ctx, 5, 3, anns, deals, cs, as)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Qualified, want.Qualified) || !slices.EqualFunc(got.Disqualified, want.Disqualified, Disqualification.Equal) ||
			!bytes.Equal(got.ElectionKey.Bytes(), want.ElectionKey.Bytes()) {
			t.Fatalf("another order decides QUAL %v, disqualified %v", got.Qualified, got.Disqualified)
		}
	}
}
