package elgamal

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/gtank/ristretto255"
)

func gm(m uint64) *ristretto255.Element {
	return ristretto255.NewIdentityElement().ScalarBaseMult(ScalarFromUint64(m))
}

func mustKey(t testing.TB) (*ristretto255.Scalar, *PublicKey) {
	t.Helper()
	x, pk, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return x, pk
}

func encryptRandom(t testing.TB, pk *PublicKey, m uint64) *Ciphertext {
	t.Helper()
	r, err := RandomScalar(nil)
	if err != nil {
		t.Fatal(err)
	}
	return Encrypt(pk, m, r)
}

func TestRoundTrip(t *testing.T) {
	x, pk := mustKey(t)
	for _, m := range []uint64{0, 1, 2, 7, 1 << 20, 1<<63 + 5} {
		c := encryptRandom(t, pk, m)
		if Decrypt(x, c).Equal(gm(m)) != 1 {
			t.Fatalf("decrypt(encrypt(%d)) != g^%d", m, m)
		}
		// Encoding round trip keeps the value and the bytes.
		d, err := ParseCiphertext(c.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Bytes(), c.Bytes()) || Decrypt(x, d).Equal(gm(m)) != 1 {
			t.Fatalf("parse(bytes(c)) differs from c for m=%d", m)
		}
	}
}

func TestWrongKeyDoesNotDecrypt(t *testing.T) {
	_, pk := mustKey(t)
	y, _ := mustKey(t)
	c := encryptRandom(t, pk, 1)
	if Decrypt(y, c).Equal(gm(1)) == 1 {
		t.Fatal("a different secret decrypted the ciphertext")
	}
}

func TestHomomorphism(t *testing.T) {
	x, pk := mustKey(t)
	var cts []*Ciphertext
	var sum uint64
	for m := uint64(0); m < 20; m++ {
		cts = append(cts, encryptRandom(t, pk, m%3))
		sum += m % 3
	}
	if Decrypt(x, Add(cts...)).Equal(gm(sum)) != 1 {
		t.Fatalf("sum of ciphertexts does not decrypt to %d", sum)
	}
	if Decrypt(x, Add()).Equal(gm(0)) != 1 {
		t.Fatal("empty sum is not an encryption of 0")
	}
}

func TestRerandomize(t *testing.T) {
	x, pk := mustKey(t)
	c := encryptRandom(t, pk, 5)
	r, _ := RandomScalar(nil)
	d := Rerandomize(pk, c, r)
	if bytes.Equal(c.Bytes(), d.Bytes()) {
		t.Fatal("re-randomised ciphertext equals the original")
	}
	if Decrypt(x, d).Equal(gm(5)) != 1 {
		t.Fatal("re-randomisation changed the message")
	}
}

func TestParseRefusesBadEncodings(t *testing.T) {
	_, pk := mustKey(t)
	good := encryptRandom(t, pk, 1).Bytes()
	id := ristretto255.NewIdentityElement().Bytes()

	// p = 2^255-19 little-endian: the field modulus itself is not canonical.
	p, _ := hex.DecodeString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	// 1 is an odd ("negative") field element: ristretto255 refuses it.
	one := make([]byte, 32)
	one[0] = 1
	highBit := append([]byte(nil), good[:32]...)
	highBit[31] |= 0x80

	cases := map[string][]byte{
		"empty":                nil,
		"short":                good[:63],
		"long":                 append(append([]byte(nil), good...), 0),
		"identity A":           append(append([]byte(nil), id...), good[32:]...),
		"modulus as A":         append(append([]byte(nil), p...), good[32:]...),
		"modulus as B":         append(append([]byte(nil), good[:32]...), p...),
		"negative field elt A": append(append([]byte(nil), one...), good[32:]...),
		"high bit set in A":    append(highBit, good[32:]...),
		"all ones":             bytes.Repeat([]byte{0xff}, 64),
	}
	for name, in := range cases {
		if _, err := ParseCiphertext(in); err == nil {
			t.Errorf("%s: ParseCiphertext accepted it", name)
		}
	}
	if _, err := ParsePublicKey(id); err == nil {
		t.Error("ParsePublicKey accepted the identity")
	}
	if _, err := NewPublicKey(ristretto255.NewIdentityElement()); err == nil {
		t.Error("NewPublicKey accepted the identity")
	}
	// The group order l itself is not a canonical scalar.
	l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	if _, err := ParseScalar(l); err == nil {
		t.Error("ParseScalar accepted the group order")
	}
	if _, err := ParseScalar(make([]byte, 31)); err == nil {
		t.Error("ParseScalar accepted 31 bytes")
	}
	// B may be the identity (g^m·h^r can be, in principle) but must be canonical.
	if _, err := ParseCiphertext(append(append([]byte(nil), good[:32]...), id...)); err != nil {
		t.Errorf("identity B refused: %v", err)
	}
}

func FuzzParseCiphertext(f *testing.F) {
	_, pk, _ := GenerateKey(nil)
	r, _ := RandomScalar(nil)
	f.Add(Encrypt(pk, 1, r).Bytes())
	f.Add(make([]byte, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCiphertext(in)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to exactly the input: one value, one encoding.
		if !bytes.Equal(c.Bytes(), in) || !bytes.Equal(NewCiphertext(c.A(), c.B()).Bytes(), in) {
			t.Fatalf("parsed ciphertext re-encodes differently")
		}
	})
}

func FuzzParseScalar(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseScalar(in)
		if err == nil && !bytes.Equal(s.Bytes(), in) {
			t.Fatal("parsed scalar re-encodes differently")
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	_, pk, _ := GenerateKey(nil)
	f.Add(pk.Bytes())
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := ParsePublicKey(in)
		if err == nil && !bytes.Equal(k.Element().Bytes(), in) {
			t.Fatal("parsed key re-encodes differently")
		}
	})
}
