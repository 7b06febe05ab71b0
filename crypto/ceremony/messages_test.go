package ceremony

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/internal/encodingtest"
)

var nonCanonical, _ = hex.DecodeString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")

// TestStrictParsing: each message has one encoding; whatever else comes
// close is refused, with an error that begins "dkg: " (the record's
// verifier prints it without that prefix).
func TestStrictParsing(t *testing.T) {
	c := newTestCeremony(t, 3, 2)
	c.complain(t, 2, 1, ReasonMismatch)
	c.answer(t, 1, 2, c.share(1, 2))
	ann, deal, compl, ans := c.anns[0].Marshal(), c.deals[0].Marshal(), c.complaints[0].Marshal(), c.answers[0].Marshal()
	check := (&Check{Checker: 2, Dealers: []int{1, 3}}).Marshal()

	// X25519 point of order 8 (from the curve's small-subgroup list).
	lowOrder, _ := hex.DecodeString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
	zeroKey := make([]byte, 32)
	commit0 := 5          // first commitment in a deal
	proofR := 5 + 32*2    // Schnorr R in a 2-of-3 deal
	proofZ := proofR + 32 // Schnorr z

	type parser = func([]byte) error
	bad := map[string]struct {
		parse parser
		b     []byte
	}{}
	add := func(name string, parse parser, b []byte) {
		bad[name] = struct {
			parse parser
			b     []byte
		}{parse, b}
	}
	pa := func(b []byte) error { _, err := ParseAnnouncement(b); return err }
	pd := func(b []byte) error { _, err := ParseDeal(b); return err }
	pc := func(b []byte) error { _, err := ParseComplaint(b); return err }
	pw := func(b []byte) error { _, err := ParseAnswer(b); return err }
	pk := func(b []byte) error { _, err := ParseCheck(b); return err }

	for name, m := range map[string]struct {
		parse parser
		b     []byte
	}{"announcement": {pa, ann}, "deal": {pd, deal}, "complaint": {pc, compl}, "answer": {pw, ans}, "check": {pk, check}} {
		if err := m.parse(m.b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		add(name+" truncated", m.parse, m.b[:len(m.b)-1])
		add(name+" trailing byte", m.parse, append(append([]byte(nil), m.b...), 0))
		add(name+" version 2", m.parse, encodingtest.Mutate(m.b, 0, []byte{2}))
		add(name+" other kind", m.parse, encodingtest.Mutate(m.b, 1, []byte{0x7f}))
		add(name+" empty", m.parse, nil)
		add(name+" as a trustee state's kind", m.parse, encodingtest.Mutate(m.b, 1, []byte{byte(KindTrustee)}))
		add(name+" as a key share's kind", m.parse, encodingtest.Mutate(m.b, 1, []byte{byte(KindKeyShare)}))
	}
	add("announcement as deal", pd, ann)
	add("deal as announcement", pa, deal)
	add("announcement index 0", pa, encodingtest.Mutate(ann, 2, []byte{0}))
	add("announcement zero key", pa, encodingtest.Mutate(ann, 3, zeroKey))
	add("announcement low-order key", pa, encodingtest.Mutate(ann, 3, lowOrder))
	add("announcement non-canonical key", pa, encodingtest.Mutate(ann, 3, nonCanonical))
	add("deal dealer 0", pd, encodingtest.Mutate(deal, 2, []byte{0}))
	add("deal t 0", pd, encodingtest.Mutate(deal, 3, []byte{0}))
	add("deal n 0", pd, encodingtest.Mutate(deal, 4, []byte{0}))
	add("deal count/length mismatch", pd, encodingtest.Mutate(deal, 4, []byte{4}))
	add("deal identity commitment", pd, encodingtest.Mutate(deal, commit0, make([]byte, 32)))
	add("deal non-canonical commitment", pd, encodingtest.Mutate(deal, commit0+32, nonCanonical))
	add("deal identity proof R", pd, encodingtest.Mutate(deal, proofR, make([]byte, 32)))
	add("deal non-canonical proof z", pd, encodingtest.Mutate(deal, proofZ, bytes.Repeat([]byte{0xff}, 32)))
	add("complaint accuser 0", pc, encodingtest.Mutate(compl, 2, []byte{0}))
	add("complaint accused 0", pc, encodingtest.Mutate(compl, 3, []byte{0}))
	add("complaint reason 0", pc, encodingtest.Mutate(compl, 4, []byte{0}))
	add("complaint reason 3", pc, encodingtest.Mutate(compl, 4, []byte{3}))
	add("answer dealer 0", pw, encodingtest.Mutate(ans, 2, []byte{0}))
	add("answer recipient 0", pw, encodingtest.Mutate(ans, 3, []byte{0}))
	add("answer non-canonical share", pw, encodingtest.Mutate(ans, 4, bytes.Repeat([]byte{0xff}, 32)))
	add("check checker 0", pk, encodingtest.Mutate(check, 2, []byte{0}))
	add("check shorter than its header", pk, check[:CheckSize-1])
	add("check count 0", pk, encodingtest.Mutate(check[:CheckSize], 3, []byte{0}))
	add("check count above its dealers", pk, encodingtest.Mutate(check, 3, []byte{3}))
	add("check dealer 0", pk, []byte{Version, byte(KindCheck), 2, 2, 0, 1})
	add("check dealers descending", pk, []byte{Version, byte(KindCheck), 2, 2, 3, 1})
	add("check dealer twice", pk, []byte{Version, byte(KindCheck), 2, 2, 1, 1})
	add("check as complaint", pc, check)

	for name, m := range bad {
		err := m.parse(m.b)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", name)
		case !strings.HasPrefix(err.Error(), "dkg: "):
			t.Errorf("%s: %q does not begin %q", name, err, "dkg: ")
		case testing.Verbose():
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestKindErrors: a message of another kind is named, the secret kinds of
// crypto/dkg included.
func TestKindErrors(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		kind Kind
		want string
	}{
		{KindDeal.Header(), KindAnnouncement, `dkg: expected a message of kind "announcement", got one of kind "deal"`},
		{KindTrustee.Header(), KindAnswer, `dkg: expected a message of kind "answer", got one of kind "trustee state"`},
		{KindAnswer.Header(), KindKeyShare, `dkg: expected a message of kind "key share", got one of kind "answer"`},
		{[]byte{Version, 0x7f}, KindComplaint, `dkg: expected a message of kind "complaint", got unknown kind 0x7f`},
		{[]byte{2, byte(KindDeal)}, KindDeal, "dkg: deal has encoding version 2, this code reads version 1"},
		{[]byte{Version}, KindDeal, "dkg: deal is 1 bytes, too short for a header"},
	} {
		if err := CheckHeader(tc.b, tc.kind); err == nil || err.Error() != tc.want {
			t.Errorf("CheckHeader(%x, %s): %v, want %q", tc.b, kindNames[tc.kind], err, tc.want)
		}
	}
	for k := range kindNames {
		if err := CheckHeader(k.Header(), k); err != nil {
			t.Errorf("kind %s: %v", kindNames[k], err)
		}
	}
}
