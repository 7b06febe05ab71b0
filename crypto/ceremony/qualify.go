package ceremony

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

// Result is the public outcome of a ceremony, the same for everyone who runs
// Qualify on the same messages.
type Result struct {
	N, T int
	// ElectionKey is h = Π_{i∈QUAL} Cᵢ,₀.
	ElectionKey *elgamal.PublicKey
	// VerificationKeys[j-1] is trustee j's VKⱼ = g^sⱼ, for j = 1..n.
	VerificationKeys []*elgamal.PublicKey
	// Qualified lists the dealers in QUAL, ascending.
	Qualified []int
	// Disqualified lists the faults of the other dealers, by dealer
	// ascending and, for one dealer, in the order of the Fault constants.
	Disqualified []Disqualification

	deals    map[int]*Deal
	answered map[[2]int]*ristretto255.Scalar // (dealer, recipient) → valid revealed share
}

// Deal returns the deal of dealer i if i is in QUAL, or nil.
func (r *Result) Deal(i int) *Deal { return r.deals[i] }

// AnsweredShare returns the share dealer i revealed to trustee j in an
// answer that settled j's complaint against i (it matches i's
// commitments), or nil if there is none: no complaint, or i not in QUAL.
// A trustee takes such a share from the answer rather than from its
// sealed copy (crypto/dkg's Trustee.Finalize).
func (r *Result) AnsweredShare(i, j int) *ristretto255.Scalar {
	if s := r.answered[[2]int{i, j}]; s != nil {
		return ristretto255.NewScalar().Set(s)
	}
	return nil
}

// VerificationKey returns trustee j's verification key, or nil if j is not
// in 1..n.
func (r *Result) VerificationKey(j int) *elgamal.PublicKey {
	if j < 1 || j > len(r.VerificationKeys) {
		return nil
	}
	return r.VerificationKeys[j-1]
}

// Fault is why Qualify leaves a dealer out of QUAL. Its value is a short,
// fixed, lower-case code: it is written into the open entry (SPEC.md §7),
// so every implementation must produce the same one, and callers compare
// faults, never the sentence Disqualification.Text makes of one.
type Fault string

// The faults, in the order Qualify looks for them. A dealer gets at most
// one of the first five (the first that applies); only a deal with none of
// them has its complaints examined, and it may then get either or both of
// the last two.
const (
	// FaultNoDeal: the dealer published no deal.
	FaultNoDeal Fault = "no-deal"
	// FaultTwoDeals: the dealer published two different deals. A record
	// refuses a dealer's second deal outright, so this fault never appears
	// in an open entry; it arises only when Qualify is given both.
	FaultTwoDeals Fault = "two-deals"
	// FaultWrongT: the deal's number of commitments (its t byte) is not
	// the ceremony's threshold t.
	FaultWrongT Fault = "wrong-t"
	// FaultWrongN: the deal's number of sealed shares (its n byte) is not
	// the ceremony's number of trustees n.
	FaultWrongN Fault = "wrong-n"
	// FaultBadProof: the Schnorr proof of knowledge of C₀ does not verify
	// under this dealer's proof context.
	FaultBadProof Fault = "bad-proof"
	// FaultUnanswered: complaints against the dealer have no answer; the
	// Accusers are the trustees who made them.
	FaultUnanswered Fault = "complaints-unanswered"
	// FaultBadAnswer: complaints against the dealer were answered only with
	// shares that do not match its commitments; the Accusers are the
	// trustees who made them.
	FaultBadAnswer Fault = "bad-answer"
)

var faultOrder = map[Fault]int{
	FaultNoDeal: 1, FaultTwoDeals: 2, FaultWrongT: 3, FaultWrongN: 4, FaultBadProof: 5, FaultUnanswered: 6, FaultBadAnswer: 7,
}

// Valid reports whether f is one of the faults above.
func (f Fault) Valid() bool { return faultOrder[f] != 0 }

// HasAccusers reports whether a disqualification for f names the accusers
// (FaultUnanswered and FaultBadAnswer), and so must list at least one.
func (f Fault) HasAccusers() bool { return f == FaultUnanswered || f == FaultBadAnswer }

// Disqualification is one fault of a dealer left out of QUAL. A dealer has
// one Disqualification, or two when it both left complaints unanswered and
// answered others wrongly.
type Disqualification struct {
	Dealer int
	Fault  Fault
	// Accusers lists, ascending, the trustees whose complaints the fault is
	// about (FaultUnanswered, FaultBadAnswer); nil for the other faults.
	Accusers []int
}

// Text is the fault as an English phrase for people, such as "did not
// answer the complaints of trustees [4 5]". It is for printing only: it is
// in no record, and nothing should parse it.
func (d Disqualification) Text() string {
	switch d.Fault {
	case FaultNoDeal:
		return "published no deal"
	case FaultTwoDeals:
		return "published two different deals"
	case FaultWrongT:
		return "dealt a number of commitments that is not the threshold t"
	case FaultWrongN:
		return "dealt a number of sealed shares that is not the number of trustees n"
	case FaultBadProof:
		return "published a proof of knowledge of its constant term that does not verify (wrong proof, context or dealer)"
	case FaultUnanswered:
		return fmt.Sprintf("did not answer the complaints of trustees %v", d.Accusers)
	case FaultBadAnswer:
		return fmt.Sprintf("answered the complaints of trustees %v with shares that do not match its commitments", d.Accusers)
	}
	return fmt.Sprintf("has the unknown fault %q", string(d.Fault))
}

func (d Disqualification) String() string { return fmt.Sprintf("trustee %d %s", d.Dealer, d.Text()) }

// Equal reports whether d and o are the same fault of the same dealer
// about the same accusers.
func (d Disqualification) Equal(o Disqualification) bool {
	return d.Dealer == o.Dealer && d.Fault == o.Fault && slices.Equal(d.Accusers, o.Accusers)
}

// CeremonyError is returned by Qualify when fewer than t dealers qualify:
// the election key cannot be made. Disqualified names each culprit; the
// ceremony must be run again without them (or with them replaced).
type CeremonyError struct {
	N, T         int
	Qualified    []int
	Disqualified []Disqualification
}

func (e *CeremonyError) Error() string {
	parts := make([]string, len(e.Disqualified))
	for i, d := range e.Disqualified {
		parts[i] = d.String()
	}
	return fmt.Sprintf("dkg: ceremony failed: only %d of %d dealers qualified, the threshold is %d; disqualified: %s; rerun the ceremony without them",
		len(e.Qualified), e.N, e.T, strings.Join(parts, "; "))
}

// CheckParams returns an error unless 1 <= t <= n <= MaxTrustees.
func CheckParams(n, t int) error {
	if n < 1 || n > MaxTrustees {
		return fmt.Errorf("dkg: %d trustees, want 1..%d", n, MaxTrustees)
	}
	if t < 1 || t > n {
		return fmt.Errorf("dkg: threshold %d, want 1..n = 1..%d", t, n)
	}
	return nil
}

// SortAnnouncements requires exactly one announcement per index 1..n and
// returns them ordered by index.
func SortAnnouncements(anns []*Announcement, n int) ([]*Announcement, error) {
	if len(anns) != n {
		return nil, fmt.Errorf("dkg: %d announcements, want one from each of the %d trustees", len(anns), n)
	}
	out := make([]*Announcement, n)
	for _, a := range anns {
		if a.Index < 1 || a.Index > n {
			return nil, fmt.Errorf("dkg: announcement from trustee %d, but the ceremony has trustees 1..%d", a.Index, n)
		}
		if out[a.Index-1] != nil {
			return nil, fmt.Errorf("dkg: two announcements from trustee %d; keep the one it really published", a.Index)
		}
		out[a.Index-1] = a
	}
	return out, nil
}

func checkRange(what string, i, n int) error {
	if i < 1 || i > n {
		return fmt.Errorf("dkg: %s names trustee %d, but the ceremony has trustees 1..%d; drop it", what, i, n)
	}
	return nil
}

// indexDeals maps each dealer to its deal; a dealer with two different
// encodings is reported as equivocating.
func indexDeals(deals []*Deal, n int) (map[int]*Deal, map[int]bool, error) {
	by := make(map[int]*Deal, len(deals))
	enc := make(map[int][]byte, len(deals))
	equivocal := map[int]bool{}
	for _, d := range deals {
		if err := checkRange("a deal", d.Dealer, n); err != nil {
			return nil, nil, err
		}
		if d.Proof == nil || d.Commitments == nil || containsNil(d.Commitments) {
			return nil, nil, fmt.Errorf("dkg: the deal of trustee %d has missing fields; decode deals with ParseDeal", d.Dealer)
		}
		e := d.Marshal()
		if prev, ok := enc[d.Dealer]; ok {
			if !bytes.Equal(prev, e) {
				equivocal[d.Dealer] = true
			}
			continue
		}
		by[d.Dealer], enc[d.Dealer] = d, e
	}
	return by, equivocal, nil
}

// DealFault returns the first fault of a deal that everyone can see
// (FaultWrongT, FaultWrongN, FaultBadProof), or "" if it has none. A deal
// with such a fault is disqualified without complaints, so a trustee
// checking its shares skips it.
func DealFault(context []byte, d *Deal, n, t int) Fault {
	if len(d.Commitments) != t {
		return FaultWrongT
	}
	if len(d.EncryptedShares) != n {
		return FaultWrongN
	}
	c0, err := elgamal.NewPublicKey(d.Commitments[0])
	if err != nil || d.Proof == nil || zkp.VerifySchnorr(ProofContext(context, d.Dealer, n, t), c0, d.Proof) != nil {
		return FaultBadProof
	}
	return ""
}

// Qualify decides the ceremony from its public messages: which dealers
// qualify, the election key and every trustee's verification key. It is
// deterministic, so every trustee and verifier gets the same Result. It
// returns a *CeremonyError when fewer than t dealers qualify, and another
// error when the inputs are not a ceremony's (wrong announcements, indices
// outside 1..n).
func Qualify(context []byte, n, t int, anns []*Announcement, deals []*Deal, complaints []*Complaint, answers []*Answer) (*Result, error) {
	if err := CheckParams(n, t); err != nil {
		return nil, err
	}
	if _, err := SortAnnouncements(anns, n); err != nil {
		return nil, err
	}
	byDealer, equivocal, err := indexDeals(deals, n)
	if err != nil {
		return nil, err
	}
	accusers := map[int]map[int]bool{} // accused → set of accusers
	for _, c := range complaints {
		if err := checkRange("a complaint's accuser", c.Accuser, n); err != nil {
			return nil, err
		}
		if err := checkRange("a complaint's accused", c.Accused, n); err != nil {
			return nil, err
		}
		if accusers[c.Accused] == nil {
			accusers[c.Accused] = map[int]bool{}
		}
		accusers[c.Accused][c.Accuser] = true
	}
	type pair = [2]int
	given := map[pair][]*ristretto255.Scalar{}
	for _, a := range answers {
		if err := checkRange("an answer's dealer", a.Dealer, n); err != nil {
			return nil, err
		}
		if err := checkRange("an answer's recipient", a.Recipient, n); err != nil {
			return nil, err
		}
		p := pair{a.Dealer, a.Recipient}
		given[p] = append(given[p], a.Share)
	}

	res := &Result{N: n, T: t, deals: map[int]*Deal{}, answered: map[pair]*ristretto255.Scalar{}}
	for i := 1; i <= n; i++ {
		d, ok := byDealer[i]
		var fault Fault
		switch {
		case !ok:
			fault = FaultNoDeal
		case equivocal[i]:
			fault = FaultTwoDeals
		default:
			fault = DealFault(context, d, n, t)
		}
		if fault != "" {
			res.Disqualified = append(res.Disqualified, Disqualification{Dealer: i, Fault: fault})
			continue
		}
		// Complaints are examined only for a deal with no public fault.
		// Their number does not matter: a dealer that answers every one
		// with a valid share qualifies (crypto/dkg's Trustee.Answer
		// chooses not to answer t or more, and so is disqualified instead).
		var unanswered, wrong []int
		for _, j := range sortedKeys(accusers[i]) {
			shares := given[pair{i, j}]
			if len(shares) == 0 {
				unanswered = append(unanswered, j)
				continue
			}
			var valid *ristretto255.Scalar
			for _, s := range shares {
				if ShareMatches(d.Commitments, j, s) {
					valid = s
					break
				}
			}
			if valid == nil {
				wrong = append(wrong, j)
				continue
			}
			res.answered[pair{i, j}] = valid
		}
		if len(unanswered) > 0 {
			res.Disqualified = append(res.Disqualified, Disqualification{Dealer: i, Fault: FaultUnanswered, Accusers: unanswered})
		}
		if len(wrong) > 0 {
			res.Disqualified = append(res.Disqualified, Disqualification{Dealer: i, Fault: FaultBadAnswer, Accusers: wrong})
		}
		if len(unanswered)+len(wrong) > 0 {
			continue
		}
		res.Qualified = append(res.Qualified, i)
		res.deals[i] = d
	}
	if len(res.Qualified) < t {
		return nil, &CeremonyError{N: n, T: t, Qualified: res.Qualified, Disqualified: res.Disqualified}
	}

	// A_k = Σ_{i∈QUAL} C_{i,k}; then h = A_0 and VK_j = Σ_k j^k·A_k.
	agg := make([]*ristretto255.Element, t)
	for k := range agg {
		agg[k] = ristretto255.NewIdentityElement()
		for _, i := range res.Qualified {
			agg[k].Add(agg[k], res.deals[i].Commitments[k])
		}
	}
	if res.ElectionKey, err = elgamal.NewPublicKey(agg[0]); err != nil {
		return nil, fmt.Errorf("dkg: election key: %w; rerun the ceremony", err)
	}
	res.VerificationKeys = make([]*elgamal.PublicKey, n)
	for j := 1; j <= n; j++ {
		if res.VerificationKeys[j-1], err = elgamal.NewPublicKey(evalCommitments(agg, j)); err != nil {
			return nil, fmt.Errorf("dkg: verification key of trustee %d: %w; rerun the ceremony", j, err)
		}
	}
	return res, nil
}

func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func containsNil(cs []*ristretto255.Element) bool {
	for _, c := range cs {
		if c == nil {
			return true
		}
	}
	return false
}
