package dkg

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/ceremony"
	"github.com/evote/evote/crypto/internal/encodingtest"
)

// TestStrictParsing: a trustee's state and its key share have one encoding
// each (the public messages' parsers are crypto/ceremony's, tested there).
func TestStrictParsing(t *testing.T) {
	c := newCeremony(t, 3, 2)
	c.sealBad(t, 1, 2, false)
	c.verify(t)
	c.answer(t, 1)
	dealt := c.trustees[0].Marshal()
	_, shares := c.finalize(t)
	ann, deal := c.anns[0].Marshal(), c.deals[0].Marshal()
	ks, final := shares[0].Marshal(), c.trustees[0].Marshal()

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
	pk := func(b []byte) error { _, err := ParseKeyShare(b); return err }
	pt := func(b []byte) error { _, err := UnmarshalTrustee(b); return err }

	for name, m := range map[string]struct {
		parse func([]byte) error
		b     []byte
	}{"key share": {pk, ks}, "dealt trustee": {pt, dealt}, "final trustee": {pt, final}} {
		add(name+" truncated", m.parse, m.b[:len(m.b)-1])
		add(name+" trailing byte", m.parse, append(append([]byte(nil), m.b...), 0))
		add(name+" version 2", m.parse, encodingtest.Mutate(m.b, 0, []byte{2}))
		add(name+" other kind", m.parse, encodingtest.Mutate(m.b, 1, []byte{0x7f}))
		add(name+" empty", m.parse, nil)
	}
	// The secret encodings and the public messages share one set of kinds.
	add("announcement as trustee", pt, ann)
	add("deal as key share", pk, deal)
	add("trustee as deal", pd, dealt)
	add("key share as announcement", pa, ks)
	add("key share as trustee", pt, ks)
	add("key share secret flipped", pk, encodingtest.Mutate(ks, len(ks)-96, []byte{ks[len(ks)-96] ^ 1}))
	add("key share index 4 of 3", pk, encodingtest.Mutate(ks, 2, []byte{4}))
	add("key share identity vk", pk, encodingtest.Mutate(ks, len(ks)-32, make([]byte, 32)))
	add("trustee unknown phase", pt, encodingtest.Mutate(dealt, 2, []byte{9}))
	add("trustee t > n", pt, encodingtest.Mutate(dealt, 5, []byte{4}))
	ctxLen := len(testContext)
	coeff0 := 2 + 4 + 32 + 4 + ctxLen
	add("trustee coefficient flipped", pt, encodingtest.Mutate(dealt, coeff0, []byte{dealt[coeff0] ^ 1}))
	add("trustee index of another", pt, encodingtest.Mutate(dealt, 3, []byte{2}))

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

// TestTrusteeAnnouncements: every fresh trustee's announcement parses (its
// key is canonical and not of low order).
func TestTrusteeAnnouncements(t *testing.T) {
	for range 20 {
		_, a, err := NewTrustee(nil, 1, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseAnnouncement(a.Marshal()); err != nil {
			t.Fatalf("a fresh trustee's announcement: %v", err)
		}
	}
}

// TestEncryptionKeyCheckIsHPKE: for a canonical key, crypto/ceremony's
// check (on crypto/ecdh) refuses exactly the keys HPKE cannot seal a share
// to, whatever the randomness of the sealing.
func TestEncryptionKeyCheckIsHPKE(t *testing.T) {
	var keys [][]byte
	for _, h := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000", // 0
		"0100000000000000000000000000000000000000000000000000000000000000", // 1
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1
		"0200000000000000000000000000000000000000000000000000000000000000",
		"0900000000000000000000000000000000000000000000000000000000000000",
		"ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-2
	} {
		b, _ := hex.DecodeString(h)
		keys = append(keys, b)
	}
	for range 20 {
		b := make([]byte, 32)
		rand.Read(b)
		b[31] &= 0x7f // below 2^255, and almost surely below p
		keys = append(keys, b)
	}
	for range 5 {
		tr, _, err := NewTrustee(nil, 1, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tr.ann.EncryptionKey[:])
	}
	s := scalarInt(5)
	for _, k := range keys {
		err := ceremony.CheckEncryptionKey(k)
		if err != nil && strings.Contains(err.Error(), "not a canonical") {
			continue
		}
		for range 3 {
			_, sealErr := sealShare(nil, k, []byte("info"), s)
			if (err == nil) != (sealErr == nil) {
				t.Errorf("key %x: the check says %v, HPKE sealing %v", k, err, sealErr)
			}
		}
	}
}
