package dkg

import (
	"bytes"
	"testing"
)

// seeds returns one encoding of every message kind from a small ceremony.
func seeds(f *testing.F) (ann, deal, complaint, answer, trustee, keyShare []byte) {
	c := newCeremony(f, 3, 2)
	c.sealBad(f, 1, 2, false)
	c.verify(f)
	c.answer(f, 1)
	dealt := c.trustees[0].Marshal()
	_, shares := c.finalize(f)
	return c.anns[0].Marshal(), c.deals[0].Marshal(), c.complaints[0].Marshal(), c.answers[0].Marshal(), dealt, shares[0].Marshal()
}

// fuzzCanonical checks that whatever parse accepts re-encodes to itself.
func fuzzCanonical[T any](f *testing.F, seed []byte, parse func([]byte) (T, error), marshal func(T) []byte) {
	f.Add(seed)
	f.Add(seed[:len(seed)-1])
	f.Add([]byte{version})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(marshal(v), b) {
			t.Fatalf("accepted a non-canonical encoding %x", b)
		}
	})
}

func FuzzParseAnnouncement(f *testing.F) {
	a, _, _, _, _, _ := seeds(f)
	fuzzCanonical(f, a, ParseAnnouncement, (*Announcement).Marshal)
}

func FuzzParseDeal(f *testing.F) {
	_, d, _, _, _, _ := seeds(f)
	fuzzCanonical(f, d, ParseDeal, (*Deal).Marshal)
}

func FuzzParseComplaint(f *testing.F) {
	_, _, c, _, _, _ := seeds(f)
	fuzzCanonical(f, c, ParseComplaint, (*Complaint).Marshal)
}

func FuzzParseAnswer(f *testing.F) {
	_, _, _, a, _, _ := seeds(f)
	fuzzCanonical(f, a, ParseAnswer, (*Answer).Marshal)
}

func FuzzUnmarshalTrustee(f *testing.F) {
	_, _, _, _, tr, _ := seeds(f)
	fuzzCanonical(f, tr, UnmarshalTrustee, (*Trustee).Marshal)
}

func FuzzParseKeyShare(f *testing.F) {
	_, _, _, _, _, ks := seeds(f)
	fuzzCanonical(f, ks, ParseKeyShare, (*KeyShare).Marshal)
}
