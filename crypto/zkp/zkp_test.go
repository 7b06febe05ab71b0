package zkp

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

var (
	ctx      = []byte("manifest-hash|election-key|token-key|q0c1")
	otherCtx = []byte("manifest-hash|election-key|token-key|q0c2")
)

func key(t testing.TB) (*ristretto255.Scalar, *elgamal.PublicKey) {
	t.Helper()
	x, pk, err := elgamal.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return x, pk
}

func scalar(t testing.TB) *ristretto255.Scalar {
	s, err := elgamal.RandomScalar(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// slotMutations returns, for every 32-byte slot of enc, variants with the
// slot replaced by: another valid point or scalar, the identity / zero, a
// non-canonical encoding, and one flipped bit. A sound parser+verifier must
// refuse each of them.
func slotMutations(enc []byte) map[string][]byte {
	other := ristretto255.NewGeneratorElement().Bytes()
	id := make([]byte, 32)
	nonCanon, _ := hex.DecodeString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	out := map[string][]byte{}
	for off := 0; off < len(enc); off += 32 {
		for name, repl := range map[string][]byte{"other": other, "identity/zero": id, "non-canonical": nonCanon} {
			m := append([]byte(nil), enc...)
			copy(m[off:], repl)
			if !bytes.Equal(m, enc) {
				out[name+"@"+itoa(off)] = m
			}
		}
		m := append([]byte(nil), enc...)
		m[off] ^= 0x04
		out["bitflip@"+itoa(off)] = m
	}
	out["truncated"] = enc[:len(enc)-1]
	out["extended"] = append(append([]byte(nil), enc...), 0)
	return out
}

func itoa(i int) string {
	return string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func TestSchnorr(t *testing.T) {
	x, X := key(t)
	p, err := ProveSchnorr(nil, ctx, x, X)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySchnorr(ctx, X, p); err != nil {
		t.Fatalf("honest proof refused: %v", err)
	}
	q, err := ParseSchnorr(p.Bytes())
	if err != nil || VerifySchnorr(ctx, X, q) != nil {
		t.Fatalf("round-tripped proof refused: %v", err)
	}
	_, Y := key(t)
	if VerifySchnorr(ctx, Y, p) == nil {
		t.Error("proof verified for another public key (wrong statement)")
	}
	if VerifySchnorr(otherCtx, X, p) == nil {
		t.Error("proof verified under another context")
	}
	for name, m := range slotMutations(p.Bytes()) {
		if q, err := ParseSchnorr(m); err == nil && VerifySchnorr(ctx, X, q) == nil {
			t.Errorf("tampered proof (%s) verified", name)
		}
	}
	// A proof with the wrong witness is refused.
	bad, _ := ProveSchnorr(nil, ctx, scalar(t), X)
	if VerifySchnorr(ctx, X, bad) == nil {
		t.Error("proof with the wrong secret verified")
	}
}

func TestDLEQ(t *testing.T) {
	x, X := key(t)
	B := ristretto255.NewIdentityElement().ScalarBaseMult(scalar(t))
	Y := ristretto255.NewIdentityElement().ScalarMult(x, B)
	p, err := ProveDLEQ(nil, ctx, x, X, B, Y)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDLEQ(ctx, X, B, Y, p); err != nil {
		t.Fatalf("honest proof refused: %v", err)
	}
	q, err := ParseDLEQ(p.Bytes())
	if err != nil || VerifyDLEQ(ctx, X, B, Y, q) != nil {
		t.Fatalf("round-tripped proof refused: %v", err)
	}
	Y2 := ristretto255.NewIdentityElement().Add(Y, ristretto255.NewGeneratorElement())
	_, X2 := key(t)
	XB, _ := elgamal.NewPublicKey(B)
	YX := X.Element()
	for name, bad := range map[string]func() error{
		"wrong Y":         func() error { return VerifyDLEQ(ctx, X, B, Y2, p) },
		"wrong X":         func() error { return VerifyDLEQ(ctx, X2, B, Y, p) },
		"swapped B and Y": func() error { return VerifyDLEQ(ctx, X, Y, B, p) },
		"swapped X and B": func() error { return VerifyDLEQ(ctx, XB, YX, Y, p) },
		"wrong context":   func() error { return VerifyDLEQ(otherCtx, X, B, Y, p) },
	} {
		if bad() == nil {
			t.Errorf("%s: verified", name)
		}
	}
	for name, m := range slotMutations(p.Bytes()) {
		if q, err := ParseDLEQ(m); err == nil && VerifyDLEQ(ctx, X, B, Y, q) == nil {
			t.Errorf("tampered proof (%s) verified", name)
		}
	}
	// A cheating prover: Y is not B^x.
	cheat, _ := ProveDLEQ(nil, ctx, x, X, B, Y2)
	if VerifyDLEQ(ctx, X, B, Y2, cheat) == nil {
		t.Error("proof for a false statement verified")
	}
}

func encrypt(t testing.TB, pk *elgamal.PublicKey, m uint64) (*elgamal.Ciphertext, *ristretto255.Scalar) {
	r := scalar(t)
	return elgamal.Encrypt(pk, m, r), r
}

func TestOrZeroOne(t *testing.T) {
	_, pk := key(t)
	for m := uint64(0); m <= 1; m++ {
		ct, r := encrypt(t, pk, m)
		p, err := ProveOr(nil, ctx, pk, ct, r, ZeroOne(), int(m))
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyOr(ctx, pk, ct, ZeroOne(), p); err != nil {
			t.Fatalf("m=%d: honest proof refused: %v", m, err)
		}
		q, err := ParseOr(p.Bytes(), 2)
		if err != nil || VerifyOr(ctx, pk, ct, ZeroOne(), q) != nil {
			t.Fatalf("m=%d: round-tripped proof refused: %v", m, err)
		}
		other, _ := encrypt(t, pk, m)
		_, pk2 := key(t)
		for name, bad := range map[string]func() error{
			"other ciphertext": func() error { return VerifyOr(ctx, pk, other, ZeroOne(), p) },
			"other key":        func() error { return VerifyOr(ctx, pk2, ct, ZeroOne(), p) },
			"other context":    func() error { return VerifyOr(otherCtx, pk, ct, ZeroOne(), p) },
			"other values":     func() error { return VerifyOr(ctx, pk, ct, []uint64{1, 2}, p) },
			"swapped values":   func() error { return VerifyOr(ctx, pk, ct, []uint64{1, 0}, p) },
			"fewer values":     func() error { return VerifyOr(ctx, pk, ct, []uint64{0}, p) },
			"swapped A and B":  func() error { return VerifyOr(ctx, pk, elgamal.NewCiphertext(ct.B(), ct.A()), ZeroOne(), p) },
		} {
			if bad() == nil {
				t.Errorf("m=%d, %s: verified", m, name)
			}
		}
		for name, mu := range slotMutations(p.Bytes()) {
			if q, err := ParseOr(mu, 2); err == nil && VerifyOr(ctx, pk, ct, ZeroOne(), q) == nil {
				t.Errorf("m=%d: tampered proof (%s) verified", m, name)
			}
		}
	}
}

func TestOrRefusesFalseStatement(t *testing.T) {
	_, pk := key(t)
	// An encryption of 2 with a "proof" it is 0 or 1, made by running the
	// prover with each index, never verifies.
	ct, r := encrypt(t, pk, 2)
	for idx := 0; idx < 2; idx++ {
		p, err := ProveOr(nil, ctx, pk, ct, r, ZeroOne(), idx)
		if err != nil {
			t.Fatal(err)
		}
		if VerifyOr(ctx, pk, ct, ZeroOne(), p) == nil {
			t.Fatalf("proof that Enc(2) is in {0,1} verified (index %d)", idx)
		}
	}
	// A range proof for a sum outside [min, max].
	sum, r := encrypt(t, pk, 4)
	p, _ := ProveOr(nil, ctx, pk, sum, r, Range(1, 3), 2)
	if VerifyOr(ctx, pk, sum, Range(1, 3), p) == nil {
		t.Fatal("range proof for 4 in [1,3] verified")
	}
}

func TestRangeOnSum(t *testing.T) {
	_, pk := key(t)
	// A 3-of-10 question: three selections, the sum's randomness is the sum.
	var cts []*elgamal.Ciphertext
	rSum := ristretto255.NewScalar()
	for i := 0; i < 10; i++ {
		m := uint64(0)
		if i%4 == 0 {
			m = 1
		}
		ct, r := encrypt(t, pk, m)
		cts = append(cts, ct)
		rSum.Add(rSum, r)
	}
	sum := elgamal.Add(cts...)
	values := Range(0, 3)
	p, err := ProveOr(nil, ctx, pk, sum, rSum, values, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyOr(ctx, pk, sum, values, p); err != nil {
		t.Fatalf("range proof refused: %v", err)
	}
	// Cut down to a proof over fewer values, it shows nothing.
	if q, err := ParseOr(p.Bytes()[:OrProofSize(3)], 3); err == nil && VerifyOr(ctx, pk, sum, Range(0, 2), q) == nil {
		t.Fatal("truncated range proof verified")
	}
	if VerifyOr(ctx, pk, sum, Range(0, 2), p) == nil {
		t.Fatal("range proof verified against a narrower range")
	}
}

func TestBatch(t *testing.T) {
	_, pk := key(t)
	type item struct {
		ct *elgamal.Ciphertext
		p  *OrProof
	}
	var items []item
	for i := 0; i < 50; i++ {
		ct, r := encrypt(t, pk, uint64(i%2))
		p, err := ProveOr(nil, ctx, pk, ct, r, ZeroOne(), i%2)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item{ct, p})
	}
	x, X := key(t)
	sp, _ := ProveSchnorr(nil, ctx, x, X)

	b := NewBatch(pk)
	for _, it := range items {
		it.p.AddTo(b, ctx, pk, it.ct, ZeroOne())
	}
	sp.AddTo(b, ctx, X)
	if !b.Verify() {
		t.Fatal("batch of honest proofs refused")
	}
	// One proof checked against the wrong ciphertext poisons the batch.
	for _, bad := range []int{0, 17, 49} {
		b := NewBatch(pk)
		for i, it := range items {
			ct := it.ct
			if i == bad {
				ct = items[(i+1)%len(items)].ct
			}
			it.p.AddTo(b, ctx, pk, ct, ZeroOne())
		}
		if b.Verify() {
			t.Fatalf("batch with a bad proof at %d verified", bad)
		}
	}
	// A proof whose commitment was swapped for a valid point: the challenge
	// sum no longer matches, and the batch fails without group arithmetic.
	enc := items[3].p.Bytes()
	copy(enc[0:32], ristretto255.NewGeneratorElement().Bytes())
	q, err := ParseOr(enc, 2)
	if err != nil {
		t.Fatal(err)
	}
	b = NewBatch(pk)
	q.AddTo(b, ctx, pk, items[3].ct, ZeroOne())
	if b.Verify() {
		t.Fatal("batch with a tampered commitment verified")
	}
	// A bad Schnorr proof in a batch of good Or proofs.
	b = NewBatch(pk)
	for _, it := range items {
		it.p.AddTo(b, ctx, pk, it.ct, ZeroOne())
	}
	sp.AddTo(b, otherCtx, X)
	if b.Verify() {
		t.Fatal("batch with a Schnorr proof under the wrong context verified")
	}
	if !NewBatch(nil).Verify() {
		t.Fatal("empty batch refused")
	}
}

func TestTranscriptIsUnambiguous(t *testing.T) {
	a := newTranscript("or", []byte("ab"))
	a.write([]byte("c"))
	b := newTranscript("or", []byte("a"))
	b.write([]byte("bc"))
	if a.challenge().Equal(b.challenge()) == 1 {
		t.Fatal("moving a byte between items left the challenge unchanged")
	}
	c := newTranscript("schnorr", []byte("ab"))
	c.write([]byte("c"))
	d := newTranscript("or", []byte("ab"))
	d.write([]byte("c"))
	if c.challenge().Equal(d.challenge()) == 1 {
		t.Fatal("two proof kinds share a challenge")
	}
}

func FuzzParseOr(f *testing.F) {
	_, pk, _ := elgamal.GenerateKey(nil)
	r, _ := elgamal.RandomScalar(nil)
	ct := elgamal.Encrypt(pk, 1, r)
	p, _ := ProveOr(nil, ctx, pk, ct, r, ZeroOne(), 1)
	f.Add(p.Bytes(), 2)
	f.Add(make([]byte, 256), 2)
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		if n > 8 {
			n %= 8
		}
		q, err := ParseOr(in, n)
		if err != nil {
			return
		}
		if !bytes.Equal(q.Bytes(), in) {
			t.Fatal("parsed proof re-encodes differently")
		}
		if n == 2 && !bytes.Equal(in, p.Bytes()) && VerifyOr(ctx, pk, ct, ZeroOne(), q) == nil {
			t.Fatal("a different proof verified for the seed statement")
		}
	})
}

func FuzzParseSchnorr(f *testing.F) {
	x, X, _ := elgamal.GenerateKey(nil)
	p, _ := ProveSchnorr(nil, ctx, x, X)
	f.Add(p.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := ParseSchnorr(in)
		if err != nil {
			return
		}
		if !bytes.Equal(q.Bytes(), in) {
			t.Fatal("parsed proof re-encodes differently")
		}
	})
}

func FuzzParseDLEQ(f *testing.F) {
	x, X, _ := elgamal.GenerateKey(nil)
	B := ristretto255.NewGeneratorElement()
	p, _ := ProveDLEQ(nil, ctx, x, X, B, X.Element())
	f.Add(p.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := ParseDLEQ(in)
		if err != nil {
			return
		}
		if !bytes.Equal(q.Bytes(), in) {
			t.Fatal("parsed proof re-encodes differently")
		}
	})
}
