package record_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
)

// progressOf is the Progress of the ceremony entries es.
func progressOf(t *testing.T, c *ceremony, es [][]byte) *record.Progress {
	t.Helper()
	cer := record.NewCeremony(c.m)
	for k, b := range es {
		if err := cer.Add(b); err != nil {
			t.Fatalf("entry %d: %v", k, err)
		}
	}
	return cer.Progress()
}

func (c *ceremony) check(checker int, dealers ...int) []byte {
	return c.sign(checker, record.KindCheck, (&dkg.Check{Checker: checker, Dealers: dealers}).Marshal())
}

// TestProgress: what a ceremony of 5 trustees, threshold 2, waits for,
// gap by gap, and what opening without those trustees loses; with every
// message, nothing.
func TestProgress(t *testing.T) {
	c := newCeremony(t, electiontest.Options{N: 5, T: 2})
	c.deals[3].Proof = c.deals[0].Proof // trustee 4's deal has another's proof
	es := c.entries(1, 2, 3, 4)         // trustee 5 has not dealt
	es = append(es, c.check(1, 1, 2, 3, 4), c.check(2, 1, 2), c.check(3, 1, 2, 3, 4, 5), c.check(4, 1, 2, 3))
	es = append(es, c.sign(5, record.KindComplaint, complaint(5, 2, dkg.ReasonMismatch)))
	p := progressOf(t, c, es)
	if p.Open == nil {
		t.Fatalf("undecided: %v", p.Undecided)
	}
	type gap struct {
		trustee int
		kind    record.GapKind
		others  []int
	}
	var got []gap
	for _, g := range p.Gaps {
		got = append(got, gap{g.Trustee, g.Kind, slices.Concat(g.Dealers, g.Accusers)})
	}
	want := []gap{
		{2, record.GapAnswer, []int{5}},
		{2, record.GapCheck, []int{3}},
		{4, record.GapFault, nil},
		{5, record.GapDeal, nil},
		{5, record.GapCheck, []int{1, 3}}, // 2 it complained about; 4's deal counts for no one
	}
	if !slices.EqualFunc(got, want, func(a, b gap) bool {
		return a.trustee == b.trustee && a.kind == b.kind && slices.Equal(a.others, b.others)
	}) {
		t.Fatalf("gaps\n%+v\nwant\n%+v", got, want)
	}
	if !slices.Equal(p.Missing(), []int{2, 4, 5}) || !slices.Equal(p.Uncovered([]int{4, 1}), []int{2, 5}) {
		t.Fatalf("missing %v, uncovered %v", p.Missing(), p.Uncovered([]int{4, 1}))
	}
	for _, w := range []string{
		"trustee 2 has not answered the complaint of trustee 5: it would be disqualified as a dealer",
		"trustee 4 is disqualified as a dealer (it published a proof of knowledge of its constant term that does not verify",
		"trustee 5 has not dealt", "trustee 5 has not checked its shares of the deals of trustees 1 and 3",
	} {
		if !strings.Contains(p.GapsText(), w) {
			t.Errorf("%q does not say %q", p.GapsText(), w)
		}
	}
	if got, want := p.Loss(), "without trustees 2, 4 and 5, all of trustees 1 and 3 must decrypt; one more lost and the election cannot be tallied"; got != want {
		t.Errorf("loss %q\nwant %q", got, want)
	}
	if tp := p.Trustees[1]; !tp.Announced || !tp.Dealt || !slices.Equal(tp.Checked, []int{1, 2}) || !slices.Equal(tp.Accusers, []int{5}) || tp.Answered != nil {
		t.Errorf("trustee 2: %+v", tp)
	}

	// A second check by trustee 2, after trustee 3's deal, and the rest.
	es = append(c.entries(1, 2, 3, 4, 5), c.check(2, 1, 2), c.check(2, 1, 2, 3, 4, 5))
	for i := 1; i <= 5; i++ {
		if i != 2 {
			es = append(es, c.check(i, 1, 2, 3, 4, 5))
		}
	}
	if p := progressOf(t, c, es); len(p.Gaps) != 1 || p.Gaps[0].Trustee != 4 || p.Loss() != "without trustee 4, any 2 of trustees 1, 2, 3 and 5 must decrypt; 2 more may be lost" {
		t.Fatalf("gaps %+v, loss %q", p.Gaps, p.Loss())
	}
	// Two checks by one trustee naming as many dealers are a repeat.
	cer := record.NewCeremony(c.m)
	if err := cer.Add(c.check(2, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := cer.Add(c.check(2, 1, 3)); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Fatalf("a second check of two deals: %v", err)
	}
	if err := cer.Add(c.check(3, 1, 6)); err == nil || !strings.Contains(err.Error(), "the election has 1 to 5") {
		t.Fatalf("a check of trustee 6's deal: %v", err)
	}

	// 2 of 3, only trustee 1 has checked: one left where two must decrypt.
	c = newCeremony(t, electiontest.Options{})
	p = progressOf(t, c, append(c.entries(1, 2, 3), c.check(1, 1, 2, 3)))
	if got, want := p.Loss(), "without trustees 2 and 3, only trustee 1 would be left, fewer than the 2 who must decrypt: the election could be tallied only if some of trustees 2 and 3 still hold their shares"; got != want {
		t.Errorf("loss %q\nwant %q", got, want)
	}
}

// TestProgressUndecided: with an announcement missing no key can be made,
// and Progress says who, with the deals' gaps as they stand.
func TestProgressUndecided(t *testing.T) {
	c := newCeremony(t, electiontest.Options{})
	es := c.entries()[1:] // no announcement from trustee 1
	es = append(es, c.sign(1, record.KindDeal, c.deals[0].Marshal()))
	p := progressOf(t, c, es)
	if p.Open != nil || p.Undecided == nil || !strings.Contains(p.Undecided.Error(), "trustee 1 announced no key") {
		t.Fatalf("open %v, undecided %v", p.Open, p.Undecided)
	}
	if g := p.Gaps; len(g) != 5 || g[0].Kind != record.GapAnnouncement || g[1].Kind != record.GapDeal || g[1].Trustee != 2 ||
		g[2].Kind != record.GapCheck || !slices.Equal(g[2].Dealers, []int{1}) || g[3].Trustee != 3 {
		t.Fatalf("gaps %+v", g)
	}
	if got, want := p.Loss(), "without trustees 1, 2 and 3, no trustee is left who surely holds a share: the election could be tallied only if 2 of trustees 1, 2 and 3 still hold theirs"; got != want {
		t.Errorf("loss %q\nwant %q", got, want)
	}
}

// TestNames: trustees named for people.
func TestNames(t *testing.T) {
	for _, tc := range []struct {
		is   []int
		want string
	}{{nil, "no trustee"}, {[]int{3}, "trustee 3"}, {[]int{1, 2}, "trustees 1 and 2"}, {[]int{1, 2, 4}, "trustees 1, 2 and 4"}} {
		if got := record.Names(tc.is); got != tc.want {
			t.Errorf("Names(%v) = %q, want %q", tc.is, got, tc.want)
		}
	}
}
