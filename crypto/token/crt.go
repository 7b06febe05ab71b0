package token

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"filippo.io/bigmod"
)

// ErrFault means the issuer's private-key operation gave a result that the
// public key does not confirm (a hardware fault, a corrupted key in memory):
// [PrivateKey.Sign] returned an error instead of the result, which could
// have revealed the key's factors. Retry; if it recurs, stop issuing on this
// machine and check it.
var ErrFault = errors.New("token: the blind signature failed its check against the issuer public key (a fault in the signer); nothing was sent")

// crtKey is the issuer key in the form the private operation uses: the CRT
// values of the RSA key as filippo.io/bigmod moduli and numbers, made once
// when the key is loaded and only read afterwards (so a PrivateKey stays
// safe for concurrent use).
type crtKey struct {
	n, p, q *bigmod.Modulus
	dP, dQ  []byte      // d mod (p−1), d mod (q−1), big-endian, padded to the size of p and q
	qInv    *bigmod.Nat // q⁻¹ mod p
	qModN   *bigmod.Nat // q as a number modulo n, for the recombination
	e       uint
}

// newCRTKey takes the CRT values from k, which must have passed Validate
// and Precompute, and checks them with one signature.
func newCRTKey(k *rsa.PrivateKey) (*crtKey, error) {
	pc := k.Precomputed
	if len(k.Primes) != 2 || pc.Dp == nil || pc.Dq == nil || pc.Qinv == nil {
		return nil, errors.New("token: issuer key has no CRT values (Dp, Dq, Qinv); re-encode it as PKCS #8 with crypto/x509")
	}
	P, Q := k.Primes[0], k.Primes[1]
	if P.Bit(0) == 0 || Q.Bit(0) == 0 || k.N.Bit(0) == 0 {
		return nil, errors.New("token: issuer key has an even prime or modulus")
	}
	if k.E <= 0 {
		return nil, fmt.Errorf("token: issuer key has public exponent %d", k.E)
	}
	n, err := bigmod.NewModulus(k.N.Bytes())
	if err != nil {
		return nil, fmt.Errorf("token: issuer modulus: %w", err)
	}
	p, err := bigmod.NewModulus(P.Bytes())
	if err != nil {
		return nil, fmt.Errorf("token: issuer prime p: %w", err)
	}
	q, err := bigmod.NewModulus(Q.Bytes())
	if err != nil {
		return nil, fmt.Errorf("token: issuer prime q: %w", err)
	}
	// The exponents are reduced below p−1 and q−1; padding them to the
	// primes' size keeps their byte length (and so Exp's running time) from
	// depending on their value, as crypto/rsa does.
	if pc.Dp.Sign() <= 0 || pc.Dp.Cmp(P) >= 0 || pc.Dq.Sign() <= 0 || pc.Dq.Cmp(Q) >= 0 {
		return nil, errors.New("token: issuer key's CRT exponents are out of range")
	}
	dP := pc.Dp.FillBytes(make([]byte, p.Size()))
	dQ := pc.Dq.FillBytes(make([]byte, q.Size()))
	qInv, err := bigmod.NewNat().SetBytes(pc.Qinv.Bytes(), p)
	if err != nil {
		return nil, fmt.Errorf("token: issuer key's CRT coefficient is not below p: %w", err)
	}
	ck := &crtKey{
		n: n, p: p, q: q,
		dP: dP, dQ: dQ,
		qInv:  qInv,
		qModN: bigmod.NewNat().Mod(q.Nat(), n),
		e:     uint(k.E),
	}
	// One signature at load time, so a key whose CRT values disagree with
	// its modulus is refused here, not at the first voter.
	if _, err := ck.sign(big.NewInt(2).FillBytes(make([]byte, n.Size()))); err != nil {
		return nil, fmt.Errorf("token: issuer key's CRT values do not match its public key: %w", err)
	}
	return ck, nil
}

// sign returns c^d mod n for c, a big-endian integer in [1, n) of exactly
// the modulus length, computed with the Chinese remainder theorem in
// constant time, and checked against the public key (s^e mod n == c)
// before it is returned; a result that does not check gives [ErrFault].
//
// This is the composition of crypto/internal/fips140/rsa's decrypt (Go
// 1.24 and later), on the same arithmetic published as filippo.io/bigmod:
//
//	m1 = c^dP mod p, m2 = c^dQ mod q, h = qInv·(m1 − m2) mod p, s = m2 + h·q
func (k *crtKey) sign(in []byte) ([]byte, error) {
	if len(in) != k.n.Size() {
		return nil, fmt.Errorf("%w: blinded message is %d bytes, want %d (the issuer modulus length)", ErrMalformed, len(in), k.n.Size())
	}
	c, err := bigmod.NewNat().SetBytes(in, k.n)
	if err != nil || c.IsZero() == 1 {
		return nil, fmt.Errorf("%w: blinded message is not an integer in [1, N)", ErrMalformed)
	}
	m := k.exp(c)

	// The check crypto/rsa makes: a fault anywhere above gives a result
	// that leaks a factor of n (Boneh–DeMillo–Lipton), so it must not leave.
	if bigmod.NewNat().ExpShortVarTime(m, k.e, k.n).Equal(c) != 1 {
		return nil, ErrFault
	}
	return m.Bytes(k.n), nil
}

// exp is the CRT private operation alone, c^d mod n for c in [0, n),
// without the check: only sign, which checks, may call it outside tests.
func (k *crtKey) exp(c *bigmod.Nat) *bigmod.Nat {
	t0 := bigmod.NewNat()
	// m = c^dP mod p
	m := bigmod.NewNat().Exp(t0.Mod(c, k.p), k.dP, k.p)
	// m2 = c^dQ mod q
	m2 := bigmod.NewNat().Exp(t0.Mod(c, k.q), k.dQ, k.q)
	// m = (m − m2) mod p
	m.Sub(t0.Mod(m2, k.p), k.p)
	// m = m · qInv mod p
	m.Mul(k.qInv, k.p)
	// m = m · q mod n (m < p, so the product is below n)
	m.ExpandFor(k.n).Mul(k.qModN, k.n)
	// m = m + m2 mod n
	m.Add(m2.ExpandFor(k.n), k.n)

	return m
}
