package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cloudflare/circl/blindsign/blindrsa"
)

var (
	keysOnce  sync.Once
	testKey   *PrivateKey
	otherKey  *PrivateKey
	keysErr   error
	electionA = bytes.Repeat([]byte{0xA1}, ElectionIDSize)
	electionB = bytes.Repeat([]byte{0xB2}, ElectionIDSize)
	tokenKeyA = mustTokenKey()
	tokenKeyB = mustTokenKey()
)

func mustTokenKey() []byte {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return pub
}

// keys returns two RSA-2048 issuer keys, made once per test binary.
func keys(tb testing.TB) (*PrivateKey, *PrivateKey) {
	tb.Helper()
	keysOnce.Do(func() {
		testKey, keysErr = GenerateKey(DefaultKeyBits)
		if keysErr == nil {
			otherKey, keysErr = GenerateKey(DefaultKeyBits)
		}
	})
	if keysErr != nil {
		tb.Fatal(keysErr)
	}
	return testKey, otherKey
}

// issue runs the whole protocol and returns the token.
func issue(tb testing.TB, sk *PrivateKey, electionID, tokenPub []byte) *Token {
	tb.Helper()
	blinded, st, err := Blind(nil, sk.Public(), electionID, tokenPub)
	if err != nil {
		tb.Fatal(err)
	}
	bs, err := sk.Sign(blinded)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := Finalize(st, bs)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	sk, _ := keys(t)
	pub := sk.Public()
	tok := issue(t, sk, electionA, tokenKeyA)
	if err := Verify(pub, electionA, tokenKeyA, tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	enc := tok.Bytes()
	if len(enc) != PrefixSize+256 {
		t.Fatalf("token encoding is %d bytes, want %d", len(enc), PrefixSize+256)
	}
	got, err := ParseToken(pub, enc)
	if err != nil {
		t.Fatalf("ParseToken: %v", err)
	}
	if !bytes.Equal(got.Bytes(), enc) {
		t.Fatal("token does not re-encode to the same bytes")
	}
	if err := Verify(pub, electionA, tokenKeyA, got); err != nil {
		t.Fatalf("Verify after parse: %v", err)
	}
	// Two tokens for the same key are unlinkable: different prefixes and signatures.
	tok2 := issue(t, sk, electionA, tokenKeyA)
	if tok2.Prefix == tok.Prefix || bytes.Equal(tok2.Signature, tok.Signature) {
		t.Fatal("two issuances gave the same prefix or signature")
	}
}

func TestMessage(t *testing.T) {
	m, err := Message(electionA, tokenKeyA)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte("evote/token/v1"), 0), electionA...), tokenKeyA...)
	if !bytes.Equal(m, want) || len(m) != MessageSize || MessageSize != 79 {
		t.Fatalf("Message = %x, want %x", m, want)
	}
	for _, tc := range []struct {
		name      string
		eid, tpub []byte
	}{
		{"short election", electionA[:31], tokenKeyA},
		{"long election", append(electionA, 0), tokenKeyA},
		{"nil election", nil, tokenKeyA},
		{"short token key", electionA, tokenKeyA[:31]},
		{"long token key", electionA, append(tokenKeyA, 0)},
	} {
		if _, err := Message(tc.eid, tc.tpub); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Message err = %v, want ErrMalformed", tc.name, err)
		}
		sk, _ := keys(t)
		if _, _, err := Blind(nil, sk.Public(), tc.eid, tc.tpub); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Blind err = %v, want ErrMalformed", tc.name, err)
		}
	}
}

// rfcVector is one entry of testdata/test_vectors_rfc9474.json.
type rfcVector struct {
	Name      string `json:"name"`
	P         string `json:"p"`
	Q         string `json:"q"`
	N         string `json:"n"`
	E         string `json:"e"`
	D         string `json:"d"`
	Msg       string `json:"msg"`
	MsgPrefix string `json:"msg_prefix"`
	InputMsg  string `json:"input_msg"`
	Blinded   string `json:"blinded_msg"`
	BlindSig  string `json:"blind_sig"`
	Sig       string `json:"sig"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex in vector: %v", err)
	}
	return b
}

// TestRFC9474Vectors checks every RSABSSA-SHA384-PSS-Randomized vector of
// RFC 9474 Appendix A: the issuer's Sign on blinded_msg gives blind_sig, and
// the verifier accepts (msg_prefix || msg, sig) and refuses it with any one
// bit flipped. The client's blinding step cannot be replayed from the vector
// (it needs the vector's salt and blinding factor, and circl's fixedBlind,
// which takes them, is unexported), so Blind and Finalize are covered by the
// round-trip tests instead; Finalize's final check is the same verification.
func TestRFC9474Vectors(t *testing.T) {
	data, err := os.ReadFile("testdata/test_vectors_rfc9474.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []rfcVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if v.Name != Variant {
			continue
		}
		n++
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
			input := append(unhex(t, v.MsgPrefix), unhex(t, v.Msg)...)
			if !bytes.Equal(input, unhex(t, v.InputMsg)) {
				t.Fatal("msg_prefix || msg != input_msg in the vector")
			}
			bs, err := sk.Sign(unhex(t, v.Blinded))
			if err != nil {
				t.Fatalf("Sign(blinded_msg): %v", err)
			}
			if want := unhex(t, v.BlindSig); !bytes.Equal(bs, want) {
				t.Fatalf("Sign(blinded_msg) = %x, want blind_sig %x", bs, want)
			}
			sig := unhex(t, v.Sig)
			// Both verifiers: circl's, and the standard library's
			// RSASSA-PSS one that Verify uses.
			for name, verify := range map[string]func(msg, sig []byte) error{
				"circl":      circlVerifier(t, sk.Public()).Verify,
				"crypto/rsa": func(msg, sig []byte) error { return verifyPrepared(sk.Public(), msg, sig) },
			} {
				if err := verify(input, sig); err != nil {
					t.Fatalf("%s: verify(input_msg, sig): %v", name, err)
				}
				for i := 0; i < 8*len(sig); i += 97 {
					bad := bytes.Clone(sig)
					bad[i/8] ^= 1 << (i % 8)
					if verify(input, bad) == nil {
						t.Fatalf("%s: signature with bit %d flipped verified", name, i)
					}
				}
				for i := 0; i < 8*len(input); i += 13 {
					bad := bytes.Clone(input)
					bad[i/8] ^= 1 << (i % 8)
					if verify(bad, sig) == nil {
						t.Fatalf("%s: message with bit %d flipped verified", name, i)
					}
				}
			}
		})
	}
	if n == 0 {
		t.Fatalf("no %s vector in testdata", Variant)
	}
}

// TestAttackForgedToken covers tokens that must not verify.
func TestAttackForgedToken(t *testing.T) {
	sk, other := keys(t)
	pub := sk.Public()
	tok := issue(t, sk, electionA, tokenKeyA)

	flipSig := &Token{Prefix: tok.Prefix, Signature: bytes.Clone(tok.Signature)}
	flipSig.Signature[100] ^= 0x04
	flipPrefix := &Token{Prefix: tok.Prefix, Signature: tok.Signature}
	flipPrefix.Prefix[0] ^= 0x80
	random := &Token{Signature: make([]byte, pub.Size())}
	rand.Read(random.Prefix[:])
	rand.Read(random.Signature)
	random.Signature[0] &= 0x3f

	cases := []struct {
		name      string
		pub       *PublicKey
		eid, tpub []byte
		tok       *Token
	}{
		{"flipped signature bit", pub, electionA, tokenKeyA, flipSig},
		{"flipped prefix bit", pub, electionA, tokenKeyA, flipPrefix},
		{"random signature", pub, electionA, tokenKeyA, random},
		{"other election", pub, electionB, tokenKeyA, tok},
		{"other token key", pub, electionA, tokenKeyB, tok},
		{"other issuer key", other.Public(), electionA, tokenKeyA, tok},
	}
	for _, tc := range cases {
		if err := Verify(tc.pub, tc.eid, tc.tpub, tc.tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify err = %v, want ErrInvalidToken", tc.name, err)
		}
	}
	// Non-canonical signature s + N (when it fits in the modulus length).
	s := new(big.Int).SetBytes(tok.Signature)
	s.Add(s, sk.key.N)
	if s.BitLen() <= 8*pub.Size() {
		alt := &Token{Prefix: tok.Prefix, Signature: s.FillBytes(make([]byte, pub.Size()))}
		if Verify(pub, electionA, tokenKeyA, alt) == nil {
			t.Error("signature s+N verified")
		}
		if _, err := ParseToken(pub, alt.Bytes()); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseToken(s+N) err = %v, want ErrMalformed", err)
		}
	}
	if err := Verify(pub, electionA, tokenKeyA, &Token{Signature: tok.Signature[1:]}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short signature: err = %v, want ErrMalformed", err)
	}
	if err := Verify(pub, electionA, tokenKeyA, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil token: err = %v, want ErrMalformed", err)
	}
}

func TestParseTokenRejects(t *testing.T) {
	sk, _ := keys(t)
	pub := sk.Public()
	enc := issue(t, sk, electionA, tokenKeyA).Bytes()
	nBytes := sk.key.N.FillBytes(make([]byte, pub.Size()))
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"prefix only", enc[:PrefixSize]},
		{"truncated by one", enc[:len(enc)-1]},
		{"one extra byte", append(bytes.Clone(enc), 0)},
		{"signature equals N", append(bytes.Clone(enc[:PrefixSize]), nBytes...)},
		{"signature all ones", append(bytes.Clone(enc[:PrefixSize]), bytes.Repeat([]byte{0xff}, pub.Size())...)},
		{"garbage text", []byte("not a token at all")},
	} {
		if _, err := ParseToken(pub, tc.data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseToken err = %v, want ErrMalformed", tc.name, err)
		}
	}
}

func TestSignRejects(t *testing.T) {
	sk, _ := keys(t)
	size := sk.Public().Size()
	nBytes := sk.key.N.FillBytes(make([]byte, size))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short", make([]byte, size-1)},
		{"long", make([]byte, size+1)},
		{"zero", make([]byte, size)},
		{"equal to N", nBytes},
		{"all ones", bytes.Repeat([]byte{0xff}, size)},
	} {
		if _, err := sk.Sign(tc.in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Sign err = %v, want ErrMalformed", tc.name, err)
		}
	}
}

func TestFinalizeRejects(t *testing.T) {
	sk, other := keys(t)
	blinded, st, err := Blind(nil, sk.Public(), electionA, tokenKeyA)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := sk.Sign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	// A signature on another blinded message, and one by another key.
	blinded2, _, err := Blind(nil, sk.Public(), electionA, tokenKeyB)
	if err != nil {
		t.Fatal(err)
	}
	bs2, err := sk.Sign(blinded2)
	if err != nil {
		t.Fatal(err)
	}
	bsOther, err := other.Sign(blinded)
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	flipped := bytes.Clone(bs)
	flipped[10] ^= 1
	for _, tc := range []struct {
		name string
		sig  []byte
	}{
		{"other blinded message", bs2},
		{"other issuer", bsOther},
		{"flipped bit", flipped},
		{"truncated", bs[1:]},
		{"empty", nil},
	} {
		if tc.sig == nil && tc.name != "empty" {
			continue
		}
		if _, err := Finalize(st, tc.sig); err == nil {
			t.Errorf("%s: Finalize accepted a bad blind signature", tc.name)
		}
	}
	if _, err := Finalize(nil, bs); err == nil {
		t.Error("Finalize(nil state) succeeded")
	}
	if _, err := Finalize(st, bs); err != nil {
		t.Errorf("Finalize with the right signature after failures: %v", err)
	}
}

func TestKeyEncodings(t *testing.T) {
	sk, other := keys(t)
	pub := sk.Public()

	der := pub.Bytes()
	if pub.ID() != KeyID(sha256.Sum256(der)) {
		t.Fatal("ID is not SHA-256 of the DER")
	}
	if len(pub.ID().String()) != 64 {
		t.Fatal("KeyID.String is not 64 hex digits")
	}
	for _, enc := range [][]byte{der, pub.MarshalPEM()} {
		got, err := ParsePublicKey(enc)
		if err != nil {
			t.Fatalf("ParsePublicKey: %v", err)
		}
		if !got.Equal(pub) || got.ID() != pub.ID() || got.Equal(other.Public()) {
			t.Fatal("public key did not round-trip")
		}
	}
	privDER, err := sk.MarshalPKCS8()
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := sk.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range [][]byte{privDER, privPEM} {
		got, err := ParsePrivateKey(enc)
		if err != nil {
			t.Fatalf("ParsePrivateKey: %v", err)
		}
		if !got.Public().Equal(pub) {
			t.Fatal("private key did not round-trip")
		}
		// The parsed key issues tokens the original key's public half accepts.
		tok := issue(t, got, electionA, tokenKeyA)
		if err := Verify(pub, electionA, tokenKeyA, tok); err != nil {
			t.Fatal(err)
		}
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPub, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	smallPriv, _ := x509.MarshalPKCS8PrivateKey(small)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edPub, _ := x509.MarshalPKIXPublicKey(edPriv.Public())
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	longDER := append(bytes.Clone(der), 0)

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"RSA-1024", smallPub},
		{"Ed25519", edPub},
		{"trailing byte", longDER},
		{"truncated", der[:len(der)-1]},
		{"garbage", []byte("garbage")},
		{"private PEM", privPEM},
		{"PEM with trailing data", append(pub.MarshalPEM(), "junk"...)},
		{"two PEM blocks", append(pub.MarshalPEM(), pub.MarshalPEM()...)},
		{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: der})},
	} {
		if _, err := ParsePublicKey(tc.data); err == nil {
			t.Errorf("ParsePublicKey accepted %s", tc.name)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"RSA-1024", smallPriv},
		{"Ed25519", edPKCS8},
		{"truncated", privDER[:len(privDER)-1]},
		{"public PEM", pub.MarshalPEM()},
		{"PKCS#1", x509.MarshalPKCS1PrivateKey(small)},
	} {
		if _, err := ParsePrivateKey(tc.data); err == nil {
			t.Errorf("ParsePrivateKey accepted %s", tc.name)
		}
	}
	for _, bits := range []int{0, 1024, 2047, 8192} {
		if _, err := GenerateKey(bits); err == nil {
			t.Errorf("GenerateKey(%d) succeeded", bits)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	sk, _ := keys(f)
	pub := sk.Public()
	f.Add(issue(f, sk, electionA, tokenKeyA).Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseToken(pub, data)
		if err != nil {
			return
		}
		if !bytes.Equal(tok.Bytes(), data) {
			t.Fatal("parsed token does not re-encode to its input")
		}
		_ = Verify(pub, electionA, tokenKeyA, tok)
	})
}

func FuzzParsePublicKey(f *testing.F) {
	sk, _ := keys(f)
	f.Add(sk.Public().Bytes())
	f.Add(sk.Public().MarshalPEM())
	f.Fuzz(func(t *testing.T, data []byte) {
		pk, err := ParsePublicKey(data)
		if err != nil {
			return
		}
		again, err := ParsePublicKey(pk.Bytes())
		if err != nil || !again.Equal(pk) {
			t.Fatalf("accepted key does not round-trip: %v", err)
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	sk, _ := keys(f)
	der, _ := sk.MarshalPKCS8()
	pemBytes, _ := sk.MarshalPEM()
	f.Add(der)
	f.Add(pemBytes)
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKey(data)
		if err != nil {
			return
		}
		if k.Public().Size() < MinKeyBits/8 {
			t.Fatal("accepted a small key")
		}
	})
}

func BenchmarkGenerateKey(b *testing.B) {
	if testing.Short() {
		b.Skip("slow; run without -short")
	}
	for b.Loop() {
		if _, err := GenerateKey(DefaultKeyBits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlind(b *testing.B) {
	sk, _ := keys(b)
	for b.Loop() {
		if _, _, err := Blind(nil, sk.Public(), electionA, tokenKeyA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	sk, _ := keys(b)
	blinded, _, err := Blind(nil, sk.Public(), electionA, tokenKeyA)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := sk.Sign(blinded); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := sk.Sign(blinded); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkFinalize(b *testing.B) {
	sk, _ := keys(b)
	blinded, st, err := Blind(nil, sk.Public(), electionA, tokenKeyA)
	if err != nil {
		b.Fatal(err)
	}
	bs, err := sk.Sign(blinded)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Finalize(st, bs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	sk, _ := keys(b)
	tok := issue(b, sk, electionA, tokenKeyA)
	for b.Loop() {
		if err := Verify(sk.Public(), electionA, tokenKeyA, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// circlVerifier is circl's RFC 9474 verifier for pub, to check the vectors
// through a second implementation.
func circlVerifier(t *testing.T, pub *PublicKey) blindrsa.Verifier {
	v, err := blindrsa.NewVerifier(variant, pub.key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBlindSeeded: one seed gives one blinded message and a state that
// finalizes the issuer's signature of it, however often it is rebuilt (the
// voter's device resuming after a lost reply); another seed gives another
// blinded message, unlinkable to the first.
func TestBlindSeeded(t *testing.T) {
	sk, _ := keys(t)
	pub := sk.Public()
	id := bytes.Repeat([]byte{7}, ElectionIDSize)
	tk := bytes.Repeat([]byte{9}, TokenKeySize)
	var seed [SeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		t.Fatal(err)
	}
	b1, _, err := BlindSeeded(seed, pub, id, tk)
	if err != nil {
		t.Fatal(err)
	}
	b2, st2, err := BlindSeeded(seed, pub, id, tk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatal("one seed gave two blinded messages")
	}
	sig, err := sk.Sign(b1)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Finalize(st2, sig)
	if err != nil {
		t.Fatalf("the rebuilt state does not finalize the signature of the first blinding: %v", err)
	}
	if err := Verify(pub, id, tk, tok); err != nil {
		t.Fatal(err)
	}
	seed[0] ^= 1
	b3, _, err := BlindSeeded(seed, pub, id, tk)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b1, b3) {
		t.Fatal("two seeds gave one blinded message")
	}
}
