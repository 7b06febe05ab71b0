package zkp_test

import (
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

func orFixture(t *testing.T, m uint64) (*elgamal.PublicKey, *elgamal.Ciphertext, *ristretto255.Scalar, *zkp.OrProof) {
	t.Helper()
	_, pk, err := elgamal.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := elgamal.RandomScalar(nil)
	ct := elgamal.Encrypt(pk, m, r)
	p, err := zkp.ProveOr(nil, []byte("ctx"), pk, ct, r, zkp.ZeroOne(), int(m))
	if err != nil {
		t.Fatal(err)
	}
	if err := zkp.VerifyOr([]byte("ctx"), pk, ct, zkp.ZeroOne(), p); err != nil {
		t.Fatal(err)
	}
	return pk, ct, r, p
}

// The Or proof's challenge must cover the context, the key, the ciphertext
// and the values: changing any one of them breaks the proof.
func TestAttackOrTranscriptBindsWholeStatement(t *testing.T) {
	pk, ct, _, p := orFixture(t, 1)
	_, pk2, _ := elgamal.GenerateKey(nil)
	r2, _ := elgamal.RandomScalar(nil)
	ct2 := elgamal.Encrypt(pk, 1, r2)
	rr, _ := elgamal.RandomScalar(nil)
	cases := map[string]error{
		"other context":    zkp.VerifyOr([]byte("ctx2"), pk, ct, zkp.ZeroOne(), p),
		"other key":        zkp.VerifyOr([]byte("ctx"), pk2, ct, zkp.ZeroOne(), p),
		"other ciphertext": zkp.VerifyOr([]byte("ctx"), pk, ct2, zkp.ZeroOne(), p),
		"rerandomized ct":  zkp.VerifyOr([]byte("ctx"), pk, elgamal.Rerandomize(pk, ct, rr), zkp.ZeroOne(), p),
		"values swapped":   zkp.VerifyOr([]byte("ctx"), pk, ct, []uint64{1, 0}, p),
		"values {0,2}":     zkp.VerifyOr([]byte("ctx"), pk, ct, []uint64{0, 2}, p),
		"values {1,1}":     zkp.VerifyOr([]byte("ctx"), pk, ct, []uint64{1, 1}, p),
		"three values":     zkp.VerifyOr([]byte("ctx"), pk, ct, []uint64{0, 1, 2}, p),
		"one value":        zkp.VerifyOr([]byte("ctx"), pk, ct, []uint64{1}, p),
		"no values":        zkp.VerifyOr([]byte("ctx"), pk, ct, nil, p),
	}
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: proof still verifies", name)
		}
	}
}

// A voter cannot prove a 0/1 statement about 2 or about -1 (a negative vote
// that would cancel another's), whichever branch it pretends is real.
func TestAttackOrProofForValueTwoOrMinusOne(t *testing.T) {
	_, pk, _ := elgamal.GenerateKey(nil)
	r, _ := elgamal.RandomScalar(nil)
	two := elgamal.Encrypt(pk, 2, r)
	zeroCt := elgamal.Encrypt(pk, 0, r)
	minusOne := elgamal.NewCiphertext(zeroCt.A(), ristretto255.NewIdentityElement().Subtract(zeroCt.B(), elgamal.Generator()))
	minusOne, err := elgamal.ParseCiphertext(minusOne.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for name, ct := range map[string]*elgamal.Ciphertext{"2": two, "-1": minusOne} {
		for idx := 0; idx < 2; idx++ {
			p, err := zkp.ProveOr(nil, []byte("ctx"), pk, ct, r, zkp.ZeroOne(), idx)
			if err != nil {
				t.Fatal(err)
			}
			if zkp.VerifyOr([]byte("ctx"), pk, ct, zkp.ZeroOne(), p) == nil {
				t.Errorf("a 0/1 proof for an encryption of %s verified (branch %d)", name, idx)
			}
			q, err := zkp.ParseOr(p.Bytes(), 2)
			if err != nil {
				t.Fatal(err)
			}
			b := zkp.NewBatch(pk)
			q.AddTo(b, []byte("ctx"), pk, ct, zkp.ZeroOne())
			if b.Verify() {
				t.Errorf("batch accepted a 0/1 proof for %s", name)
			}
		}
	}
}

// Swapping the branches, or shifting challenge weight from one branch to
// the other (keeping their sum), must not give another valid proof.
func TestAttackOrProofMalleation(t *testing.T) {
	pk, ct, _, p := orFixture(t, 0)
	enc := p.Bytes()
	n := 2
	swap := func(b []byte, i, j, size int) {
		tmp := append([]byte(nil), b[i:i+size]...)
		copy(b[i:i+size], b[j:j+size])
		copy(b[j:j+size], tmp)
	}
	// Swap both commitments, challenges and responses of branch 0 and 1.
	m := append([]byte(nil), enc...)
	swap(m, 0, 64, 64)
	swap(m, 64*n, 64*n+32, 32)
	swap(m, 96*n, 96*n+32, 32)
	// Move delta from c0 to c1.
	c0, _ := elgamal.ParseScalar(enc[64*n : 64*n+32])
	c1, _ := elgamal.ParseScalar(enc[64*n+32 : 64*n+64])
	delta := elgamal.ScalarFromUint64(7)
	shifted := append([]byte(nil), enc...)
	copy(shifted[64*n:], ristretto255.NewScalar().Add(c0, delta).Bytes())
	copy(shifted[64*n+32:], ristretto255.NewScalar().Subtract(c1, delta).Bytes())
	for name, b := range map[string][]byte{"branches swapped": m, "challenge shifted": shifted} {
		q, err := zkp.ParseOr(b, 2)
		if err != nil {
			continue
		}
		if zkp.VerifyOr([]byte("ctx"), pk, ct, zkp.ZeroOne(), q) == nil {
			t.Errorf("%s: malleated proof verifies", name)
		}
	}
	// A response plus the group order is not canonical and is refused.
	nc := append([]byte(nil), enc...)
	l := []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	copy(nc[96*n:], l)
	if _, err := zkp.ParseOr(nc, 2); err == nil {
		t.Error("ParseOr accepted a response equal to the group order")
	}
}

// A proof parsed for 2 values but checked against 3 (or 1) must fail the
// whole batch, even when every other proof in it is valid.
func TestAttackBatchArityMismatchFailsBatch(t *testing.T) {
	pk, ct, _, p := orFixture(t, 1)
	b := zkp.NewBatch(pk)
	p.AddTo(b, []byte("ctx"), pk, ct, zkp.ZeroOne())
	if !b.Verify() {
		t.Fatal("valid proof refused")
	}
	for _, vs := range [][]uint64{{0, 1, 2}, {1}, nil} {
		b := zkp.NewBatch(pk)
		p.AddTo(b, []byte("ctx"), pk, ct, zkp.ZeroOne())
		p.AddTo(b, []byte("ctx"), pk, ct, vs)
		if b.Verify() {
			t.Errorf("batch with a proof checked against %d values verified", len(vs))
		}
	}
	if !zkp.NewBatch(pk).Verify() || !zkp.NewBatch(nil).Verify() {
		t.Error("an empty batch should hold")
	}
}

// Terms on the election key are merged when the proof's key equals the
// batch's by bytes; a proof under another key must still be checked against
// that key, not the batch's, and a key equal by bytes but another pointer
// must merge correctly.
func TestAttackBatchKeyMerging(t *testing.T) {
	pk1, ct1, _, p1 := orFixture(t, 1)
	pk2, ct2, _, p2 := orFixture(t, 0)
	same, err := elgamal.ParsePublicKey(pk1.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b := zkp.NewBatch(pk1)
	p1.AddTo(b, []byte("ctx"), same, ct1, zkp.ZeroOne())
	p2.AddTo(b, []byte("ctx"), pk2, ct2, zkp.ZeroOne())
	if !b.Verify() {
		t.Fatal("valid proofs under two keys refused in one batch")
	}
	// p2 claimed under the batch key (pk1): must fail.
	b = zkp.NewBatch(pk1)
	p1.AddTo(b, []byte("ctx"), pk1, ct1, zkp.ZeroOne())
	p2.AddTo(b, []byte("ctx"), pk1, ct2, zkp.ZeroOne())
	if b.Verify() {
		t.Fatal("a proof made under another key verified under the batch key")
	}
	// p1 claimed under pk2 in a batch keyed pk1.
	b = zkp.NewBatch(pk1)
	p1.AddTo(b, []byte("ctx"), pk2, ct1, zkp.ZeroOne())
	if b.Verify() {
		t.Fatal("a proof verified under a key it was not made for")
	}
}

// Two false proofs must not cancel each other in a batch: each equation has
// its own random weight.
func TestAttackBatchCancellingFalseProofs(t *testing.T) {
	pk, ct, _, p := orFixture(t, 1)
	// The same valid proof against the wrong ciphertext twice, with the
	// ciphertexts chosen so that their errors are opposite.
	r, _ := elgamal.RandomScalar(nil)
	d := elgamal.Encrypt(pk, 0, r)
	plus := elgamal.Add(ct, d)
	minus := elgamal.NewCiphertext(
		ristretto255.NewIdentityElement().Subtract(ct.A(), d.A()),
		ristretto255.NewIdentityElement().Subtract(ct.B(), d.B()))
	b := zkp.NewBatch(pk)
	p.AddTo(b, []byte("ctx"), pk, plus, zkp.ZeroOne())
	p.AddTo(b, []byte("ctx"), pk, minus, zkp.ZeroOne())
	if b.Verify() {
		t.Fatal("two false proofs cancelled in a batch")
	}
}
