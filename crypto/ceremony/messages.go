package ceremony

import (
	"fmt"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

// MaxTrustees is the largest n: indices are one byte and 0 is where the
// secret lives.
const MaxTrustees = 255

// Encoding sizes.
const (
	EncryptionKeySize  = 32                        // X25519 public key
	EncryptedShareSize = 32 + 32 + 16              // HPKE enc || sealed scalar || tag
	AnnouncementSize   = 2 + 1 + EncryptionKeySize // version, kind, index, key
	ComplaintSize      = 2 + 1 + 1 + 1             // version, kind, accuser, accused, reason
	AnswerSize         = 2 + 1 + 1 + elgamal.ScalarSize
	// CheckSize is the size of a check naming no dealer; each dealer it
	// names adds one byte.
	CheckSize = 2 + 1 + 1 // version, kind, checker, count
)

// Version is the encoding version, the first byte of every encoding of
// the ceremony's, the public messages here and crypto/dkg's secret ones.
const Version = 1

// Kind is the second byte of every encoding. The public messages and
// crypto/dkg's secret encodings share one set of kinds, so that no
// encoding of one kind parses as another.
type Kind byte

// The kinds.
const (
	KindAnnouncement Kind = 0x01
	KindDeal         Kind = 0x02
	KindComplaint    Kind = 0x03
	KindAnswer       Kind = 0x04
	KindCheck        Kind = 0x05
	KindTrustee      Kind = 0x10 // crypto/dkg's Trustee state, secret
	KindKeyShare     Kind = 0x11 // crypto/dkg's KeyShare, secret
)

var kindNames = map[Kind]string{
	KindAnnouncement: "announcement", KindDeal: "deal", KindComplaint: "complaint",
	KindAnswer: "answer", KindCheck: "check", KindTrustee: "trustee state", KindKeyShare: "key share",
}

// Header returns the two bytes an encoding of kind k begins with.
func (k Kind) Header() []byte { return []byte{Version, byte(k)} }

// CheckHeader returns an error unless b begins with the header of kind k.
func CheckHeader(b []byte, k Kind) error {
	name := kindNames[k]
	if len(b) < 2 {
		return fmt.Errorf("dkg: %s is %d bytes, too short for a header", name, len(b))
	}
	if b[0] != Version {
		return fmt.Errorf("dkg: %s has encoding version %d, this code reads version %d", name, b[0], Version)
	}
	if Kind(b[1]) != k {
		if other, ok := kindNames[Kind(b[1])]; ok {
			return fmt.Errorf("dkg: expected a message of kind %q, got one of kind %q", name, other)
		}
		return fmt.Errorf("dkg: expected a message of kind %q, got unknown kind 0x%02x", name, b[1])
	}
	return nil
}

func checkIndexByte(what string, b byte) error {
	if b == 0 {
		return fmt.Errorf("dkg: %s is trustee 0; trustees are numbered from 1", what)
	}
	return nil
}

// Announcement is trustee Index's public key for receiving shares.
//
// Encoding (35 bytes): 0x01 || 0x01 || index || X25519 public key.
type Announcement struct {
	Index         int
	EncryptionKey [EncryptionKeySize]byte
}

// Marshal returns the canonical encoding.
func (a *Announcement) Marshal() []byte {
	out := append(KindAnnouncement.Header(), byte(a.Index))
	return append(out, a.EncryptionKey[:]...)
}

// ParseAnnouncement decodes an Announcement, refusing index 0, an
// encryption key that is not a canonical X25519 key (value p = 2^255-19 or
// more, top bit included) and one no share can be sealed to (a low-order
// point: 0, 1, p-1 and the two points of order 8).
func ParseAnnouncement(b []byte) (*Announcement, error) {
	if err := CheckHeader(b, KindAnnouncement); err != nil {
		return nil, err
	}
	if len(b) != AnnouncementSize {
		return nil, fmt.Errorf("dkg: announcement is %d bytes, want %d", len(b), AnnouncementSize)
	}
	if err := checkIndexByte("announcement", b[2]); err != nil {
		return nil, err
	}
	a := &Announcement{Index: int(b[2])}
	copy(a.EncryptionKey[:], b[3:])
	if err := CheckEncryptionKey(a.EncryptionKey[:]); err != nil {
		return nil, fmt.Errorf("dkg: announcement of trustee %d: %w", a.Index, err)
	}
	return a, nil
}

// EncryptedShare is one HPKE-sealed share: encapsulated key || ciphertext.
// Only crypto/dkg seals and opens it; here it is opaque bytes.
type EncryptedShare [EncryptedShareSize]byte

// Deal is dealer Dealer's public contribution: commitments to its
// polynomial's t coefficients, a proof of knowledge of the constant term, and
// one sealed share for each trustee 1..n (EncryptedShares[j-1] for j).
//
// Encoding (5 + 32t + 64 + 80n bytes): 0x01 || 0x02 || dealer || t || n ||
// C₀ || … || C_{t−1} || Schnorr proof (R || z) || share₁ || … || shareₙ.
type Deal struct {
	Dealer          int
	Commitments     []*ristretto255.Element
	Proof           *zkp.SchnorrProof
	EncryptedShares []EncryptedShare
}

// Marshal returns the canonical encoding. It panics if the deal has more
// than 255 commitments or shares, which no parsed or dealt Deal has.
func (d *Deal) Marshal() []byte {
	t, n := len(d.Commitments), len(d.EncryptedShares)
	if t > MaxTrustees || n > MaxTrustees {
		panic("dkg: deal with more than 255 commitments or shares")
	}
	out := make([]byte, 0, 5+32*t+zkp.SchnorrSize+EncryptedShareSize*n)
	out = append(out, Version, byte(KindDeal), byte(d.Dealer), byte(t), byte(n))
	for _, c := range d.Commitments {
		out = append(out, c.Bytes()...)
	}
	out = append(out, d.Proof.Bytes()...)
	for i := range d.EncryptedShares {
		out = append(out, d.EncryptedShares[i][:]...)
	}
	return out
}

// ParseDeal decodes a Deal, refusing dealer 0, no commitments or no shares,
// non-canonical or identity commitments, a malformed proof and a length
// that does not match the counts. It does not check the proof or the
// shares (Qualify and crypto/dkg's Trustee.Verify do), nor that t and n
// are the ceremony's.
func ParseDeal(b []byte) (*Deal, error) {
	if err := CheckHeader(b, KindDeal); err != nil {
		return nil, err
	}
	if len(b) < 5 {
		return nil, fmt.Errorf("dkg: deal is %d bytes, too short", len(b))
	}
	if err := checkIndexByte("deal's dealer", b[2]); err != nil {
		return nil, err
	}
	dealer, t, n := int(b[2]), int(b[3]), int(b[4])
	if t == 0 || n == 0 {
		return nil, fmt.Errorf("dkg: deal of trustee %d has %d commitments and %d shares; both must be at least 1", dealer, t, n)
	}
	want := 5 + 32*t + zkp.SchnorrSize + EncryptedShareSize*n
	if len(b) != want {
		return nil, fmt.Errorf("dkg: deal of trustee %d is %d bytes, want %d for %d commitments and %d shares", dealer, len(b), want, t, n)
	}
	d := &Deal{Dealer: dealer, Commitments: make([]*ristretto255.Element, t), EncryptedShares: make([]EncryptedShare, n)}
	off := 5
	for k := range d.Commitments {
		c, err := elgamal.ParseElement(b[off : off+32])
		if err != nil {
			return nil, fmt.Errorf("dkg: deal of trustee %d, commitment %d: %w", dealer, k, err)
		}
		d.Commitments[k] = c
		off += 32
	}
	proof, err := zkp.ParseSchnorr(b[off : off+zkp.SchnorrSize])
	if err != nil {
		return nil, fmt.Errorf("dkg: deal of trustee %d: %w", dealer, err)
	}
	d.Proof = proof
	off += zkp.SchnorrSize
	for j := range d.EncryptedShares {
		copy(d.EncryptedShares[j][:], b[off:off+EncryptedShareSize])
		off += EncryptedShareSize
	}
	return d, nil
}

// Reasons a trustee gives for a complaint.
const (
	// ReasonUndecryptable: the sealed share did not open with the
	// accuser's key and this ceremony's binding, or held no canonical scalar.
	ReasonUndecryptable = 1
	// ReasonMismatch: the share opened but g^s ≠ Πₖ Cₖ^(jᵏ).
	ReasonMismatch = 2
)

// Complaint is trustee Accuser's public accusation that dealer Accused's
// share for it is bad; Accuser may be Accused. The reason is informative;
// Qualify treats both alike.
//
// Encoding (5 bytes): 0x01 || 0x03 || accuser || accused || reason.
type Complaint struct {
	Accuser, Accused int
	Reason           int
}

// Marshal returns the canonical encoding.
func (c *Complaint) Marshal() []byte {
	return append(KindComplaint.Header(), byte(c.Accuser), byte(c.Accused), byte(c.Reason))
}

// ParseComplaint decodes a Complaint, refusing index 0 and unknown reasons.
func ParseComplaint(b []byte) (*Complaint, error) {
	if err := CheckHeader(b, KindComplaint); err != nil {
		return nil, err
	}
	if len(b) != ComplaintSize {
		return nil, fmt.Errorf("dkg: complaint is %d bytes, want %d", len(b), ComplaintSize)
	}
	if err := checkIndexByte("complaint's accuser", b[2]); err != nil {
		return nil, err
	}
	if err := checkIndexByte("complaint's accused", b[3]); err != nil {
		return nil, err
	}
	if b[4] != ReasonUndecryptable && b[4] != ReasonMismatch {
		return nil, fmt.Errorf("dkg: complaint has unknown reason %d", b[4])
	}
	return &Complaint{Accuser: int(b[2]), Accused: int(b[3]), Reason: int(b[4])}, nil
}

// Answer is dealer Dealer's public reply to Recipient's complaint: the
// share fᵢ(j) in the clear, checked by anyone against the commitments.
//
// Encoding (36 bytes): 0x01 || 0x04 || dealer || recipient || share.
type Answer struct {
	Dealer, Recipient int
	Share             *ristretto255.Scalar
}

// Marshal returns the canonical encoding.
func (a *Answer) Marshal() []byte {
	out := append(KindAnswer.Header(), byte(a.Dealer), byte(a.Recipient))
	return append(out, a.Share.Bytes()...)
}

// ParseAnswer decodes an Answer, refusing index 0 and a non-canonical
// scalar. It does not check the share (Qualify does).
func ParseAnswer(b []byte) (*Answer, error) {
	if err := CheckHeader(b, KindAnswer); err != nil {
		return nil, err
	}
	if len(b) != AnswerSize {
		return nil, fmt.Errorf("dkg: answer is %d bytes, want %d", len(b), AnswerSize)
	}
	if err := checkIndexByte("answer's dealer", b[2]); err != nil {
		return nil, err
	}
	if err := checkIndexByte("answer's recipient", b[3]); err != nil {
		return nil, err
	}
	s, err := elgamal.ParseScalar(b[4:])
	if err != nil {
		return nil, fmt.Errorf("dkg: answer of trustee %d to trustee %d: %w", b[2], b[3], err)
	}
	return &Answer{Dealer: int(b[2]), Recipient: int(b[3]), Share: s}, nil
}

// Check is trustee Checker's public word that it opened and checked its
// share of each deal of Dealers, and published a complaint about each
// that did not open or did not match its dealer's commitments. Qualify
// does not read it. It is there because a complaint cannot say the
// opposite: an honest trustee with good shares publishes no complaint,
// which looks the same as one that has not checked yet, and a board that
// opens before a trustee checks leaves that trustee without a share should
// one of its shares be bad. With checks the board tells the two apart and
// names who is missing (package record's Progress).
//
// Encoding (4 + k bytes): 0x01 || 0x05 || checker || k || dealer_1 ..
// dealer_k, with 1 ≤ k and the dealers strictly ascending.
type Check struct {
	Checker int
	Dealers []int // ascending, each once
}

// Marshal returns the canonical encoding.
func (c *Check) Marshal() []byte {
	out := append(KindCheck.Header(), byte(c.Checker), byte(len(c.Dealers)))
	for _, d := range c.Dealers {
		out = append(out, byte(d))
	}
	return out
}

// ParseCheck decodes a Check, refusing index 0, no dealer, and dealers
// not strictly ascending (so that a set has one encoding).
func ParseCheck(b []byte) (*Check, error) {
	if err := CheckHeader(b, KindCheck); err != nil {
		return nil, err
	}
	if len(b) < CheckSize || len(b) != CheckSize+int(b[3]) {
		return nil, fmt.Errorf("dkg: check is %d bytes, not 4 plus its count of dealers", len(b))
	}
	if err := checkIndexByte("check's checker", b[2]); err != nil {
		return nil, err
	}
	if b[3] == 0 {
		return nil, fmt.Errorf("dkg: check of trustee %d names no dealer", b[2])
	}
	c := &Check{Checker: int(b[2])}
	for i, d := range b[CheckSize:] {
		if err := checkIndexByte("check's dealer", d); err != nil {
			return nil, err
		}
		if i > 0 && d <= b[CheckSize+i-1] {
			return nil, fmt.Errorf("dkg: check of trustee %d names its dealers out of order or twice", b[2])
		}
		c.Dealers = append(c.Dealers, int(d))
	}
	return c, nil
}
