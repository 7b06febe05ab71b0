package dkg

import (
	"bytes"
	"encoding/hex"
	"testing"
)

var nonCanonical, _ = hex.DecodeString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")

func mutate(b []byte, off int, repl []byte) []byte {
	m := append([]byte(nil), b...)
	copy(m[off:], repl)
	return m
}

func TestStrictParsing(t *testing.T) {
	c := newCeremony(t, 3, 2)
	c.sealBad(t, 1, 2, false)
	c.verify(t)
	c.answer(t, 1)
	dealt := c.trustees[0].Marshal()
	_, shares := c.finalize(t)
	ann, deal, compl, ans := c.anns[0].Marshal(), c.deals[0].Marshal(), c.complaints[0].Marshal(), c.answers[0].Marshal()
	ks, final := shares[0].Marshal(), c.trustees[0].Marshal()

	// X25519 point of order 8 (from the curve's small-subgroup list).
	lowOrder, _ := hex.DecodeString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
	zeroKey := make([]byte, 32)
	commit0 := 5          // first commitment in a deal
	proofR := 5 + 32*2    // Schnorr R in a 2-of-3 deal
	proofZ := proofR + 32 // Schnorr z

	bad := map[string]struct {
		parse func([]byte) error
		b     []byte
	}{}
	add := func(name string, parse func([]byte) error, b []byte) {
		bad[name] = struct {
			parse func([]byte) error
			b     []byte
		}{parse, b}
	}
	pa := func(b []byte) error { _, err := ParseAnnouncement(b); return err }
	pd := func(b []byte) error { _, err := ParseDeal(b); return err }
	pc := func(b []byte) error { _, err := ParseComplaint(b); return err }
	pw := func(b []byte) error { _, err := ParseAnswer(b); return err }
	pk := func(b []byte) error { _, err := ParseKeyShare(b); return err }
	pt := func(b []byte) error { _, err := UnmarshalTrustee(b); return err }

	for name, m := range map[string]struct {
		parse func([]byte) error
		b     []byte
	}{"announcement": {pa, ann}, "deal": {pd, deal}, "complaint": {pc, compl}, "answer": {pw, ans}, "key share": {pk, ks}, "dealt trustee": {pt, dealt}, "final trustee": {pt, final}} {
		add(name+" truncated", m.parse, m.b[:len(m.b)-1])
		add(name+" trailing byte", m.parse, append(append([]byte(nil), m.b...), 0))
		add(name+" version 2", m.parse, mutate(m.b, 0, []byte{2}))
		add(name+" other kind", m.parse, mutate(m.b, 1, []byte{0x7f}))
		add(name+" empty", m.parse, nil)
	}
	add("announcement as deal", pd, ann)
	add("deal as announcement", pa, deal)
	add("announcement index 0", pa, mutate(ann, 2, []byte{0}))
	add("announcement zero key", pa, mutate(ann, 3, zeroKey))
	add("announcement low-order key", pa, mutate(ann, 3, lowOrder))
	add("deal dealer 0", pd, mutate(deal, 2, []byte{0}))
	add("deal t 0", pd, mutate(deal, 3, []byte{0}))
	add("deal n 0", pd, mutate(deal, 4, []byte{0}))
	add("deal count/length mismatch", pd, mutate(deal, 4, []byte{4}))
	add("deal identity commitment", pd, mutate(deal, commit0, make([]byte, 32)))
	add("deal non-canonical commitment", pd, mutate(deal, commit0+32, nonCanonical))
	add("deal identity proof R", pd, mutate(deal, proofR, make([]byte, 32)))
	add("deal non-canonical proof z", pd, mutate(deal, proofZ, bytes.Repeat([]byte{0xff}, 32)))
	add("complaint accuser 0", pc, mutate(compl, 2, []byte{0}))
	add("complaint accused 0", pc, mutate(compl, 3, []byte{0}))
	add("complaint reason 0", pc, mutate(compl, 4, []byte{0}))
	add("complaint reason 3", pc, mutate(compl, 4, []byte{3}))
	add("answer dealer 0", pw, mutate(ans, 2, []byte{0}))
	add("answer recipient 0", pw, mutate(ans, 3, []byte{0}))
	add("answer non-canonical share", pw, mutate(ans, 4, bytes.Repeat([]byte{0xff}, 32)))
	add("key share secret flipped", pk, mutate(ks, len(ks)-96, []byte{ks[len(ks)-96] ^ 1}))
	add("key share index 4 of 3", pk, mutate(ks, 2, []byte{4}))
	add("key share identity vk", pk, mutate(ks, len(ks)-32, make([]byte, 32)))
	add("trustee unknown phase", pt, mutate(dealt, 2, []byte{9}))
	add("trustee t > n", pt, mutate(dealt, 5, []byte{4}))
	ctxLen := len(testContext)
	coeff0 := 2 + 4 + 32 + 4 + ctxLen
	add("trustee coefficient flipped", pt, mutate(dealt, coeff0, []byte{dealt[coeff0] ^ 1}))
	add("trustee index of another", pt, mutate(dealt, 3, []byte{2}))

	for name, m := range bad {
		if err := m.parse(m.b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if testing.Verbose() {
			t.Logf("%s: %v", name, err)
		}
	}
}

// A trustee's state survives encoding at every phase and the ceremony
// continues from the decoded copy (the newCeremony helper reloads at every
// step); here the decoded final state still yields the same key share.
func TestTrusteeStateFinal(t *testing.T) {
	c := newCeremony(t, 3, 2)
	c.verify(t)
	_, shares := c.finalize(t)
	for i, tr := range c.trustees {
		if !bytes.Equal(tr.KeyShare().Marshal(), shares[i].Marshal()) {
			t.Fatalf("trustee %d: reloaded state lost its key share", i+1)
		}
		if _, err := tr.Verify(c.deals); err == nil {
			t.Fatal("finalised trustee verified again")
		}
		if _, err := tr.Deal(nil, c.ctx, c.anns); err == nil {
			t.Fatal("finalised trustee dealt again")
		}
	}
}
