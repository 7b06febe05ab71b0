// Package tally turns the counted ballots of a closed election into its
// result without ever decrypting a ballot and without anyone holding the
// election's secret key.
//
// Aggregate multiplies, choice by choice, the ciphertexts of every counted
// ballot: by the homomorphism the product encrypts the choice's count. Each
// trustee decrypts only these products with its key share (Decrypt), proving
// each partial decryption correct against its verification key; any t valid
// shares combine into g^count by Lagrange interpolation in the exponent
// (Combine), and the count is the bounded discrete log of that. Choices that
// the ballot shape leaves implied (the last choice of a min == max question)
// are counted as min·N minus the others. A product whose first component is
// the identity (randomness that sums to zero) is g^count already: its
// partials are the trivial ones of package threshold, with no proof.
//
// Everything here is deterministic in public data, so the board, a trustee
// and an outside verifier compute the same aggregate and the same result.
package tally

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/threshold"
	"github.com/evote/evote/internal/strictjson"
	"github.com/gtank/ristretto255"
)

// Aggregator accumulates counted ballots. It is not safe for concurrent use.
type Aggregator struct {
	e    *ballot.Election
	n    uint64
	a, b [][]*ristretto255.Element
}

// NewAggregator returns an empty aggregate for e.
func NewAggregator(e *ballot.Election) *Aggregator {
	ag := &Aggregator{e: e}
	for _, q := range e.Manifest.Questions {
		as := make([]*ristretto255.Element, q.Encrypted())
		bs := make([]*ristretto255.Element, q.Encrypted())
		for i := range as {
			as[i], bs[i] = ristretto255.NewIdentityElement(), ristretto255.NewIdentityElement()
		}
		ag.a, ag.b = append(ag.a, as), append(ag.b, bs)
	}
	return ag
}

// Add counts a verified ballot. The caller decides which ballots count
// (under the last-ballot-counts policy, only each token's last one).
func (ag *Aggregator) Add(b *ballot.Ballot) {
	cts := make([][]*elgamal.Ciphertext, len(b.Questions))
	for qi, q := range b.Questions {
		cts[qi] = q.Choices
	}
	ag.AddCiphertexts(cts)
}

// AddCiphertexts counts a verified ballot given by its ciphertexts
// (ballot.Ciphertexts), question by question.
func (ag *Aggregator) AddCiphertexts(cts [][]*elgamal.Ciphertext) {
	ag.n++
	for qi, q := range cts {
		for ci, ct := range q {
			ag.a[qi][ci].Add(ag.a[qi][ci], ct.A())
			ag.b[qi][ci].Add(ag.b[qi][ci], ct.B())
		}
	}
}

// Merge adds the ballots counted by o, an aggregator of the same election
// (for aggregating on several cores at once).
func (ag *Aggregator) Merge(o *Aggregator) {
	ag.n += o.n
	for qi := range ag.a {
		for ci := range ag.a[qi] {
			ag.a[qi][ci].Add(ag.a[qi][ci], o.a[qi][ci])
			ag.b[qi][ci].Add(ag.b[qi][ci], o.b[qi][ci])
		}
	}
}

// Aggregate is the per-choice product of the counted ballots.
type Aggregate struct {
	Ballots   uint64
	Questions [][]*elgamal.Ciphertext // [question][encrypted choice]
}

// Aggregate returns the aggregate so far.
func (ag *Aggregator) Aggregate() *Aggregate {
	out := &Aggregate{Ballots: ag.n}
	for qi := range ag.a {
		var cts []*elgamal.Ciphertext
		for ci := range ag.a[qi] {
			cts = append(cts, elgamal.NewCiphertext(ag.a[qi][ci], ag.b[qi][ci]))
		}
		out.Questions = append(out.Questions, cts)
	}
	return out
}

// context binds a partial decryption to its election and position.
func context(e *ballot.Election, ballots uint64, q, c int) []byte {
	h := e.Manifest.Hash()
	ctx := make([]byte, 0, 20+32+32+16)
	ctx = append(ctx, "evote/tally/v1\x00"...)
	ctx = append(ctx, h[:]...)
	ctx = append(ctx, e.Key.Bytes()...)
	ctx = binary.BigEndian.AppendUint64(ctx, ballots)
	ctx = binary.BigEndian.AppendUint32(ctx, uint32(q))
	return binary.BigEndian.AppendUint32(ctx, uint32(c))
}

func (agg *Aggregate) flatten(e *ballot.Election) (ctxs [][]byte, cts []*elgamal.Ciphertext) {
	for qi, q := range agg.Questions {
		for ci, ct := range q {
			ctxs = append(ctxs, context(e, agg.Ballots, qi, ci))
			cts = append(cts, ct)
		}
	}
	return ctxs, cts
}

// Partial is one trustee's partial decryption of a whole aggregate: one
// partial per encrypted choice, in manifest order.
type Partial struct {
	Trustee  int
	Partials []*threshold.Partial
}

// ErrNothingToDecrypt means the aggregate counts no ballot: every count is
// zero, the result names no trustee, and no partial decryption is made or
// accepted (SPEC.md §9).
var ErrNothingToDecrypt = errors.New("tally: no ballot was counted, so there is nothing to decrypt: every count is 0 and the result names no trustee")

// Decrypt is trustee index's partial decryption of agg, with proofs.
// share is the trustee's secret key share and vk its verification key. An
// aggregate ciphertext whose first component is the identity (randomness
// that sums to zero) gets the trivial partial, with no proof (package
// threshold); an aggregate of no ballots gets no partial decryption at all.
func Decrypt(e *ballot.Election, agg *Aggregate, index int, share *ristretto255.Scalar, vk *elgamal.PublicKey) (*Partial, error) {
	if agg.Ballots == 0 {
		return nil, ErrNothingToDecrypt
	}
	ctxs, cts := agg.flatten(e)
	ps, err := threshold.PartialDecryptBatch(nil, ctxs, index, share, vk, cts)
	if err != nil {
		return nil, err
	}
	return &Partial{Trustee: index, Partials: ps}, nil
}

// Bytes encodes the partial decryption as the body of a partial entry: the trustee index
// (one byte) followed by each partial's encoding.
func (s *Partial) Bytes() []byte {
	out := []byte{byte(s.Trustee)}
	for _, p := range s.Partials {
		out = append(out, p.Marshal()...)
	}
	return out
}

// ParsePartial decodes a partial entry's body for election e.
func ParsePartial(e *ballot.Election, body []byte) (*Partial, error) {
	n := 0
	for _, q := range e.Manifest.Questions {
		n += q.Encrypted()
	}
	if len(body) != 1+n*threshold.PartialSize {
		return nil, fmt.Errorf("tally: partial decryption entry is %d bytes, want %d (%d choices)", len(body), 1+n*threshold.PartialSize, n)
	}
	s := &Partial{Trustee: int(body[0])}
	if s.Trustee < 1 || s.Trustee > e.Manifest.Trustees.N {
		return nil, fmt.Errorf("tally: partial decryption from trustee %d, the election has trustees 1 to %d", s.Trustee, e.Manifest.Trustees.N)
	}
	for i := 0; i < n; i++ {
		p, err := threshold.ParsePartial(body[1+i*threshold.PartialSize : 1+(i+1)*threshold.PartialSize])
		if err != nil {
			return nil, fmt.Errorf("tally: partial %d: %w", i, err)
		}
		if p.Index != s.Trustee {
			return nil, fmt.Errorf("tally: partial %d names trustee %d inside the partial decryption of trustee %d", i, p.Index, s.Trustee)
		}
		s.Partials = append(s.Partials, p)
	}
	return s, nil
}

// VerifyPartial checks every partial of s against agg and the trustee's
// verification key: a proof for each aggregate ciphertext but those whose
// first component is the identity, which must have the trivial partial.
// With no counted ballot no partial decryption is valid (ErrNothingToDecrypt).
func VerifyPartial(e *ballot.Election, agg *Aggregate, vk *elgamal.PublicKey, s *Partial) error {
	if agg.Ballots == 0 {
		return fmt.Errorf("%w (a partial decryption from trustee %d is refused)", ErrNothingToDecrypt, s.Trustee)
	}
	ctxs, cts := agg.flatten(e)
	if len(s.Partials) != len(cts) {
		return fmt.Errorf("tally: the partial decryption of trustee %d has %d partials, want %d", s.Trustee, len(s.Partials), len(cts))
	}
	if err := threshold.VerifyPartials(ctxs, vk, cts, s.Partials); err != nil {
		return fmt.Errorf("tally: the partial decryption of trustee %d: %w", s.Trustee, err)
	}
	return nil
}

// Result is an election's outcome.
type Result struct {
	Ballots  uint64     `json:"ballots"`
	Counts   [][]uint64 `json:"counts"`   // [question][choice], every choice
	Trustees []int      `json:"trustees"` // the partial decryptions combined
}

// ErrNotEnoughPartials means fewer than t valid partial decryptions were given.
var ErrNotEnoughPartials = errors.New("tally: not enough valid partial decryptions to decrypt")

// Combine decrypts agg from already verified partial decryptions of at
// least t distinct trustees, and returns every choice's count. It combines
// the first t partial decryptions of distinct trustees in the order given, and the result names
// them in that order: given the partial entries in record order, as the
// board, the tallier and the verifier do, every one of them makes the same
// result entry, byte for byte (SPEC.md §9).
//
// With no counted ballots the aggregate is the identity, which no trustee
// can (or needs to) decrypt: every count is zero, and no partial decryption is needed.
func Combine(e *ballot.Election, agg *Aggregate, shares []*Partial) (*Result, error) {
	if agg.Ballots == 0 {
		res := &Result{Counts: make([][]uint64, len(e.Manifest.Questions)), Trustees: []int{}}
		for qi, q := range e.Manifest.Questions {
			res.Counts[qi] = make([]uint64, len(q.Choices))
		}
		return res, nil
	}
	t := e.Manifest.Trustees.T
	seen := map[int]bool{}
	var use []*Partial
	for _, s := range shares {
		if !seen[s.Trustee] {
			seen[s.Trustee] = true
			use = append(use, s)
		}
	}
	if len(use) < t {
		return nil, fmt.Errorf("%w: have %d, need %d", ErrNotEnoughPartials, len(use), t)
	}
	use = use[:t]
	res := &Result{Ballots: agg.Ballots}
	for _, s := range use {
		res.Trustees = append(res.Trustees, s.Trustee)
	}
	table, err := threshold.NewTable(max(agg.Ballots, 1))
	if err != nil {
		return nil, err
	}
	k := 0
	for qi, q := range e.Manifest.Questions {
		counts := make([]uint64, len(q.Choices))
		var sum uint64
		for ci, ct := range agg.Questions[qi] {
			ps := make([]*threshold.Partial, len(use))
			for j, s := range use {
				ps[j] = s.Partials[k]
			}
			k++
			gm, err := threshold.Combine(ct, ps, t)
			if err != nil {
				return nil, err
			}
			if counts[ci], err = table.Log(gm); err != nil {
				return nil, fmt.Errorf("tally: question %q choice %d: %w", q.ID, ci, err)
			}
			sum += counts[ci]
		}
		if q.Encrypted() < len(q.Choices) {
			total := uint64(q.Min) * agg.Ballots
			if sum > total {
				return nil, fmt.Errorf("tally: question %q: decrypted counts exceed %d selections", q.ID, total)
			}
			counts[len(counts)-1] = total - sum
		}
		res.Counts = append(res.Counts, counts)
	}
	return res, nil
}

// Bytes encodes the result as the body of a result entry (JSON).
func (r *Result) Bytes() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // only integers
	}
	return b
}

// Equal reports whether two results state the same counts from the same ballots.
func (r *Result) Equal(o *Result) bool {
	if r.Ballots != o.Ballots || len(r.Counts) != len(o.Counts) {
		return false
	}
	for i := range r.Counts {
		if len(r.Counts[i]) != len(o.Counts[i]) {
			return false
		}
		for j := range r.Counts[i] {
			if r.Counts[i][j] != o.Counts[i][j] {
				return false
			}
		}
	}
	return true
}

// ParseResult decodes a result entry's body strictly.
func ParseResult(body []byte) (*Result, error) {
	var r Result
	if err := strictjson.Decode(body, &r); err != nil {
		return nil, fmt.Errorf("tally: result entry: %w", err)
	}
	return &r, nil
}
