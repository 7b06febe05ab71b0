package threshold

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

var ctx = []byte("manifest hash | question 0 choice 1")

type setup struct {
	res    *dkg.Result
	shares []*dkg.KeyShare // shares[j-1] is trustee j's
}

var (
	setupsMu sync.Mutex
	setups   = map[[2]int]*setup{}
)

// ceremony runs an honest n-trustee, threshold-t key ceremony (cached).
func ceremony(tb testing.TB, n, t int) *setup {
	tb.Helper()
	setupsMu.Lock()
	defer setupsMu.Unlock()
	if s, ok := setups[[2]int{n, t}]; ok {
		return s
	}
	context := []byte("threshold test ceremony")
	var trustees []*dkg.Trustee
	var anns []*dkg.Announcement
	for i := 1; i <= n; i++ {
		tr, a, err := dkg.NewTrustee(nil, i, n, t)
		if err != nil {
			tb.Fatal(err)
		}
		trustees, anns = append(trustees, tr), append(anns, a)
	}
	var deals []*dkg.Deal
	for _, tr := range trustees {
		d, err := tr.Deal(nil, context, anns)
		if err != nil {
			tb.Fatal(err)
		}
		deals = append(deals, d)
	}
	s := &setup{}
	for _, tr := range trustees {
		res, ks, err := tr.Finalize(anns, deals, nil, nil)
		if err != nil {
			tb.Fatal(err)
		}
		s.res, s.shares = res, append(s.shares, ks)
	}
	setups[[2]int{n, t}] = s
	return s
}

// encryptSum encrypts each vote and returns the homomorphic sum.
func encryptSum(tb testing.TB, pk *elgamal.PublicKey, votes ...uint64) *elgamal.Ciphertext {
	tb.Helper()
	var cts []*elgamal.Ciphertext
	for _, v := range votes {
		r, err := elgamal.RandomScalar(nil)
		if err != nil {
			tb.Fatal(err)
		}
		cts = append(cts, elgamal.Encrypt(pk, v, r))
	}
	return elgamal.Add(cts...)
}

func partials(tb testing.TB, s *setup, ct *elgamal.Ciphertext) []*Partial {
	tb.Helper()
	var out []*Partial
	for _, ks := range s.shares {
		p, err := PartialDecrypt(nil, ctx, ks.Index, ks.Secret, ks.VerificationKey, ct)
		if err != nil {
			tb.Fatal(err)
		}
		q, err := ParsePartial(p.Marshal())
		if err != nil {
			tb.Fatal(err)
		}
		if err := VerifyPartial(ctx, s.res.VerificationKey(q.Index), ct, q); err != nil {
			tb.Fatalf("honest partial refused: %v", err)
		}
		out = append(out, q)
	}
	return out
}

func subsets(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, append([]int(nil), cur...))
			return
		}
		for i := start; i <= n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(1, nil)
	return out
}

func pick(ps []*Partial, idx []int) []*Partial {
	out := make([]*Partial, len(idx))
	for i, j := range idx {
		out[i] = ps[j-1]
	}
	return out
}

func gm(m uint64) *ristretto255.Element {
	return ristretto255.NewIdentityElement().ScalarBaseMult(elgamal.ScalarFromUint64(m))
}

func TestThresholdDecryption(t *testing.T) {
	table, err := NewTable(100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]int{{5, 3}, {3, 3}, {4, 1}, {1, 1}, {6, 2}} {
		n, th := p[0], p[1]
		t.Run(fmt.Sprintf("%d-of-%d", th, n), func(t *testing.T) {
			s := ceremony(t, n, th)
			ct := encryptSum(t, s.res.ElectionKey, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1) // 7
			ps := partials(t, s, ct)
			for k := th; k <= n; k++ { // every t-subset, and larger ones
				for _, sub := range subsets(n, k) {
					got, err := Combine(ct, pick(ps, sub), th)
					if err != nil {
						t.Fatal(err)
					}
					m, err := table.Log(got)
					if err != nil || m != 7 {
						t.Fatalf("trustees %v decrypt to %d (%v), want 7", sub, m, err)
					}
				}
			}
			if th == 1 {
				return
			}
			for _, sub := range subsets(n, th-1) {
				if _, err := Combine(ct, pick(ps, sub), th); err == nil {
					t.Fatalf("Combine accepted %d partials with threshold %d", th-1, th)
				}
				// Forcing the interpolation through t-1 points gives garbage.
				got, err := interpolate(ct, pick(ps, sub))
				if err != nil {
					t.Fatal(err)
				}
				if got.Equal(gm(7)) == 1 {
					t.Fatalf("trustees %v (fewer than t) decrypted", sub)
				}
				if m, err := table.Log(got); err == nil {
					t.Fatalf("trustees %v (fewer than t) got a plausible count %d", sub, m)
				}
			}
		})
	}
}

func TestCombineRefuses(t *testing.T) {
	s := ceremony(t, 5, 3)
	ct := encryptSum(t, s.res.ElectionKey, 1)
	ps := partials(t, s, ct)
	zero := *ps[0]
	zero.Index = 0
	for name, in := range map[string][]*Partial{
		"duplicate":    {ps[0], ps[1], ps[0]},
		"fewer than t": {ps[0], ps[1]},
		"index 0":      {&zero, ps[1], ps[2]},
		"none":         nil,
	} {
		if _, err := Combine(ct, in, 3); err == nil {
			t.Errorf("%s: combined", name)
		}
	}
	if _, err := Combine(ct, ps, 0); err == nil {
		t.Error("threshold 0 accepted")
	}
}

func TestPartialDecryptRefuses(t *testing.T) {
	s := ceremony(t, 3, 2)
	ct := encryptSum(t, s.res.ElectionKey, 1)
	ks := s.shares[0]
	if _, err := PartialDecrypt(nil, ctx, 1, s.shares[1].Secret, ks.VerificationKey, ct); err == nil {
		t.Error("share that does not match the verification key accepted")
	}
	for _, idx := range []int{0, -1, 256} {
		if _, err := PartialDecrypt(nil, ctx, idx, ks.Secret, ks.VerificationKey, ct); err == nil {
			t.Errorf("index %d accepted", idx)
		}
	}
	if _, err := PartialDecryptBatch(nil, [][]byte{ctx}, 1, ks.Secret, ks.VerificationKey, []*elgamal.Ciphertext{ct, ct}); err == nil {
		t.Error("contexts and ciphertexts of different lengths accepted")
	}
}

func TestVerifyPartialNegative(t *testing.T) {
	s := ceremony(t, 3, 2)
	ct := encryptSum(t, s.res.ElectionKey, 1, 1)
	other := encryptSum(t, s.res.ElectionKey, 1, 1)
	ks := s.shares[0]
	vk := ks.VerificationKey
	p, err := PartialDecrypt(nil, ctx, 1, ks.Secret, vk, ct)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPartial(ctx, vk, ct, p); err != nil {
		t.Fatal(err)
	}
	_, outsider, _ := elgamal.GenerateKey(nil)
	swapped := elgamal.NewCiphertext(ct.B(), ct.A())

	// A partial made with a wrong share but a proof that is honest for it.
	wrong, _ := elgamal.RandomScalar(nil)
	wrongVK, _ := elgamal.NewPublicKey(ristretto255.NewIdentityElement().ScalarBaseMult(wrong))
	wrongP, err := PartialDecrypt(nil, ctx, 1, wrong, wrongVK, ct)
	if err != nil {
		t.Fatal(err)
	}
	// A correct D with a proof made under another trustee's statement.
	d := ristretto255.NewIdentityElement().ScalarMult(ks.Secret, ct.A())
	forged, _ := zkp.ProveDLEQ(nil, proofContext(ctx, 1), wrong, wrongVK, ct.A(), d)
	forgedP := &Partial{Index: 1, d: d, dEnc: d.Bytes(), proof: forged}
	// Identity D.
	idP := &Partial{Index: 1, d: ristretto255.NewIdentityElement(), dEnc: make([]byte, 32), proof: p.proof}
	relabelled := *p
	relabelled.Index = 2

	for name, f := range map[string]error{
		"wrong share":             VerifyPartial(ctx, vk, ct, wrongP),
		"forged proof":            VerifyPartial(ctx, vk, ct, forgedP),
		"another trustee's vk":    VerifyPartial(ctx, s.shares[1].VerificationKey, ct, p),
		"non-trustee vk":          VerifyPartial(ctx, outsider, ct, p),
		"wrong context":           VerifyPartial([]byte("question 0 choice 2"), vk, ct, p),
		"another ciphertext":      VerifyPartial(ctx, vk, other, p),
		"swapped ciphertext":      VerifyPartial(ctx, vk, swapped, p),
		"identity D":              VerifyPartial(ctx, vk, ct, idP),
		"relabelled index":        VerifyPartial(ctx, vk, ct, &relabelled),
		"relabelled, matching vk": VerifyPartial(ctx, s.shares[1].VerificationKey, ct, &relabelled),
	} {
		if f == nil {
			t.Errorf("%s: verified", name)
		} else if name != "identity D" && !errors.Is(f, ErrInvalidPartial) {
			t.Errorf("%s: error %v does not wrap ErrInvalidPartial", name, f)
		}
	}

	// Every mutation of the encoding is refused by the parser or the verifier.
	enc := p.Marshal()
	nonCanon, _ := hex.DecodeString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	muts := map[string][]byte{"truncated": enc[:len(enc)-1], "extended": append(append([]byte(nil), enc...), 0)}
	for off := 1; off < len(enc); off += 32 {
		for name, repl := range map[string][]byte{"identity": make([]byte, 32), "non-canonical": nonCanon, "generator": elgamal.Generator().Bytes()} {
			m := append([]byte(nil), enc...)
			copy(m[off:], repl)
			muts[fmt.Sprintf("%s@%d", name, off)] = m
		}
		m := append([]byte(nil), enc...)
		m[off] ^= 0x10
		muts[fmt.Sprintf("bitflip@%d", off)] = m
	}
	// D and the proof's second commitment swapped.
	sw := append([]byte(nil), enc...)
	copy(sw[1:33], enc[65:97])
	copy(sw[65:97], enc[1:33])
	muts["swap D and R2"] = sw
	// The proof's two commitments swapped.
	sw2 := append([]byte(nil), enc...)
	copy(sw2[33:65], enc[65:97])
	copy(sw2[65:97], enc[33:65])
	muts["swap R1 and R2"] = sw2
	zi := append([]byte(nil), enc...)
	zi[0] = 0
	muts["index 0"] = zi
	for name, m := range muts {
		if bytes.Equal(m, enc) {
			continue
		}
		q, err := ParsePartial(m)
		if err != nil {
			continue
		}
		if VerifyPartial(ctx, vk, ct, q) == nil {
			t.Errorf("mutation %s verified", name)
		}
	}
}

// TestAttackTrivialPartial: a ciphertext whose A is the identity (an
// aggregate of randomness r and −r) is B = g^m and needs no key; its partial
// is the trivial one (D = identity, 96 zero bytes of proof). The trivial
// partial must never stand in for the partial of any other ciphertext, and
// a partial with a proof is refused for an identity A.
func TestAttackTrivialPartial(t *testing.T) {
	s := ceremony(t, 3, 2)
	pk := s.res.ElectionKey
	r, _ := elgamal.RandomScalar(nil)
	ident := elgamal.Add(elgamal.Encrypt(pk, 1, r), elgamal.Encrypt(pk, 1, ristretto255.NewScalar().Negate(r)))
	if ident.A().Equal(ristretto255.NewIdentityElement()) != 1 {
		t.Fatal("r and −r do not cancel")
	}
	other := encryptSum(t, pk, 1, 0)
	cts := []*elgamal.Ciphertext{other, ident}
	ctxs := [][]byte{[]byte("choice 0"), []byte("choice 1")}
	var use [][]*Partial
	for _, ks := range s.shares[:2] {
		ps, err := PartialDecryptBatch(nil, ctxs, ks.Index, ks.Secret, ks.VerificationKey, cts)
		if err != nil {
			t.Fatal(err)
		}
		if ps[0].Trivial() || !ps[1].Trivial() {
			t.Fatalf("trivial: %v %v, want false true", ps[0].Trivial(), ps[1].Trivial())
		}
		want := append([]byte{byte(ks.Index)}, make([]byte, PartialSize-1)...)
		if !bytes.Equal(ps[1].Marshal(), want) {
			t.Fatalf("trivial partial encodes as %x, want index and zeros", ps[1].Marshal())
		}
		q, err := ParsePartial(want)
		if err != nil || !q.Trivial() || !bytes.Equal(q.Marshal(), want) {
			t.Fatalf("the trivial partial does not parse back: %v", err)
		}
		if err := VerifyPartials(ctxs, ks.VerificationKey, cts, ps); err != nil {
			t.Fatal(err)
		}
		if err := VerifyPartial(ctxs[1], ks.VerificationKey, ident, q); err != nil {
			t.Fatal(err)
		}
		// The trivial partial for the ciphertext that needs decrypting.
		if err := VerifyPartial(ctxs[0], ks.VerificationKey, other, q); !errors.Is(err, ErrInvalidPartial) {
			t.Errorf("trivial partial for A ≠ identity: %v", err)
		}
		if err := VerifyPartials(ctxs, ks.VerificationKey, cts, []*Partial{q, q}); !errors.Is(err, ErrInvalidPartial) || !strings.Contains(err.Error(), "partial 0") {
			t.Errorf("trivial partials for both: %v", err)
		}
		// A real partial (with its proof) for the identity ciphertext.
		if err := VerifyPartials(ctxs, ks.VerificationKey, []*elgamal.Ciphertext{other, ident}, []*Partial{ps[0], ps[0]}); !errors.Is(err, ErrInvalidPartial) || !strings.Contains(err.Error(), "partial 1") {
			t.Errorf("proof-bearing partial for A = identity: %v", err)
		}
		use = append(use, ps)
	}
	// An identity D with anything but zeros after it does not parse.
	for name, b := range map[string][]byte{
		"identity D, real proof": append(append([]byte{1}, make([]byte, 32)...), use[0][0].Marshal()[33:]...),
		"identity D, one bit":    append(append([]byte{1}, make([]byte, PartialSize-2)...), 1),
	} {
		if _, err := ParsePartial(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	for k, ct := range cts {
		gm, err := Combine(ct, []*Partial{use[0][k], use[1][k]}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := DiscreteLog(gm, 2); err != nil || m != uint64(k+1) {
			t.Fatalf("ciphertext %d decrypts to %d, %v; want %d", k, m, err, k+1)
		}
	}
}

func TestVerifyPartialsBatch(t *testing.T) {
	s := ceremony(t, 3, 2)
	ks := s.shares[2]
	var cts []*elgamal.Ciphertext
	var ctxs [][]byte
	for i := 0; i < 8; i++ {
		cts = append(cts, encryptSum(t, s.res.ElectionKey, uint64(i%2)))
		ctxs = append(ctxs, []byte(fmt.Sprintf("choice %d", i)))
	}
	ps, err := PartialDecryptBatch(nil, ctxs, ks.Index, ks.Secret, ks.VerificationKey, cts)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPartials(ctxs, ks.VerificationKey, cts, ps); err != nil {
		t.Fatal(err)
	}
	ps[5], ps[6] = ps[6], ps[5]
	err = VerifyPartials(ctxs, ks.VerificationKey, cts, ps)
	if err == nil || !errors.Is(err, ErrInvalidPartial) || !bytes.Contains([]byte(err.Error()), []byte("partial 5")) {
		t.Fatalf("swapped partials: %v", err)
	}
}

func TestTable(t *testing.T) {
	for _, c := range []struct{ max, baby uint64 }{{0, 1}, {1, 1}, {2, 1}, {10, 3}, {1000, 7}, {1000, 2000}, {99, 10}} {
		tab, err := NewTableSize(c.max, c.baby)
		if err != nil {
			t.Fatal(err)
		}
		for m := uint64(0); m <= c.max; m++ {
			if got, err := tab.Log(gm(m)); err != nil || got != m {
				t.Fatalf("max %d baby %d: Log(g^%d) = %d, %v", c.max, c.baby, m, got, err)
			}
		}
		if _, err := tab.Log(gm(c.max + 1)); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("max %d baby %d: g^(max+1) gave %v", c.max, c.baby, err)
		}
	}
	tab, err := NewTable(10_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []uint64{0, 1, 65535, 65536, 65537, 1234567, 9_999_999, 10_000_000} {
		if got, err := tab.Log(gm(m)); err != nil || got != m {
			t.Fatalf("Log(g^%d) = %d, %v", m, got, err)
		}
	}
	for _, m := range []uint64{10_000_001, 1 << 40} {
		if _, err := tab.Log(gm(m)); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("g^%d: %v", m, err)
		}
	}
	neg := ristretto255.NewIdentityElement().Negate(gm(5))
	if _, err := tab.Log(neg); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("g^-5: %v", err)
	}
	if got, err := DiscreteLog(gm(4242), 5000); err != nil || got != 4242 {
		t.Fatalf("DiscreteLog = %d, %v", got, err)
	}
	if _, err := NewTable(MaxTableRange + 1); err == nil {
		t.Fatal("oversized table accepted")
	}
}

func TestLagrange(t *testing.T) {
	// Interpolating the polynomial f(x) = 5 + 3x + 2x² at 0 from three points.
	f := func(x int) *ristretto255.Scalar { return elgamal.ScalarFromUint64(uint64(5 + 3*x + 2*x*x)) }
	for _, xs := range [][]int{{1, 2, 3}, {7, 200, 255}, {4, 1, 9, 3}} {
		acc := ristretto255.NewScalar()
		for i, l := range Lagrange(xs) {
			acc.Add(acc, ristretto255.NewScalar().Multiply(l, f(xs[i])))
		}
		if acc.Equal(elgamal.ScalarFromUint64(5)) != 1 {
			t.Fatalf("interpolation over %v failed", xs)
		}
	}
}
