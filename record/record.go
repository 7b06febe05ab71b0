// Package record defines the entries of an election record that belong to
// no single party: the key ceremony's messages as they are published, the
// open entry that fixes the election key, and the close entry. The board
// writes them, trustees and verifiers read them, and all of them decide the
// ceremony with the same deterministic function (Ceremony.Qualify), so an
// open entry that does not follow from the published messages is caught.
// The open entry says which dealers were disqualified and why in fault
// codes (ceremony.Fault) and the accusers they name, never in sentences, so
// that any implementation of SPEC.md §7 rebuilds it byte for byte.
//
// Every ceremony message is signed by its sender (Sign) with the Ed25519 key
// the manifest lists for that trustee; Ceremony.Add refuses one that is not,
// so whoever posts to the board cannot speak for a trustee.
//
// Ceremony.Progress says where a ceremony stands: what each trustee has
// published (its checks of its shares included, which Qualify does not
// read) and what is missing, so that the board never opens past a trustee
// without being told to, and everyone reads the same gaps from the same
// messages.
package record

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/ceremony"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/internal/strictjson"
)

// Kinds of ceremony message: the first byte of a ceremony entry's body.
const (
	KindAnnouncement byte = 1
	KindDeal         byte = 2
	KindComplaint    byte = 3
	KindAnswer       byte = 4
	// KindCheck is a trustee's word that it checked its shares of the
	// deals it names (crypto/ceremony's Check): not read by Qualify, but
	// what tells the board a trustee's complaint round is over.
	KindCheck byte = 5
)

// CeremonyContext is what the key ceremony binds every message to:
// "evote/ceremony/v1" || 0x00 || manifest hash.
func CeremonyContext(m *ballot.Manifest) []byte {
	h := m.Hash()
	return append([]byte("evote/ceremony/v1\x00"), h[:]...)
}

// Sign wraps a ceremony message's encoding (package crypto/ceremony) as a
// ceremony entry body signed with its sender's key (the trustee the
// message is from: the announcer, the dealer, the accuser of a complaint,
// the dealer of an answer):
//
//	kind || payload || Ed25519(key, "evote/ceremony/v1/message" || 0x00 || manifest hash || kind || payload)
func Sign(m *ballot.Manifest, key ed25519.PrivateKey, kind byte, payload []byte) []byte {
	msg := append([]byte{kind}, payload...)
	return append(msg, ed25519.Sign(key, signedBytes(m, msg))...)
}

func signedBytes(m *ballot.Manifest, kindPayload []byte) []byte {
	h := m.Hash()
	out := append([]byte("evote/ceremony/v1/message\x00"), h[:]...)
	return append(out, kindPayload...)
}

// Ceremony collects the ceremony messages of a record in order.
type Ceremony struct {
	m          *ballot.Manifest
	Anns       []*ceremony.Announcement
	Deals      []*ceremony.Deal
	Complaints []*ceremony.Complaint
	Answers    []*ceremony.Answer
	Checks     []*ceremony.Check
	seen       map[string]bool
}

// NewCeremony returns an empty ceremony for m.
func NewCeremony(m *ballot.Manifest) *Ceremony {
	return &Ceremony{m: m, seen: map[string]bool{}}
}

// message is a parsed ceremony entry.
type message struct {
	kind   byte
	sender int    // the trustee who must have signed it
	who    string // what it may exist only once of
	value  any    // the crypto/ceremony message
}

// UniqueKey names what a message may exist only once of: one announcement
// and one deal per trustee, one complaint per (accuser, accused), one answer
// per (dealer, recipient), one check per (checker, number of dealers it
// names). The board refuses a second one.
func UniqueKey(m *ballot.Manifest, msg []byte) ([]byte, error) {
	p, err := parse(m, msg)
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "ceremony/%d/%s", p.kind, p.who), nil
}

// Sender returns the trustee a ceremony entry body is from, who signed it
// (the announcer, the dealer, the accuser, the dealer of an answer, the
// checker), once its signature is checked.
func Sender(m *ballot.Manifest, msg []byte) (int, error) {
	p, err := parse(m, msg)
	if err != nil {
		return 0, err
	}
	return p.sender, nil
}

// Manifest returns the manifest of the election the ceremony is of.
func (c *Ceremony) Manifest() *ballot.Manifest { return c.m }

// parse decodes a ceremony entry body and checks its sender's signature.
func parse(m *ballot.Manifest, msg []byte) (*message, error) {
	if len(msg) < 2+ed25519.SignatureSize {
		return nil, errors.New("record: ceremony message too short to carry its sender's signature")
	}
	body := msg[:len(msg)-ed25519.SignatureSize]
	p := &message{kind: body[0]}
	payload := body[1:]
	switch p.kind {
	case KindAnnouncement:
		a, err := ceremony.ParseAnnouncement(payload)
		if err != nil {
			return nil, err
		}
		p.sender, p.who, p.value = a.Index, fmt.Sprint(a.Index), a
	case KindDeal:
		d, err := ceremony.ParseDeal(payload)
		if err != nil {
			return nil, err
		}
		p.sender, p.who, p.value = d.Dealer, fmt.Sprint(d.Dealer), d
	case KindComplaint:
		c, err := ceremony.ParseComplaint(payload)
		if err != nil {
			return nil, err
		}
		p.sender, p.who, p.value = c.Accuser, fmt.Sprintf("%d-%d", c.Accuser, c.Accused), c
	case KindAnswer:
		a, err := ceremony.ParseAnswer(payload)
		if err != nil {
			return nil, err
		}
		p.sender, p.who, p.value = a.Dealer, fmt.Sprintf("%d-%d", a.Dealer, a.Recipient), a
	case KindCheck:
		// Deals only accumulate on a board, so a trustee's later checks
		// name more dealers than its earlier ones: one per count allows a
		// check again after a late deal, and at most n of them.
		c, err := ceremony.ParseCheck(payload)
		if err != nil {
			return nil, err
		}
		p.sender, p.who, p.value = c.Checker, fmt.Sprintf("%d-%d", c.Checker, len(c.Dealers)), c
	default:
		return nil, fmt.Errorf("record: unknown ceremony message kind %d", p.kind)
	}
	key := m.TrusteeKey(p.sender)
	if key == nil || !ed25519.Verify(key, signedBytes(m, body), msg[len(body):]) {
		return nil, fmt.Errorf("record: ceremony message is not signed by trustee %d, whose key the manifest names", p.sender)
	}
	return p, nil
}

// Add parses one ceremony entry body and adds it. Messages not signed by
// their sender, from or to indices outside 1..n, and repeats, are refused.
func (c *Ceremony) Add(msg []byte) error {
	p, err := parse(c.m, msg)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%d/%s", p.kind, p.who)
	if c.seen[key] {
		return fmt.Errorf("record: repeated ceremony message ceremony/%s", key)
	}
	n := c.m.Trustees.N
	in := func(i int) bool { return i >= 1 && i <= n }
	switch v := p.value.(type) {
	case *ceremony.Announcement:
		if !in(v.Index) {
			return fmt.Errorf("record: announcement from trustee %d, the election has 1 to %d", v.Index, n)
		}
		c.Anns = append(c.Anns, v)
	case *ceremony.Deal:
		if !in(v.Dealer) {
			return fmt.Errorf("record: deal from trustee %d, the election has 1 to %d", v.Dealer, n)
		}
		c.Deals = append(c.Deals, v)
	case *ceremony.Complaint:
		if !in(v.Accuser) || !in(v.Accused) {
			return fmt.Errorf("record: complaint between trustees %d and %d, the election has 1 to %d", v.Accuser, v.Accused, n)
		}
		c.Complaints = append(c.Complaints, v)
	case *ceremony.Answer:
		if !in(v.Dealer) || !in(v.Recipient) {
			return fmt.Errorf("record: answer between trustees %d and %d, the election has 1 to %d", v.Dealer, v.Recipient, n)
		}
		c.Answers = append(c.Answers, v)
	case *ceremony.Check:
		if !in(v.Checker) || !in(v.Dealers[len(v.Dealers)-1]) {
			return fmt.Errorf("record: check by trustee %d of the deals of trustees %v, the election has 1 to %d", v.Checker, v.Dealers, n)
		}
		c.Checks = append(c.Checks, v)
	}
	c.seen[key] = true
	return nil
}

// Qualify decides the ceremony and returns the open entry it implies. It
// fails when a trustee has not announced its key, and with a
// *ceremony.CeremonyError when fewer than t dealers qualify: no open entry is
// valid then.
func (c *Ceremony) Qualify() (*Open, error) {
	if len(c.Anns) != c.m.Trustees.N {
		return nil, fmt.Errorf("record: %d of %d trustees have announced their keys", len(c.Anns), c.m.Trustees.N)
	}
	res, err := ceremony.Qualify(CeremonyContext(c.m), c.m.Trustees.N, c.m.Trustees.T, c.Anns, c.Deals, c.Complaints, c.Answers)
	if err != nil {
		return nil, err
	}
	o := &Open{Key: res.ElectionKey, VerificationKeys: res.VerificationKeys}
	o.body = openBody{ElectionKey: hex.EncodeToString(res.ElectionKey.Bytes()), Qualified: res.Qualified}
	for _, vk := range res.VerificationKeys {
		o.body.VerificationKeys = append(o.body.VerificationKeys, hex.EncodeToString(vk.Bytes()))
	}
	for _, d := range res.Disqualified {
		o.body.Disqualified = append(o.body.Disqualified, disqualified{Trustee: d.Dealer, Reason: string(d.Fault), Accusers: d.Accusers})
	}
	if o.raw, err = json.Marshal(o.body); err != nil {
		return nil, err
	}
	return o, nil
}

// Open is the open entry: the ceremony's outcome, from which on ballots are
// accepted.
type Open struct {
	Key              *elgamal.PublicKey
	VerificationKeys []*elgamal.PublicKey // [trustee index - 1]
	body             openBody
	raw              []byte
}

// openBody is the open entry's JSON (SPEC.md §7), encoded by
// encoding/json in field order with no whitespace:
//
//	{"election_key":"<hex>","verification_keys":["<hex>",...],"qualified":[1,2],
//	 "disqualified":[{"trustee":3,"reason":"complaints-unanswered","accusers":[1,2]}]}
//
// (on one line), "disqualified" left out when no dealer is and "accusers"
// when the fault names none. Only codes are in it: the sentences for
// people (ceremony.Disqualification.Text) are made from them, so another
// implementation rebuilds the entry without reproducing any English.
type openBody struct {
	ElectionKey      string         `json:"election_key"`
	VerificationKeys []string       `json:"verification_keys"`
	Qualified        []int          `json:"qualified"`
	Disqualified     []disqualified `json:"disqualified,omitempty"`
}

// disqualified is one fault of one dealer: ceremony.Disqualification.
type disqualified struct {
	Trustee  int    `json:"trustee"`
	Reason   string `json:"reason"` // a ceremony.Fault
	Accusers []int  `json:"accusers,omitempty"`
}

// Bytes returns the open entry's body.
func (o *Open) Bytes() []byte { return o.raw }

// Qualified returns the trustees whose deals count.
func (o *Open) Qualified() []int { return o.body.Qualified }

// Disqualified returns the faults of the dealers left out of QUAL, in the
// entry's order (by dealer, then by fault); nil when there are none.
// Print them with their Text or String method; compare them with Equal.
func (o *Open) Disqualified() []ceremony.Disqualification {
	var out []ceremony.Disqualification
	for _, d := range o.body.Disqualified {
		out = append(out, ceremony.Disqualification{Dealer: d.Trustee, Fault: ceremony.Fault(d.Reason), Accusers: d.Accusers})
	}
	return out
}

// ParseOpen decodes an open entry body for manifest m, strictly.
func ParseOpen(m *ballot.Manifest, body []byte) (*Open, error) {
	var ob openBody
	if err := strictjson.Decode(body, &ob); err != nil {
		return nil, fmt.Errorf("record: open entry: %w", err)
	}
	o := &Open{body: ob, raw: append([]byte(nil), body...)}
	var err error
	if o.Key, err = parseKey(ob.ElectionKey); err != nil {
		return nil, fmt.Errorf("record: open entry: election key: %w", err)
	}
	if len(ob.VerificationKeys) != m.Trustees.N {
		return nil, fmt.Errorf("record: open entry has %d verification keys, the election has %d trustees", len(ob.VerificationKeys), m.Trustees.N)
	}
	for i, s := range ob.VerificationKeys {
		vk, err := parseKey(s)
		if err != nil {
			return nil, fmt.Errorf("record: open entry: verification key of trustee %d: %w", i+1, err)
		}
		o.VerificationKeys = append(o.VerificationKeys, vk)
	}
	for _, d := range ob.Disqualified {
		f := ceremony.Fault(d.Reason)
		switch {
		case !f.Valid():
			return nil, fmt.Errorf("record: open entry: trustee %d is disqualified for %q, which is no fault's code (SPEC.md §7)", d.Trustee, d.Reason)
		case f.HasAccusers() != (len(d.Accusers) > 0):
			return nil, fmt.Errorf("record: open entry: trustee %d is disqualified for %s with %d accusers; that fault names accusers exactly when it is about complaints", d.Trustee, d.Reason, len(d.Accusers))
		}
	}
	return o, nil
}

func parseKey(s string) (*elgamal.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || hex.EncodeToString(b) != s {
		return nil, errors.New("not lower-case hex")
	}
	return elgamal.ParsePublicKey(b)
}

// CloseBody returns a close entry's body: the time the board closed, for
// people; the order of entries is what rules.
func CloseBody() []byte {
	b, _ := json.Marshal(struct {
		Closed string `json:"closed"`
	}{time.Now().UTC().Format(time.RFC3339)})
	return b
}
