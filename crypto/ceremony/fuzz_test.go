package ceremony

import (
	"testing"

	"github.com/evote/evote/crypto/internal/encodingtest"
)

// seeds returns one encoding of every message kind from a small ceremony.
func seeds(f *testing.F) (ann, deal, complaint, answer []byte) {
	c := newTestCeremony(f, 3, 2)
	c.complain(f, 2, 1, ReasonMismatch)
	c.answer(f, 1, 2, c.share(1, 2))
	return c.anns[0].Marshal(), c.deals[0].Marshal(), c.complaints[0].Marshal(), c.answers[0].Marshal()
}

func FuzzParseAnnouncement(f *testing.F) {
	a, _, _, _ := seeds(f)
	encodingtest.FuzzCanonical(f, ParseAnnouncement, (*Announcement).Marshal, a, []byte{Version})
}

func FuzzParseDeal(f *testing.F) {
	_, d, _, _ := seeds(f)
	encodingtest.FuzzCanonical(f, ParseDeal, (*Deal).Marshal, d, []byte{Version})
}

func FuzzParseComplaint(f *testing.F) {
	_, _, c, _ := seeds(f)
	encodingtest.FuzzCanonical(f, ParseComplaint, (*Complaint).Marshal, c, []byte{Version})
}

func FuzzParseAnswer(f *testing.F) {
	_, _, _, a := seeds(f)
	encodingtest.FuzzCanonical(f, ParseAnswer, (*Answer).Marshal, a, []byte{Version})
}

func FuzzParseCheck(f *testing.F) {
	c := &Check{Checker: 2, Dealers: []int{1, 2, 3}}
	encodingtest.FuzzCanonical(f, ParseCheck, (*Check).Marshal, c.Marshal(), []byte{Version})
}
