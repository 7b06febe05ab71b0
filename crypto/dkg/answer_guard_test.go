package dkg

import (
	"strings"
	"testing"
)

// TestAttackComplaintsToRevealSecret: t complaints against a dealer, if
// answered, would publish t points of its polynomial and so its secret
// constant term. The dealer refuses to answer and is disqualified instead;
// below t complaints it answers.
func TestAttackComplaintsToRevealSecret(t *testing.T) {
	c := newCeremony(t, 5, 3)
	dealer := c.trustees[0]
	// Trustees 2 and 3 complain (fewer than t = 3): answered.
	two := []*Complaint{{Accuser: 2, Accused: 1, Reason: 2}, {Accuser: 3, Accused: 1, Reason: 2}}
	as, err := dealer.Answer(two)
	if err != nil || len(as) != 2 {
		t.Fatalf("two complaints: %d answers, error %v", len(as), err)
	}
	// A third complaint makes t: no answer at all.
	three := append(two, &Complaint{Accuser: 4, Accused: 1, Reason: 2})
	as, err = dealer.Answer(three)
	if err == nil || len(as) != 0 || !strings.Contains(err.Error(), "publish its secret contribution") {
		t.Fatalf("t complaints: %d answers, error %v; want none and a refusal", len(as), err)
	}
	// And with no answers the dealer is disqualified, so its secret never
	// enters the election key.
	res, err := Qualify(c.ctx, 5, 3, c.anns, c.deals, three, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range res.Qualified {
		if q == 1 {
			t.Fatal("a dealer with t unanswered complaints qualified")
		}
	}
}
