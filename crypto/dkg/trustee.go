package dkg

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/evote/evote/crypto/ceremony"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

// Phases of a Trustee.
const (
	phaseAnnounced = 1 // has an HPKE key pair
	phaseDealt     = 2 // has dealt its polynomial
	phaseFinal     = 3 // holds its key share; polynomial erased
)

// Trustee is one trustee's private ceremony state: its HPKE private key, its
// polynomial once it has dealt, and its key share once finalised. It is
// secret: store Marshal's output encrypted (age), never in a log.
type Trustee struct {
	index, n, t int
	sk          []byte // X25519 private key
	ann         *Announcement
	phase       int
	context     []byte
	coeffs      []*ristretto255.Scalar
	deal        *Deal
	dealEnc     []byte
	share       *KeyShare
}

// NewTrustee starts trustee index (1..n) of an n-trustee, threshold-t
// ceremony: it makes the HPKE key pair shares are sealed to and returns the
// Announcement to publish. rnd is crypto/rand.Reader when nil.
func NewTrustee(rnd io.Reader, index, n, t int) (*Trustee, *Announcement, error) {
	if err := ceremony.CheckParams(n, t); err != nil {
		return nil, nil, err
	}
	if index < 1 || index > n {
		return nil, nil, fmt.Errorf("dkg: trustee index %d, want 1..%d", index, n)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	seed := make([]byte, kemScheme.SeedSize())
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return nil, nil, fmt.Errorf("dkg: reading randomness: %w", err)
	}
	_, sk := kemScheme.DeriveKeyPair(seed)
	skb, err := sk.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	tr := &Trustee{index: index, n: n, t: t, phase: phaseAnnounced}
	if err := tr.setKey(skb); err != nil {
		return nil, nil, err
	}
	return tr, tr.Announcement(), nil
}

func (tr *Trustee) setKey(skb []byte) error {
	sk, err := kemScheme.UnmarshalBinaryPrivateKey(skb)
	if err != nil {
		return fmt.Errorf("dkg: trustee encryption key: %w", err)
	}
	pkb, err := sk.Public().MarshalBinary()
	if err != nil {
		return err
	}
	if err := ceremony.CheckEncryptionKey(pkb); err != nil {
		return fmt.Errorf("dkg: trustee %w", err)
	}
	tr.sk = append([]byte(nil), skb...)
	tr.ann = &Announcement{Index: tr.index}
	copy(tr.ann.EncryptionKey[:], pkb)
	return nil
}

// Index returns the trustee's index.
func (tr *Trustee) Index() int { return tr.index }

// Announcement returns the trustee's announcement (the same at every call).
func (tr *Trustee) Announcement() *Announcement {
	a := *tr.ann
	return &a
}

// KeyShare returns the trustee's key share once Finalize has succeeded, or nil.
func (tr *Trustee) KeyShare() *KeyShare { return tr.share }

// Dealt returns the deal this trustee made, or nil before it deals and
// after Finalize (which erases it): a caller resuming from a saved state
// compares it with the deal a board holds.
func (tr *Trustee) Dealt() *Deal {
	if tr.phase != phaseDealt {
		return nil
	}
	d, _ := ParseDeal(tr.dealEnc)
	return d
}

// Deal picks the trustee's random polynomial and returns its Deal for the
// ceremony identified by context (the manifest hash), sealing one share to
// each announced trustee. Calling it again with the same context returns the
// same deal (dealing twice would be equivocation); with another context it
// is an error.
func (tr *Trustee) Deal(rnd io.Reader, context []byte, anns []*Announcement) (*Deal, error) {
	switch tr.phase {
	case phaseDealt:
		if !bytes.Equal(context, tr.context) {
			return nil, errors.New("dkg: this trustee already dealt under another context; start a new trustee for a new ceremony")
		}
		return ParseDeal(tr.dealEnc)
	case phaseFinal:
		return nil, errors.New("dkg: this trustee has already finalised its key share")
	}
	ordered, err := ceremony.SortAnnouncements(anns, tr.n)
	if err != nil {
		return nil, err
	}
	if ordered[tr.index-1].EncryptionKey != tr.ann.EncryptionKey {
		return nil, fmt.Errorf("dkg: the announcement for trustee %d is not this trustee's; check the announcements given", tr.index)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	coeffs := make([]*ristretto255.Scalar, tr.t)
	commits := make([]*ristretto255.Element, tr.t)
	for k := range coeffs {
		if coeffs[k], err = elgamal.RandomScalar(rnd); err != nil {
			return nil, err
		}
		commits[k] = ristretto255.NewIdentityElement().ScalarBaseMult(coeffs[k])
	}
	c0, err := elgamal.NewPublicKey(commits[0])
	if err != nil {
		return nil, err
	}
	proof, err := zkp.ProveSchnorr(rnd, ceremony.ProofContext(context, tr.index, tr.n, tr.t), coeffs[0], c0)
	if err != nil {
		return nil, err
	}
	d := &Deal{Dealer: tr.index, Commitments: commits, Proof: proof, EncryptedShares: make([]EncryptedShare, tr.n)}
	ch := commitmentHash(commits)
	for j := 1; j <= tr.n; j++ {
		info := shareInfo(context, tr.index, j, tr.n, tr.t, ch)
		if d.EncryptedShares[j-1], err = sealShare(rnd, ordered[j-1].EncryptionKey[:], info, evalPoly(coeffs, j)); err != nil {
			return nil, fmt.Errorf("dkg: sealing the share for trustee %d: %w", j, err)
		}
	}
	tr.phase, tr.context, tr.coeffs = phaseDealt, append([]byte(nil), context...), coeffs
	tr.deal, tr.dealEnc = d, d.Marshal()
	return d, nil
}

// openFrom opens and checks this trustee's share in d; the reason is 0 when
// the share is good.
func (tr *Trustee) openFrom(d *Deal) (*ristretto255.Scalar, int) {
	info := shareInfo(tr.context, d.Dealer, tr.index, tr.n, tr.t, commitmentHash(d.Commitments))
	s, err := openShare(tr.sk, info, &d.EncryptedShares[tr.index-1])
	if err != nil {
		return nil, ReasonUndecryptable
	}
	if !ceremony.ShareMatches(d.Commitments, tr.index, s) {
		return nil, ReasonMismatch
	}
	return s, 0
}

// Verify opens this trustee's share from each deal and returns a Complaint
// for each share it cannot open or that does not match its dealer's
// commitments. Deals that are publicly bad (wrong counts, bad proof) or that
// name a dealer outside 1..n are skipped: Qualify disqualifies them without
// complaints. Publish the complaints, even if empty, before the answer step.
func (tr *Trustee) Verify(deals []*Deal) ([]*Complaint, error) {
	if tr.phase != phaseDealt {
		return nil, errors.New("dkg: verify needs a trustee that has dealt and not yet finalised")
	}
	var out []*Complaint
	seen := map[int]bool{}
	for _, d := range deals {
		if d.Dealer < 1 || d.Dealer > tr.n || seen[d.Dealer] {
			continue
		}
		seen[d.Dealer] = true
		if ceremony.DealFault(tr.context, d, tr.n, tr.t) != "" {
			continue
		}
		if _, reason := tr.openFrom(d); reason != 0 {
			out = append(out, &Complaint{Accuser: tr.index, Accused: d.Dealer, Reason: reason})
		}
	}
	return out, nil
}

// Answer returns an Answer revealing the share for each complaint that
// accuses this trustee; other complaints are ignored.
func (tr *Trustee) Answer(complaints []*Complaint) ([]*Answer, error) {
	if tr.phase != phaseDealt {
		return nil, errors.New("dkg: answer needs a trustee that has dealt and not yet finalised")
	}
	var out []*Answer
	done := map[int]bool{}
	for _, c := range complaints {
		if c.Accused != tr.index || done[c.Accuser] {
			continue
		}
		if c.Accuser < 1 || c.Accuser > tr.n {
			return nil, fmt.Errorf("dkg: complaint from trustee %d, but the ceremony has trustees 1..%d", c.Accuser, tr.n)
		}
		done[c.Accuser] = true
		out = append(out, &Answer{Dealer: tr.index, Recipient: c.Accuser, Share: evalPoly(tr.coeffs, c.Accuser)})
	}
	// t revealed shares determine the polynomial, and with it this dealer's
	// secret contribution to the election key. t complaints mean either a
	// bad deal or t colluding trustees (who could decrypt anyway); either
	// way the dealer is better disqualified than exposed.
	if len(out) >= tr.t {
		return nil, fmt.Errorf("dkg: %d trustees complain about this trustee's deal; answering %d or more would publish its secret contribution, so it does not answer and will be disqualified", len(out), tr.t)
	}
	return out, nil
}

// Finalize runs Qualify on the ceremony's messages and computes this
// trustee's key share sⱼ = Σ_{i∈QUAL} sᵢⱼ, taking shares revealed by answers
// where given, and checks g^sⱼ = VKⱼ. It then erases the polynomial: call it
// only after the answer step has closed.
func (tr *Trustee) Finalize(anns []*Announcement, deals []*Deal, complaints []*Complaint, answers []*Answer) (*Result, *KeyShare, error) {
	if tr.phase != phaseDealt {
		return nil, nil, errors.New("dkg: finalize needs a trustee that has dealt and not yet finalised")
	}
	ordered, err := ceremony.SortAnnouncements(anns, tr.n)
	if err != nil {
		return nil, nil, err
	}
	if ordered[tr.index-1].EncryptionKey != tr.ann.EncryptionKey {
		return nil, nil, fmt.Errorf("dkg: the announcement for trustee %d is not this trustee's; check the announcements given", tr.index)
	}
	res, err := Qualify(tr.context, tr.n, tr.t, anns, deals, complaints, answers)
	if err != nil {
		return nil, nil, err
	}
	sum := ristretto255.NewScalar()
	for _, i := range res.Qualified {
		s := res.AnsweredShare(i, tr.index)
		if s == nil {
			var reason int
			if s, reason = tr.openFrom(res.Deal(i)); reason != 0 {
				return nil, nil, fmt.Errorf("dkg: trustee %d's share for trustee %d does not verify and no valid answer reveals it; publish the complaint Verify returned and finalise after trustee %d answers or is disqualified", i, tr.index, i)
			}
		}
		sum.Add(sum, s)
	}
	vk := res.VerificationKey(tr.index)
	if ristretto255.NewIdentityElement().ScalarBaseMult(sum).Equal(vk.Element()) != 1 {
		return nil, nil, fmt.Errorf("dkg: trustee %d's key share does not match its verification key; the messages given are not the ones the ceremony used", tr.index)
	}
	ks := &KeyShare{Context: tr.context, Index: tr.index, N: tr.n, T: tr.t, Secret: sum, ElectionKey: res.ElectionKey, VerificationKey: vk}
	tr.phase, tr.share = phaseFinal, ks
	for _, c := range tr.coeffs {
		c.Zero()
	}
	tr.coeffs, tr.deal, tr.dealEnc = nil, nil, nil
	return res, ks, nil
}

// Marshal returns the trustee's secret state:
//
//	0x01 || 0x10 || phase || index || n || t || X25519 private key (32)
//	phase 2: len(context) (4, big-endian) || context || t coefficients (32 each) || len(deal) (4) || deal
//	phase 3: len(key share) (4) || key share
func (tr *Trustee) Marshal() []byte {
	out := append(ceremony.KindTrustee.Header(), byte(tr.phase), byte(tr.index), byte(tr.n), byte(tr.t))
	out = append(out, tr.sk...)
	switch tr.phase {
	case phaseDealt:
		out = binary.BigEndian.AppendUint32(out, uint32(len(tr.context)))
		out = append(out, tr.context...)
		for _, c := range tr.coeffs {
			out = append(out, c.Bytes()...)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(tr.dealEnc)))
		out = append(out, tr.dealEnc...)
	case phaseFinal:
		ks := tr.share.Marshal()
		out = binary.BigEndian.AppendUint32(out, uint32(len(ks)))
		out = append(out, ks...)
	}
	return out
}

// reader consumes a byte string strictly.
type reader struct {
	b   []byte
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = errors.New("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) lenPrefixed() []byte {
	l := r.next(4)
	if l == nil {
		return nil
	}
	return r.next(int(binary.BigEndian.Uint32(l)))
}

// UnmarshalTrustee decodes a Trustee's state, checking that it is
// consistent: the coefficients match the stored deal's commitments, the key
// share matches its verification key.
func UnmarshalTrustee(b []byte) (*Trustee, error) {
	if err := ceremony.CheckHeader(b, ceremony.KindTrustee); err != nil {
		return nil, err
	}
	r := &reader{b: b[2:]}
	h := r.next(4)
	skb := r.next(kemScheme.PrivateKeySize())
	if r.err != nil {
		return nil, fmt.Errorf("dkg: trustee state: %w", r.err)
	}
	tr := &Trustee{phase: int(h[0]), index: int(h[1]), n: int(h[2]), t: int(h[3])}
	if err := ceremony.CheckParams(tr.n, tr.t); err != nil {
		return nil, fmt.Errorf("dkg: trustee state: %w", err)
	}
	if tr.index < 1 || tr.index > tr.n {
		return nil, fmt.Errorf("dkg: trustee state: index %d outside 1..%d", tr.index, tr.n)
	}
	if err := tr.setKey(skb); err != nil {
		return nil, err
	}
	switch tr.phase {
	case phaseAnnounced:
	case phaseDealt:
		tr.context = append([]byte{}, r.lenPrefixed()...)
		tr.coeffs = make([]*ristretto255.Scalar, tr.t)
		for k := range tr.coeffs {
			cb := r.next(32)
			if r.err != nil {
				break
			}
			c, err := elgamal.ParseScalar(cb)
			if err != nil {
				return nil, fmt.Errorf("dkg: trustee state, coefficient %d: %w", k, err)
			}
			tr.coeffs[k] = c
		}
		dealEnc := r.lenPrefixed()
		if r.err != nil {
			return nil, fmt.Errorf("dkg: trustee state: %w", r.err)
		}
		d, err := ParseDeal(dealEnc)
		if err != nil {
			return nil, fmt.Errorf("dkg: trustee state: %w", err)
		}
		if d.Dealer != tr.index || len(d.Commitments) != tr.t || len(d.EncryptedShares) != tr.n {
			return nil, errors.New("dkg: trustee state: the stored deal is not this trustee's")
		}
		for k, c := range tr.coeffs {
			if ristretto255.NewIdentityElement().ScalarBaseMult(c).Equal(d.Commitments[k]) != 1 {
				return nil, fmt.Errorf("dkg: trustee state: coefficient %d does not match the stored deal", k)
			}
		}
		tr.deal, tr.dealEnc = d, append([]byte(nil), dealEnc...)
	case phaseFinal:
		ksb := r.lenPrefixed()
		if r.err != nil {
			return nil, fmt.Errorf("dkg: trustee state: %w", r.err)
		}
		ks, err := ParseKeyShare(ksb)
		if err != nil {
			return nil, fmt.Errorf("dkg: trustee state: %w", err)
		}
		if ks.Index != tr.index || ks.N != tr.n || ks.T != tr.t {
			return nil, errors.New("dkg: trustee state: the stored key share is not this trustee's")
		}
		tr.share, tr.context = ks, ks.Context
	default:
		return nil, fmt.Errorf("dkg: trustee state: unknown phase %d", tr.phase)
	}
	if r.err != nil {
		return nil, fmt.Errorf("dkg: trustee state: %w", r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("dkg: trustee state: %d trailing bytes", len(r.b))
	}
	return tr, nil
}

// KeyShare is what a trustee keeps after the ceremony to decrypt the tally
// (package threshold): its share sⱼ of the election secret, with the keys
// it belongs to. It is secret: store it encrypted.
//
// Encoding: 0x01 || 0x11 || index || n || t || len(context) (4, big-endian)
// || context || sⱼ (32) || election key h (32) || VKⱼ (32).
type KeyShare struct {
	Context         []byte
	Index, N, T     int
	Secret          *ristretto255.Scalar
	ElectionKey     *elgamal.PublicKey
	VerificationKey *elgamal.PublicKey
}

// Marshal returns the canonical encoding.
func (k *KeyShare) Marshal() []byte {
	out := append(ceremony.KindKeyShare.Header(), byte(k.Index), byte(k.N), byte(k.T))
	out = binary.BigEndian.AppendUint32(out, uint32(len(k.Context)))
	out = append(out, k.Context...)
	out = append(out, k.Secret.Bytes()...)
	out = append(out, k.ElectionKey.Bytes()...)
	return append(out, k.VerificationKey.Bytes()...)
}

// ParseKeyShare decodes a KeyShare, refusing one whose secret does not match
// its verification key.
func ParseKeyShare(b []byte) (*KeyShare, error) {
	if err := ceremony.CheckHeader(b, ceremony.KindKeyShare); err != nil {
		return nil, err
	}
	r := &reader{b: b[2:]}
	h := r.next(3)
	ctx := r.lenPrefixed()
	sb, hb, vb := r.next(32), r.next(32), r.next(32)
	if r.err != nil {
		return nil, fmt.Errorf("dkg: key share: %w", r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("dkg: key share: %d trailing bytes", len(r.b))
	}
	k := &KeyShare{Context: append([]byte{}, ctx...), Index: int(h[0]), N: int(h[1]), T: int(h[2])}
	if err := ceremony.CheckParams(k.N, k.T); err != nil {
		return nil, fmt.Errorf("dkg: key share: %w", err)
	}
	if k.Index < 1 || k.Index > k.N {
		return nil, fmt.Errorf("dkg: key share: index %d outside 1..%d", k.Index, k.N)
	}
	var err error
	if k.Secret, err = elgamal.ParseScalar(sb); err != nil {
		return nil, fmt.Errorf("dkg: key share: %w", err)
	}
	if k.ElectionKey, err = elgamal.ParsePublicKey(hb); err != nil {
		return nil, fmt.Errorf("dkg: key share, election key: %w", err)
	}
	if k.VerificationKey, err = elgamal.ParsePublicKey(vb); err != nil {
		return nil, fmt.Errorf("dkg: key share, verification key: %w", err)
	}
	if ristretto255.NewIdentityElement().ScalarBaseMult(k.Secret).Equal(k.VerificationKey.Element()) != 1 {
		return nil, errors.New("dkg: key share: the secret does not match the verification key; the file is corrupt or mixed up")
	}
	return k, nil
}
