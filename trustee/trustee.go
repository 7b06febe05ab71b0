package trustee

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/record"
)

// ErrWrongKey means a signing key is not the one the manifest names for
// the trustee: every message it signed would be refused.
var ErrWrongKey = errors.New("trustee: wrong signing key")

// ErrNoSigningKey means a step that sends messages was asked of a trustee
// loaded without its signing key.
var ErrNoSigningKey = errors.New("trustee: no signing key: this step sends messages, which the trustee signs")

// A Trustee is one trustee's side of one election's key ceremony: its
// secret ceremony state (crypto/dkg) and the key that signs what it sends.
// Each step returns the messages to publish, signed; save State after
// every step that changes it (New, Deal, Finalize).
type Trustee struct {
	m   *ballot.Manifest
	st  *dkg.Trustee
	key ed25519.PrivateKey // nil: the trustee sends nothing (Finalize)
}

// A Message is a ceremony message a trustee sends.
type Message struct {
	Kind byte // record.KindAnnouncement, KindDeal, KindComplaint, KindAnswer or KindCheck
	From int  // the sender, who signed it: this trustee
	// To is the trustee a complaint accuses or an answer reveals a share
	// to; 0 for an announcement, a deal and a check, which go to everyone.
	To int
	// Body is the ceremony entry's body, to post to the board as it is:
	// kind || message || the sender's signature (SPEC.md §7).
	Body []byte
}

// New starts trustee index (1 to n) of m's ceremony, whose messages key
// signs: it makes the key pair the other trustees seal its shares to and
// returns the trustee and its announcement. key must be the one the
// manifest names for index (ErrWrongKey). rnd is crypto/rand.Reader when
// nil.
func New(rnd io.Reader, m *ballot.Manifest, index int, key ed25519.PrivateKey) (*Trustee, Message, error) {
	if index < 1 || index > m.Trustees.N {
		return nil, Message{}, fmt.Errorf("trustee: index %d, the manifest has trustees 1 to %d", index, m.Trustees.N)
	}
	if err := checkKey(m, index, key); err != nil {
		return nil, Message{}, err
	}
	st, ann, err := dkg.NewTrustee(rnd, index, m.Trustees.N, m.Trustees.T)
	if err != nil {
		return nil, Message{}, err
	}
	t := &Trustee{m: m, st: st, key: key}
	return t, t.sign(record.KindAnnouncement, 0, ann.Marshal()), nil
}

// Load resumes a trustee of m's ceremony from its State. key signs the
// messages it sends and must be the manifest's for the trustee
// (ErrWrongKey); it may be nil for a step that sends none (Finalize).
func Load(m *ballot.Manifest, state []byte, key ed25519.PrivateKey) (*Trustee, error) {
	st, err := dkg.UnmarshalTrustee(state)
	if err != nil {
		return nil, err
	}
	if key != nil {
		if err := checkKey(m, st.Index(), key); err != nil {
			return nil, err
		}
	}
	return &Trustee{m: m, st: st, key: key}, nil
}

func checkKey(m *ballot.Manifest, index int, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return ErrNoSigningKey
	}
	pub := key.Public().(ed25519.PublicKey)
	if want := m.TrusteeKey(index); !bytes.Equal(pub, want) {
		return fmt.Errorf("%w: its public key %x is not trustee %d's key in the manifest (%x)", ErrWrongKey, pub, index, want)
	}
	return nil
}

// State returns the trustee's secret state, from which Load resumes it:
// store it encrypted, never in a log.
func (t *Trustee) State() []byte { return t.st.Marshal() }

// A Stage is how far a trustee's own state has come.
type Stage int

// The stages, in order.
const (
	Announced Stage = 1 // it has its key pair and announcement
	Dealt     Stage = 2 // it has dealt (DealMade)
	Final     Stage = 3 // it holds its key share (KeyShare); the polynomial is erased
)

func (s Stage) String() string {
	switch s {
	case Announced:
		return "announced"
	case Dealt:
		return "dealt"
	case Final:
		return "finalized"
	}
	return fmt.Sprintf("stage %d", int(s))
}

// Stage returns how far the trustee's state has come.
func (t *Trustee) Stage() Stage {
	switch {
	case t.st.KeyShare() != nil:
		return Final
	case t.st.Dealt() != nil:
		return Dealt
	}
	return Announced
}

// DealMade returns the deal this trustee made, as its message's payload
// (crypto/ceremony's encoding), or nil before it deals and once final.
func (t *Trustee) DealMade() []byte {
	if d := t.st.Dealt(); d != nil {
		return d.Marshal()
	}
	return nil
}

// KeyShare returns the trustee's key share once final, or nil.
func (t *Trustee) KeyShare() *KeyShare { return t.st.KeyShare() }

// Index returns the trustee's index, 1 to n.
func (t *Trustee) Index() int { return t.st.Index() }

// Announcement returns the trustee's announcement, unsigned.
func (t *Trustee) Announcement() *dkg.Announcement { return t.st.Announcement() }

// sign signs a message from this trustee; the step has checked it has a
// signing key.
func (t *Trustee) sign(kind byte, to int, payload []byte) Message {
	return Message{Kind: kind, From: t.Index(), To: to, Body: record.Sign(t.m, t.key, kind, payload)}
}

// Announce returns the trustee's announcement, signed: the very message
// New returned (an Ed25519 signature is deterministic), to send again when
// the first sending was lost.
func (t *Trustee) Announce() (Message, error) {
	if t.key == nil {
		return Message{}, ErrNoSigningKey
	}
	return t.sign(record.KindAnnouncement, 0, t.Announcement().Marshal()), nil
}

// Deal picks the trustee's random polynomial and returns its deal, given
// every trustee's announcement in c: commitments to the polynomial, a proof
// of knowledge of its constant term, and a share sealed to each trustee.
// Dealing again returns the same deal. rnd is crypto/rand.Reader when nil.
func (t *Trustee) Deal(rnd io.Reader, c *record.Ceremony) (Message, error) {
	if t.key == nil {
		return Message{}, ErrNoSigningKey
	}
	d, err := t.st.Deal(rnd, record.CeremonyContext(t.m), c.Anns)
	if err != nil {
		return Message{}, err
	}
	return t.sign(record.KindDeal, 0, d.Marshal()), nil
}

// Verify opens this trustee's share of each deal in c and returns a
// complaint, by dealer, for each that does not open or does not match its
// dealer's commitments (none in an honest ceremony), then a check naming
// every dealer whose deal it looked at: the word that its complaint round
// is over for those deals, which the board waits for before it opens
// (record.Progress). No deal in c: no message.
func (t *Trustee) Verify(c *record.Ceremony) ([]Message, error) {
	if t.key == nil {
		return nil, ErrNoSigningKey
	}
	deals := slices.Clone(c.Deals)
	slices.SortStableFunc(deals, func(a, b *dkg.Deal) int { return a.Dealer - b.Dealer })
	cs, err := t.st.Verify(deals)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(cs))
	for i, cm := range cs {
		out[i] = t.sign(record.KindComplaint, cm.Accused, cm.Marshal())
	}
	check := &dkg.Check{Checker: t.Index()}
	for _, d := range deals {
		if d.Dealer >= 1 && d.Dealer <= t.m.Trustees.N && !slices.Contains(check.Dealers, d.Dealer) {
			check.Dealers = append(check.Dealers, d.Dealer)
		}
	}
	if len(check.Dealers) > 0 {
		out = append(out, t.sign(record.KindCheck, 0, check.Marshal()))
	}
	return out, nil
}

// Answer reveals, in public, the share this trustee dealt to each trustee
// whose complaint in c accuses it. Facing t or more complaints it answers
// none and fails: t revealed shares would publish its polynomial, so it is
// better disqualified.
func (t *Trustee) Answer(c *record.Ceremony) ([]Message, error) {
	if t.key == nil {
		return nil, ErrNoSigningKey
	}
	as, err := t.st.Answer(c.Complaints)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(as))
	for i, a := range as {
		out[i] = t.sign(record.KindAnswer, a.Recipient, a.Marshal())
	}
	return out, nil
}

// Finalize decides the ceremony from all its messages in c, as the board
// and every verifier do, and returns the outcome and this trustee's key
// share, checked against its verification key. The polynomial is erased
// from the state: finalize only once every complaint is answered.
func (t *Trustee) Finalize(c *record.Ceremony) (*dkg.Result, *KeyShare, error) {
	return t.st.Finalize(c.Anns, c.Deals, c.Complaints, c.Answers)
}
