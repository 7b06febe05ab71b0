package ceremony

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/internal/encodingtest"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

var testContext = []byte("manifest hash of test election")

// testCeremony is a ceremony's public messages made without trustees: the
// tests hold every dealer's polynomial in the clear (what crypto/dkg's
// Trustee keeps secret) and fill the sealed shares with random bytes,
// which Qualify never opens. Every message passes through its encoding.
type testCeremony struct {
	n, t       int
	ctx        []byte
	coeffs     [][]*ristretto255.Scalar // [dealer-1][k]
	anns       []*Announcement
	deals      []*Deal
	complaints []*Complaint
	answers    []*Answer
}

// newTestCeremony announces and deals for n trustees, threshold t.
func newTestCeremony(tb testing.TB, n, t int) *testCeremony {
	tb.Helper()
	c := &testCeremony{n: n, t: t, ctx: testContext}
	for i := 1; i <= n; i++ {
		key, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		a := &Announcement{Index: i}
		copy(a.EncryptionKey[:], key.PublicKey().Bytes())
		c.anns = append(c.anns, encodingtest.RoundTrip(tb, a, (*Announcement).Marshal, ParseAnnouncement))

		coeffs := make([]*ristretto255.Scalar, t)
		d := &Deal{Dealer: i, Commitments: make([]*ristretto255.Element, t), EncryptedShares: make([]EncryptedShare, n)}
		for k := range coeffs {
			if coeffs[k], err = elgamal.RandomScalar(nil); err != nil {
				tb.Fatal(err)
			}
			d.Commitments[k] = ristretto255.NewIdentityElement().ScalarBaseMult(coeffs[k])
		}
		c0, err := elgamal.NewPublicKey(d.Commitments[0])
		if err != nil {
			tb.Fatal(err)
		}
		if d.Proof, err = zkp.ProveSchnorr(nil, ProofContext(c.ctx, i, n, t), coeffs[0], c0); err != nil {
			tb.Fatal(err)
		}
		for j := range d.EncryptedShares {
			rand.Read(d.EncryptedShares[j][:])
		}
		c.coeffs = append(c.coeffs, coeffs)
		c.deals = append(c.deals, encodingtest.RoundTrip(tb, d, (*Deal).Marshal, ParseDeal))
	}
	return c
}

// share returns dealer i's share for trustee j, f_i(j).
func (c *testCeremony) share(i, j int) *ristretto255.Scalar {
	x := elgamal.ScalarFromUint64(uint64(j))
	acc := ristretto255.NewScalar()
	for k := len(c.coeffs[i-1]) - 1; k >= 0; k-- {
		acc.Multiply(acc, x)
		acc.Add(acc, c.coeffs[i-1][k])
	}
	return acc
}

// complain adds trustee j's complaint against dealer i.
func (c *testCeremony) complain(tb testing.TB, j, i, reason int) {
	tb.Helper()
	x := &Complaint{Accuser: j, Accused: i, Reason: reason}
	c.complaints = append(c.complaints, encodingtest.RoundTrip(tb, x, (*Complaint).Marshal, ParseComplaint))
}

// answer adds dealer i's answer to trustee j revealing s.
func (c *testCeremony) answer(tb testing.TB, i, j int, s *ristretto255.Scalar) {
	tb.Helper()
	a := &Answer{Dealer: i, Recipient: j, Share: s}
	c.answers = append(c.answers, encodingtest.RoundTrip(tb, a, (*Answer).Marshal, ParseAnswer))
}

func (c *testCeremony) qualify() (*Result, error) {
	return Qualify(c.ctx, c.n, c.t, c.anns, c.deals, c.complaints, c.answers)
}
