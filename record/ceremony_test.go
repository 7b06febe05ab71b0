package record_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
)

// ceremony is a key ceremony of its own for an election's manifest, its
// messages signed with the trustees' keys the manifest names, so that a
// test can make each trustee misbehave.
type ceremony struct {
	m        *ballot.Manifest
	keys     []ed25519.PrivateKey
	trustees []*dkg.Trustee
	anns     []*dkg.Announcement
	deals    []*dkg.Deal
}

func newCeremony(t *testing.T, o electiontest.Options) *ceremony {
	t.Helper()
	e := electiontest.New(t, o)
	c := &ceremony{m: e.Board.Manifest(), keys: e.TrusteeKeys}
	n, th := c.m.Trustees.N, c.m.Trustees.T
	for i := 1; i <= n; i++ {
		tr, ann, err := dkg.NewTrustee(nil, i, n, th)
		if err != nil {
			t.Fatal(err)
		}
		c.trustees, c.anns = append(c.trustees, tr), append(c.anns, ann)
	}
	for _, tr := range c.trustees {
		d, err := tr.Deal(nil, record.CeremonyContext(c.m), c.anns)
		if err != nil {
			t.Fatal(err)
		}
		c.deals = append(c.deals, d)
	}
	return c
}

// sign makes the ceremony entry of a message from sender.
func (c *ceremony) sign(sender int, kind byte, payload []byte) []byte {
	return record.Sign(c.m, c.keys[sender-1], kind, payload)
}

// entries are the announcements and the deals (dealers in deals only) as
// ceremony entries.
func (c *ceremony) entries(deals ...int) [][]byte {
	var out [][]byte
	for _, a := range c.anns {
		out = append(out, c.sign(a.Index, record.KindAnnouncement, a.Marshal()))
	}
	for _, i := range deals {
		out = append(out, c.sign(i, record.KindDeal, c.deals[i-1].Marshal()))
	}
	return out
}

func complaint(accuser, accused, reason int) []byte {
	return (&dkg.Complaint{Accuser: accuser, Accused: accused, Reason: reason}).Marshal()
}

func decide(t *testing.T, m *ballot.Manifest, entries [][]byte) (*record.Open, error) {
	t.Helper()
	cer := record.NewCeremony(m)
	for k, b := range entries {
		if err := cer.Add(b); err != nil {
			t.Fatalf("entry %d: %v", k, err)
		}
	}
	return cer.Qualify()
}

// openHead is the open entry up to its qualified list: the keys, in hex.
func openHead(o *record.Open) string {
	var vks []string
	for _, vk := range o.VerificationKeys {
		vks = append(vks, `"`+hex.EncodeToString(vk.Bytes())+`"`)
	}
	return fmt.Sprintf(`{"election_key":"%x","verification_keys":[%s],"qualified":`, o.Key.Bytes(), strings.Join(vks, ","))
}

// TestOpenEntryBytes pins the open entry's bytes (SPEC.md §7): no white
// space, fields in order, "disqualified" only when a dealer has a fault,
// one object per fault by dealer and then by the table's order, each with
// its code and, for the complaint faults only, the accusers ascending. No
// English is in it.
func TestOpenEntryBytes(t *testing.T) {
	t.Run("no faults", func(t *testing.T) {
		c := newCeremony(t, electiontest.Options{})
		o, err := decide(t, c.m, c.entries(1, 2, 3))
		if err != nil {
			t.Fatal(err)
		}
		if want := openHead(o) + `[1,2,3]}`; string(o.Bytes()) != want {
			t.Fatalf("open entry\n%s\nwant\n%s", o.Bytes(), want)
		}
		if o.Disqualified() != nil {
			t.Errorf("disqualified %v", o.Disqualified())
		}
	})
	t.Run("complaints unanswered", func(t *testing.T) {
		c := newCeremony(t, electiontest.Options{})
		es := append(c.entries(1, 2, 3), c.sign(2, record.KindComplaint, complaint(2, 3, dkg.ReasonMismatch)), c.sign(1, record.KindComplaint, complaint(1, 3, dkg.ReasonUndecryptable)))
		o, err := decide(t, c.m, es)
		if err != nil {
			t.Fatal(err)
		}
		if want := openHead(o) + `[1,2],"disqualified":[{"trustee":3,"reason":"complaints-unanswered","accusers":[1,2]}]}`; string(o.Bytes()) != want {
			t.Fatalf("open entry\n%s\nwant\n%s", o.Bytes(), want)
		}
		d := o.Disqualified()
		if len(d) != 1 || d[0].String() != "trustee 3 did not answer the complaints of trustees [1 2]" {
			t.Errorf("disqualified %v", d)
		}
	})
	t.Run("every fault", func(t *testing.T) {
		// 7 trustees, threshold 2: 1 and 7 deal honestly; 2 deals for
		// t = 3, 3 for n = 6, 4 leaves trustee 1's complaint unanswered
		// and answers trustee 5's and 6's wrongly, 5 publishes another's
		// proof and 6 does not deal.
		c := newCeremony(t, electiontest.Options{N: 7, T: 2})
		c.deals[1].Commitments = append(c.deals[1].Commitments, elgamal.Generator())
		c.deals[2].EncryptedShares = c.deals[2].EncryptedShares[:6]
		c.deals[4].Proof = c.deals[0].Proof
		es := c.entries(1, 2, 3, 4, 5, 7)
		for _, j := range []int{6, 1, 5} {
			es = append(es, c.sign(j, record.KindComplaint, complaint(j, 4, dkg.ReasonMismatch)))
		}
		for _, j := range []int{5, 6} {
			es = append(es, c.sign(4, record.KindAnswer, (&dkg.Answer{Dealer: 4, Recipient: j, Share: elgamal.ScalarFromUint64(uint64(j))}).Marshal()))
		}
		// Complaints against a publicly bad deal are not looked at.
		es = append(es, c.sign(1, record.KindComplaint, complaint(1, 2, dkg.ReasonUndecryptable)))
		o, err := decide(t, c.m, es)
		if err != nil {
			t.Fatal(err)
		}
		want := openHead(o) + `[1,7],"disqualified":[{"trustee":2,"reason":"wrong-t"},{"trustee":3,"reason":"wrong-n"},` +
			`{"trustee":4,"reason":"complaints-unanswered","accusers":[1]},{"trustee":4,"reason":"bad-answer","accusers":[5,6]},` +
			`{"trustee":5,"reason":"bad-proof"},{"trustee":6,"reason":"no-deal"}]}`
		if string(o.Bytes()) != want {
			t.Fatalf("open entry\n%s\nwant\n%s", o.Bytes(), want)
		}
		// The same messages in any order decide the same bytes.
		r := rand.New(rand.NewPCG(3, 4))
		for range 10 {
			r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
			if o2, err := decide(t, c.m, es); err != nil || !bytes.Equal(o2.Bytes(), o.Bytes()) {
				t.Fatalf("another order of the ceremony entries: %v\n%s", err, o2.Bytes())
			}
		}
		// ParseOpen reads the faults back as they were decided.
		p, err := record.ParseOpen(c.m, o.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(p.Disqualified()) != fmt.Sprint(o.Disqualified()) || len(p.Disqualified()) != 6 {
			t.Fatalf("parsed faults %v, decided %v", p.Disqualified(), o.Disqualified())
		}
	})
}

// TestAttackOpenEntryFaults: ParseOpen refuses a disqualification that
// is no fault of SPEC.md §7: an unknown code (an English sentence, as
// evote wrote before), accusers on a fault that names none, none on one
// that must name them.
func TestAttackOpenEntryFaults(t *testing.T) {
	c := newCeremony(t, electiontest.Options{})
	o, err := decide(t, c.m, c.entries(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	head := openHead(o)
	if want := head + `[1,2],"disqualified":[{"trustee":3,"reason":"no-deal"}]}`; string(o.Bytes()) != want {
		t.Fatalf("open entry\n%s\nwant\n%s", o.Bytes(), want)
	}
	for _, tc := range []struct{ d, want string }{
		{`{"trustee":3,"reason":"published no deal"}`, `disqualified for "published no deal", which is no fault's code`},
		{`{"trustee":3,"reason":"bad-deal"}`, "which is no fault's code"},
		{`{"trustee":3,"reason":"NO-DEAL"}`, "which is no fault's code"},
		{`{"trustee":3,"reason":"no-deal","accusers":[1]}`, "no-deal with 1 accusers"},
		{`{"trustee":3,"reason":"complaints-unanswered"}`, "complaints-unanswered with 0 accusers"},
	} {
		body := head + `[1,2],"disqualified":[` + tc.d + `]}`
		if _, err := record.ParseOpen(c.m, []byte(body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.d, err, tc.want)
		}
	}
}

// TestRefusedOrDisqualified: what does not parse, is not signed by its
// sender, names a trustee outside 1..n or repeats is refused (the record
// is invalid: SPEC.md §7); a well-formed deal for the wrong t or n, a
// self-complaint and an answer nobody asked for are valid entries, and the
// first only disqualifies its dealer.
func TestRefusedOrDisqualified(t *testing.T) {
	c := newCeremony(t, electiontest.Options{})
	deal := c.deals[0].Marshal()
	with := func(b []byte, off int, v byte) []byte { b = bytes.Clone(b); b[off] = v; return b }
	ann := c.anns[1].Marshal()
	lowOrder, _ := hex.DecodeString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
	nonCanonical, _ := hex.DecodeString("0900000000000000000000000000000000000000000000000000000000000080")
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"deal with t = 0", c.sign(1, record.KindDeal, with(deal, 3, 0)), "both must be at least 1"},
		{"deal with n = 0", c.sign(1, record.KindDeal, with(deal, 4, 0)), "both must be at least 1"},
		{"complaint reason 0", c.sign(1, record.KindComplaint, complaint(1, 2, 0)), "unknown reason 0"},
		{"complaint reason 3", c.sign(1, record.KindComplaint, complaint(1, 2, 3)), "unknown reason 3"},
		{"complaint about trustee 4 of 3", c.sign(1, record.KindComplaint, complaint(1, 4, 1)), "the election has 1 to 3"},
		{"announcement with a low-order key", c.sign(2, record.KindAnnouncement, append(ann[:3:3], lowOrder...)), "low-order X25519 point"},
		{"announcement with a non-canonical key", c.sign(2, record.KindAnnouncement, append(ann[:3:3], nonCanonical...)), "not a canonical X25519 key"},
		{"answer by trustee 1 signed by trustee 2", c.sign(2, record.KindAnswer, (&dkg.Answer{Dealer: 1, Recipient: 2, Share: elgamal.ScalarFromUint64(1)}).Marshal()), "not signed by trustee 1"},
	} {
		if err := record.NewCeremony(c.m).Add(tc.msg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// One complaint per (accuser, accused), whatever its reason.
	cer := record.NewCeremony(c.m)
	if err := cer.Add(c.sign(1, record.KindComplaint, complaint(1, 2, 1))); err != nil {
		t.Fatal(err)
	}
	if err := cer.Add(c.sign(1, record.KindComplaint, complaint(1, 2, 2))); err == nil || !strings.Contains(err.Error(), "repeated ceremony message") {
		t.Errorf("a second complaint with another reason: %v", err)
	}

	// Valid entries: a deal for t = 3 and one for n = 2 in a 2-of-3
	// election (they disqualify), a self-complaint and an answer to it,
	// an answer with no complaint.
	wrongT := *c.deals[1]
	wrongT.Commitments = append(wrongT.Commitments, elgamal.Generator())
	wrongN := *c.deals[2]
	wrongN.EncryptedShares = wrongN.EncryptedShares[:2]
	es := append(c.entries(1), c.sign(2, record.KindDeal, wrongT.Marshal()), c.sign(3, record.KindDeal, wrongN.Marshal()))
	if _, err := decide(t, c.m, es); err == nil || !strings.Contains(err.Error(), "only 1 of 3 dealers qualified") {
		t.Fatalf("a ceremony with one qualified dealer of threshold 2: %v", err)
	}
	self, _ := c.trustees[0].Answer([]*dkg.Complaint{{Accuser: 1, Accused: 1, Reason: 2}})
	es = append(c.entries(1, 3), c.sign(2, record.KindDeal, wrongT.Marshal()),
		c.sign(1, record.KindComplaint, complaint(1, 1, 2)), c.sign(1, record.KindAnswer, self[0].Marshal()),
		c.sign(3, record.KindAnswer, (&dkg.Answer{Dealer: 3, Recipient: 2, Share: elgamal.ScalarFromUint64(5)}).Marshal()))
	o, err := decide(t, c.m, es)
	if err != nil {
		t.Fatal(err)
	}
	if want := openHead(o) + `[1,3],"disqualified":[{"trustee":2,"reason":"wrong-t"}]}`; string(o.Bytes()) != want {
		t.Fatalf("open entry\n%s\nwant\n%s", o.Bytes(), want)
	}
}

// TestQualifyNeedsEveryAnnouncement: with a trustee's announcement
// missing the ceremony decides no key, even if every deal is there.
func TestQualifyNeedsEveryAnnouncement(t *testing.T) {
	c := newCeremony(t, electiontest.Options{})
	es := c.entries(1, 2, 3)
	es = append(es[:2:2], es[3:]...) // without trustee 3's announcement
	if _, err := decide(t, c.m, es); err == nil || !strings.Contains(err.Error(), "2 of 3 trustees have announced") {
		t.Fatalf("Qualify without an announcement: %v", err)
	}
}
