package record

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/evote/evote/crypto/ceremony"
)

// Progress is where a key ceremony stands, from its messages alone: what
// each trustee has published and what is missing for an open entry that
// leaves no trustee behind. The board refuses to open while anything is
// missing unless told which trustees to go on without, naming them and
// what the election loses (SPEC.md §7, "Opening"); trustees and the
// election authority read it to know what the ceremony waits for (evote
// trustee status). Everyone who holds the same messages computes the same
// Progress.
type Progress struct {
	N, T     int
	Trustees []TrusteeProgress // [index-1]
	// Gaps is what is missing, by trustee ascending and, for one
	// trustee, in the order of the GapKinds.
	Gaps []Gap
	// Open is the open entry the messages decide now; nil when they
	// decide none, with the reason in Undecided.
	Open      *Open
	Undecided error
}

// TrusteeProgress is what one trustee has published.
type TrusteeProgress struct {
	Index     int  `json:"index"`
	Announced bool `json:"announced"`
	Dealt     bool `json:"dealt"`
	// Checked lists the dealers whose deals it has said it checked (its
	// checks together), Complained those it complained about, Accusers
	// the trustees who complained about its deal and Answered those of
	// them it answered; all ascending.
	Checked    []int `json:"checked"`
	Complained []int `json:"complained"`
	Accusers   []int `json:"accused_by"`
	Answered   []int `json:"answered"`
}

// A GapKind is what a trustee has not published.
type GapKind string

// The gaps, in the order a trustee's are listed.
const (
	// GapAnnouncement: no announcement. No key can be made at all: the
	// board cannot open, with or without the trustee.
	GapAnnouncement GapKind = "announcement"
	// GapDeal: no deal. The dealer is disqualified (no-deal) and its
	// part of the key left out, and it holds no share: a trustee's share
	// comes from the state it dealt with (crypto/dkg).
	GapDeal GapKind = "deal"
	// GapAnswer: complaints against its deal unanswered (Accusers). It is
	// disqualified (complaints-unanswered) unless it answers before open.
	GapAnswer GapKind = "answer"
	// GapFault: its deal has a fault no later message can mend (Fault:
	// wrong-t, wrong-n, bad-proof, bad-answer), so it is disqualified.
	GapFault GapKind = "fault"
	// GapCheck: it has not said it checked its shares of the deals of
	// Dealers, deals of no public fault that count; should one be bad, a
	// complaint after open is refused and the trustee holds no share.
	GapCheck GapKind = "check"
)

// A Gap is one thing a trustee has not published, or a fault of its deal.
type Gap struct {
	Trustee int     `json:"trustee"`
	Kind    GapKind `json:"missing"`
	// Dealers: for GapCheck, the deals not checked.
	Dealers []int `json:"dealers,omitempty"`
	// Accusers: for GapAnswer and a bad-answer GapFault, the trustees
	// whose complaints it has not (or wrongly) answered.
	Accusers []int          `json:"accusers,omitempty"`
	Fault    ceremony.Fault `json:"fault,omitempty"`
}

// Text says the gap in English, for people: in no record, and nothing
// should parse it.
func (g Gap) Text() string {
	who := fmt.Sprintf("trustee %d", g.Trustee)
	switch g.Kind {
	case GapAnnouncement:
		return who + " has not announced its key: no election key can be made without every trustee's announcement"
	case GapDeal:
		return who + " has not dealt: its part of the key would be left out, and it would hold no share"
	case GapAnswer:
		return fmt.Sprintf("%s has not answered the complaint of %s: it would be disqualified as a dealer, its part of the key left out", who, Names(g.Accusers))
	case GapFault:
		d := ceremony.Disqualification{Dealer: g.Trustee, Fault: g.Fault, Accusers: g.Accusers}
		return fmt.Sprintf("%s is disqualified as a dealer (it %s): its part of the key is left out", who, d.Text())
	case GapCheck:
		return fmt.Sprintf("%s has not checked its shares of the deals of %s: should one be bad, it would hold no share", who, Names(g.Dealers))
	}
	return fmt.Sprintf("%s is missing %q", who, string(g.Kind))
}

// Names writes trustee indices for people: "trustee 3", "trustees 1 and
// 2", "trustees 1, 2 and 4".
func Names(is []int) string {
	s := make([]string, len(is))
	for k, i := range is {
		s[k] = fmt.Sprint(i)
	}
	switch len(s) {
	case 0:
		return "no trustee"
	case 1:
		return "trustee " + s[0]
	}
	return "trustees " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// Progress reports where the ceremony stands (see [Progress]).
func (c *Ceremony) Progress() *Progress {
	n, t := c.m.Trustees.N, c.m.Trustees.T
	p := &Progress{N: n, T: t, Trustees: make([]TrusteeProgress, n)}
	for i := range p.Trustees {
		p.Trustees[i].Index = i + 1
	}
	at := func(i int) *TrusteeProgress { return &p.Trustees[i-1] }
	for _, a := range c.Anns {
		at(a.Index).Announced = true
	}
	deals := map[int]*ceremony.Deal{}
	for _, d := range c.Deals {
		at(d.Dealer).Dealt = true
		deals[d.Dealer] = d
	}
	for _, k := range c.Checks {
		at(k.Checker).Checked = union(at(k.Checker).Checked, k.Dealers)
	}
	for _, cm := range c.Complaints {
		at(cm.Accuser).Complained = union(at(cm.Accuser).Complained, []int{cm.Accused})
		at(cm.Accused).Accusers = union(at(cm.Accused).Accusers, []int{cm.Accuser})
	}
	answered := map[[2]int]bool{}
	for _, a := range c.Answers {
		answered[[2]int{a.Dealer, a.Recipient}] = true
	}
	for i := range p.Trustees {
		tp := &p.Trustees[i]
		for _, j := range tp.Accusers {
			if answered[[2]int{tp.Index, j}] {
				tp.Answered = append(tp.Answered, j)
			}
		}
	}

	// The faults are Qualify's whenever it can run, so that the board
	// never opens past a disqualification it did not name; with an
	// announcement missing it cannot, and the deals' faults are worked out
	// here, for people only (no open is possible then).
	ctx := CeremonyContext(c.m)
	var faults []ceremony.Disqualification
	if len(c.Anns) == n {
		p.Open, p.Undecided = c.Qualify()
		var ce *ceremony.CeremonyError
		switch {
		case p.Open != nil:
			faults = p.Open.Disqualified()
		case errors.As(p.Undecided, &ce):
			faults = ce.Disqualified
		}
	} else {
		var missing []int
		for _, tp := range p.Trustees {
			if !tp.Announced {
				missing = append(missing, tp.Index)
			}
		}
		p.Undecided = fmt.Errorf("record: %s announced no key, and every trustee's announcement is needed", Names(missing))
		for i := 1; i <= n; i++ {
			if d := deals[i]; d == nil {
				faults = append(faults, ceremony.Disqualification{Dealer: i, Fault: ceremony.FaultNoDeal})
			} else if f := ceremony.DealFault(ctx, d, n, t); f != "" {
				faults = append(faults, ceremony.Disqualification{Dealer: i, Fault: f})
			} else if un := without(at(i).Accusers, at(i).Answered); len(un) > 0 {
				faults = append(faults, ceremony.Disqualification{Dealer: i, Fault: ceremony.FaultUnanswered, Accusers: un})
			}
		}
	}
	// The deals whose shares count: every deal of no public fault (an
	// answer may yet save a dealer with complaints against it).
	var counted []int
	for i := 1; i <= n; i++ {
		if d := deals[i]; d != nil && ceremony.DealFault(ctx, d, n, t) == "" {
			counted = append(counted, i)
		}
	}
	for _, tp := range p.Trustees {
		i := tp.Index
		if !tp.Announced {
			p.Gaps = append(p.Gaps, Gap{Trustee: i, Kind: GapAnnouncement})
		}
		for _, f := range faults {
			switch {
			case f.Dealer != i:
			case f.Fault == ceremony.FaultNoDeal:
				p.Gaps = append(p.Gaps, Gap{Trustee: i, Kind: GapDeal})
			case f.Fault == ceremony.FaultUnanswered:
				p.Gaps = append(p.Gaps, Gap{Trustee: i, Kind: GapAnswer, Accusers: f.Accusers})
			default:
				p.Gaps = append(p.Gaps, Gap{Trustee: i, Kind: GapFault, Fault: f.Fault, Accusers: f.Accusers})
			}
		}
		if tp.Announced {
			if un := without(counted, union(tp.Checked, tp.Complained)); len(un) > 0 {
				p.Gaps = append(p.Gaps, Gap{Trustee: i, Kind: GapCheck, Dealers: un})
			}
		}
	}
	return p
}

// Missing returns the trustees with a gap, ascending.
func (p *Progress) Missing() []int {
	var out []int
	for _, g := range p.Gaps {
		if !slices.Contains(out, g.Trustee) {
			out = append(out, g.Trustee)
		}
	}
	return out
}

// Uncovered returns the trustees with a gap that are not in without: the
// ones an open going on without those would leave behind unnamed.
func (p *Progress) Uncovered(without []int) []int {
	var out []int
	for _, i := range p.Missing() {
		if !slices.Contains(without, i) {
			out = append(out, i)
		}
	}
	return out
}

// GapsText says every gap, for people, one after another.
func (p *Progress) GapsText() string {
	s := make([]string, len(p.Gaps))
	for i, g := range p.Gaps {
		s[i] = g.Text()
	}
	return strings.Join(s, "; ")
}

// Loss says what the election loses going on without the trustees with a
// gap (Missing): who must then decrypt, and how many more may be lost,
// counting each of them as holding no share, which for some is only a
// risk. It is "" when no one is missing.
func (p *Progress) Loss() string {
	out := p.Missing()
	if len(out) == 0 {
		return ""
	}
	var rest []int
	for i := 1; i <= p.N; i++ {
		if !slices.Contains(out, i) {
			rest = append(rest, i)
		}
	}
	s := fmt.Sprintf("without %s, ", Names(out))
	spare := len(rest) - p.T
	switch {
	case len(rest) == 0:
		return s + fmt.Sprintf("no trustee is left who surely holds a share: the election could be tallied only if %d of %s still hold theirs", p.T, Names(out))
	case spare < 0:
		return s + fmt.Sprintf("only %s would be left, fewer than the %d who must decrypt: the election could be tallied only if some of %s still hold their shares", Names(rest), p.T, Names(out))
	case spare == 0 && len(rest) == 1:
		return s + fmt.Sprintf("%s alone must decrypt; if it is lost the election cannot be tallied", Names(rest))
	case spare == 0:
		return s + fmt.Sprintf("all of %s must decrypt; one more lost and the election cannot be tallied", Names(rest))
	case spare == 1:
		return s + fmt.Sprintf("any %d of %s must decrypt; one more lost and they are all needed", p.T, Names(rest))
	}
	return s + fmt.Sprintf("any %d of %s must decrypt; %d more may be lost", p.T, Names(rest), spare)
}

// union returns the sorted union of a and b, each once.
func union(a, b []int) []int {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// without returns a's members not in b.
func without(a, b []int) []int {
	var out []int
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
