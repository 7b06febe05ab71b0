package token

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"testing"

	"filippo.io/bigmod"
	"github.com/cloudflare/circl/blindsign/blindrsa"
)

// randomBlinded returns a uniformly random integer in [1, N) as exactly
// Size() bytes: what a blinded message looks like to the issuer.
func randomBlinded(tb testing.TB, sk *PrivateKey) []byte {
	tb.Helper()
	one := big.NewInt(1)
	x, err := rand.Int(rand.Reader, new(big.Int).Sub(sk.key.N, one))
	if err != nil {
		tb.Fatal(err)
	}
	return x.Add(x, one).FillBytes(make([]byte, sk.Public().Size()))
}

// circlSign is the old path, circl's non-CRT BlindSign: the oracle.
func circlSign(tb testing.TB, sk *PrivateKey, blinded []byte) []byte {
	tb.Helper()
	s, err := blindrsa.NewSigner(sk.key).BlindSign(blinded)
	if err != nil {
		tb.Fatalf("circl BlindSign: %v", err)
	}
	return s
}

// TestSignMatchesCircl: for many random blinded messages and the edge values
// 1, 2 and N−1, the CRT Sign equals circl's BlindSign byte for byte, for
// RSA-2048 (DefaultKeyBits) and, without -short, RSA-3072 and RSA-4096.
func TestSignMatchesCircl(t *testing.T) {
	sk, _ := keys(t)
	cases := []struct {
		sk *PrivateKey
		n  int
	}{{sk, 300}}
	if !testing.Short() {
		for _, bits := range []int{3072, MaxKeyBits} {
			k, err := GenerateKey(bits)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, struct {
				sk *PrivateKey
				n  int
			}{k, 40})
		}
	}
	for _, tc := range cases {
		size := tc.sk.Public().Size()
		t.Run(fmt.Sprintf("RSA-%d", tc.sk.key.N.BitLen()), func(t *testing.T) {
			nMinus1 := new(big.Int).Sub(tc.sk.key.N, big.NewInt(1))
			inputs := [][]byte{
				big.NewInt(1).FillBytes(make([]byte, size)),
				big.NewInt(2).FillBytes(make([]byte, size)),
				nMinus1.FillBytes(make([]byte, size)),
			}
			for range tc.n {
				inputs = append(inputs, randomBlinded(t, tc.sk))
			}
			for _, in := range inputs {
				got, err := tc.sk.Sign(in)
				if err != nil {
					t.Fatalf("Sign(%x): %v", in, err)
				}
				if len(got) != size {
					t.Fatalf("Sign gave %d bytes, want %d", len(got), size)
				}
				if want := circlSign(t, tc.sk, in); !bytes.Equal(got, want) {
					t.Fatalf("Sign(%x) = %x, circl BlindSign = %x", in, got, want)
				}
			}
		})
	}
}

// TestRFC9474VectorsBlindSign passes every vector of RFC 9474 Appendix A
// (all four variants: BlindSign does not depend on the variant), from
// testdata/test_vectors_rfc9474.json (as published by cloudflare/circl
// v1.6.5, blindsign/blindrsa/testdata; see testdata/README.md), through the
// CRT Sign: blinded_msg must give blind_sig. The key is loaded as issuers
// load theirs, so the CRT values are crypto/rsa's Precompute of p and q.
func TestRFC9474VectorsBlindSign(t *testing.T) {
	data, err := os.ReadFile("testdata/test_vectors_rfc9474.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []rfcVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors in testdata")
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			num := func(s string) *big.Int { return new(big.Int).SetBytes(unhex(t, s)) }
			k := &rsa.PrivateKey{
				PublicKey: rsa.PublicKey{N: num(v.N), E: int(num(v.E).Int64())},
				D:         num(v.D),
				Primes:    []*big.Int{num(v.P), num(v.Q)},
			}
			sk, err := newPrivateKey(k)
			if err != nil {
				t.Fatalf("vector key: %v", err)
			}
			bs, err := sk.Sign(unhex(t, v.Blinded))
			if err != nil {
				t.Fatalf("Sign(blinded_msg): %v", err)
			}
			if want := unhex(t, v.BlindSig); !bytes.Equal(bs, want) {
				t.Fatalf("Sign(blinded_msg) = %x, want blind_sig %x", bs, want)
			}
		})
	}
}

// TestSignRejectsCRT: the CRT operation itself (not only Sign's checks in
// front of it) refuses a blinded message of the wrong length, zero, N and
// above, so the RFC 9474 input rules hold however it is reached.
func TestSignRejectsCRT(t *testing.T) {
	sk, _ := keys(t)
	size := sk.Public().Size()
	nPlus1 := new(big.Int).Add(sk.key.N, big.NewInt(1))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short", make([]byte, size-1)},
		{"long", make([]byte, size+1)},
		{"long with leading zero", append([]byte{0}, randomBlinded(t, sk)...)},
		{"zero", make([]byte, size)},
		{"equal to N", sk.key.N.FillBytes(make([]byte, size))},
		{"N+1", nPlus1.FillBytes(make([]byte, size))},
		{"all ones", bytes.Repeat([]byte{0xff}, size)},
	} {
		for name, sign := range map[string]func([]byte) ([]byte, error){"Sign": sk.Sign, "crt": sk.crt.sign} {
			s, err := sign(tc.in)
			if !errors.Is(err, ErrMalformed) || s != nil {
				t.Errorf("%s: %s = %x, %v; want nil, ErrMalformed", tc.name, name, s, err)
			}
		}
	}
}

// TestAttackFaultedSigner simulates faults in the private operation (a
// flipped bit in each CRT value, as a glitch or a corrupted key in memory
// would give; and a check against the wrong public key) and asserts the
// check after signing catches every one: Sign returns ErrFault and no
// signature, and the key itself is unchanged and signs correctly after.
// Without the check, one such result and the public key factor N (Boneh,
// DeMillo and Lipton, "On the importance of checking cryptographic
// protocols for faults", 1997): the test shows that too.
func TestAttackFaultedSigner(t *testing.T) {
	sk, other := keys(t)
	in := randomBlinded(t, sk)
	want := circlSign(t, sk, in)
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 0x10; return b }
	faults := map[string]func(k *crtKey){
		"dP": func(k *crtKey) { k.dP = flip(k.dP) },
		"dQ": func(k *crtKey) { k.dQ = flip(k.dQ) },
		"qInv": func(k *crtKey) {
			k.qInv = mustNat(t, flip(k.qInv.Bytes(k.p)), k.p)
		},
		"q mod N": func(k *crtKey) {
			k.qModN = mustNat(t, flip(k.qModN.Bytes(k.n)), k.n)
		},
		"check with a wrong public exponent": func(k *crtKey) { k.e = 3 },
		"another key's dP":                   func(k *crtKey) { k.dP = other.crt.dP },
	}
	for name, fault := range faults {
		bad := *sk.crt
		fault(&bad)
		faulty := &PrivateKey{key: sk.key, pub: sk.pub, crt: &bad}
		s, err := faulty.Sign(in)
		if !errors.Is(err, ErrFault) {
			t.Errorf("%s: Sign err = %v, want ErrFault", name, err)
		}
		if s != nil {
			t.Errorf("%s: Sign returned %x with the error", name, s)
		}
	}
	// Nothing stored changed: the real key still signs, and correctly.
	if s, err := sk.Sign(in); err != nil || !bytes.Equal(s, want) {
		t.Fatalf("after the faults: Sign = %x, %v; want circl's %x", s, err, want)
	}

	// What the check prevents: the faulted result, computed without it,
	// gives gcd(s'^e − m, N) = a prime of N.
	bad := *sk.crt
	bad.dP = flip(bad.dP)
	sPrime := unsafeSignNoCheck(t, &bad, in)
	e := big.NewInt(int64(sk.key.E))
	x := new(big.Int).Exp(new(big.Int).SetBytes(sPrime), e, sk.key.N)
	x.Sub(x, new(big.Int).SetBytes(in))
	g := new(big.Int).GCD(nil, nil, x.Abs(x), sk.key.N)
	if g.Cmp(sk.key.Primes[1]) != 0 {
		t.Errorf("faulted result unchecked: gcd = %v, want the prime q (the attack the check stops)", g)
	}
}

// TestBadCRTValuesRefusedAtLoad: a key whose precomputed CRT values do not
// belong to it is refused when it is loaded, not at the first voter.
func TestBadCRTValuesRefusedAtLoad(t *testing.T) {
	sk, _ := keys(t)
	for _, name := range []string{"Dp", "Dq", "Qinv"} {
		k := *sk.key
		k.Precomputed = rsa.PrecomputedValues{
			Dp:   new(big.Int).Set(sk.key.Precomputed.Dp),
			Dq:   new(big.Int).Set(sk.key.Precomputed.Dq),
			Qinv: new(big.Int).Set(sk.key.Precomputed.Qinv),
		}
		v := map[string]*big.Int{"Dp": k.Precomputed.Dp, "Dq": k.Precomputed.Dq, "Qinv": k.Precomputed.Qinv}[name]
		v.Add(v, big.NewInt(2))
		if _, err := newPrivateKey(&k); err == nil {
			t.Errorf("key with %s+2 loaded", name)
		}
		if _, err := newCRTKey(&k); err == nil {
			t.Errorf("newCRTKey took a key with %s+2", name)
		}
	}
}

// FuzzSign: whatever the input, Sign either refuses it with ErrMalformed
// (exactly when it is not Size() bytes encoding an integer in [1, N)) or
// returns Size() bytes equal to circl's BlindSign.
func FuzzSign(f *testing.F) {
	sk, _ := keys(f)
	size := sk.Public().Size()
	f.Add([]byte{})
	f.Add(make([]byte, size))
	f.Add(sk.key.N.FillBytes(make([]byte, size)))
	f.Add(bytes.Repeat([]byte{0xff}, size))
	f.Add(big.NewInt(1).FillBytes(make([]byte, size)))
	f.Add(randomBlinded(f, sk))
	f.Add(append([]byte{0}, randomBlinded(f, sk)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := sk.Sign(in)
		x := new(big.Int).SetBytes(in)
		valid := len(in) == size && x.Sign() > 0 && x.Cmp(sk.key.N) < 0
		if !valid {
			if !errors.Is(err, ErrMalformed) || s != nil {
				t.Fatalf("Sign(%x) = %x, %v; want ErrMalformed", in, s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Sign(%x): %v", in, err)
		}
		if want := circlSign(t, sk, in); !bytes.Equal(s, want) {
			t.Fatalf("Sign(%x) = %x, circl %x", in, s, want)
		}
	})
}

// BenchmarkBlindSign measures the blind-signing step three ways on the same
// key, in the same run: circl's BlindSign (the old path), the CRT Sign (the
// new one), and crypto/rsa's SignPSS on a SHA-384 digest (for the ratio
// issue 15 asks). serial is one goroutine; parallel is b.RunParallel, which
// with -cpu 2 gives the 2-core throughput. Run:
//
//	go test ./crypto/token -run '^$' -bench BlindSign -cpu 1,2 -count 5
func BenchmarkBlindSign(b *testing.B) {
	sk, _ := keys(b)
	sizes := []*PrivateKey{sk}
	if DefaultKeyBits != 2048 {
		k, err := GenerateKey(DefaultKeyBits)
		if err != nil {
			b.Fatal(err)
		}
		sizes = append(sizes, k)
	}
	for _, sk := range sizes {
		blinded := randomBlinded(b, sk)
		signer := blindrsa.NewSigner(sk.key)
		digest := sha512.Sum384([]byte("evote BenchmarkBlindSign"))
		ways := []struct {
			name string
			sign func() error
		}{
			{"circl", func() error { _, err := signer.BlindSign(blinded); return err }},
			{"crt", func() error { _, err := sk.Sign(blinded); return err }},
			{"rsa.SignPSS", func() error {
				_, err := rsa.SignPSS(rand.Reader, sk.key, crypto.SHA384, digest[:], &pssOptions)
				return err
			}},
		}
		b.Run(fmt.Sprintf("RSA-%d", sk.key.N.BitLen()), func(b *testing.B) {
			for _, w := range ways {
				b.Run(w.name, func(b *testing.B) {
					b.Run("serial", func(b *testing.B) {
						for b.Loop() {
							if err := w.sign(); err != nil {
								b.Fatal(err)
							}
						}
					})
					b.Run("parallel", func(b *testing.B) {
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if err := w.sign(); err != nil {
									b.Error(err)
									return
								}
							}
						})
					})
				})
			}
		})
	}
}

func mustNat(tb testing.TB, b []byte, m *bigmod.Modulus) *bigmod.Nat {
	tb.Helper()
	x, err := bigmod.NewNat().SetBytes(b, m)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// unsafeSignNoCheck is the CRT operation without the check after it, which
// production code never runs: for TestAttackFaultedSigner to show what a
// faulted result would give away.
func unsafeSignNoCheck(tb testing.TB, k *crtKey, in []byte) []byte {
	return k.exp(mustNat(tb, in, k.n)).Bytes(k.n)
}
