package ceremony

import (
	"crypto/ecdh"
	"encoding/hex"
	"strings"
	"testing"
)

// TestAnnouncementKeys: an announcement's X25519 key is refused when it is
// not canonical (its value p = 2^255-19 or more, top bit included) or of
// low order (0, 1, p-1 and the two points of order 8): exactly the 14
// encodings whose Diffie-Hellman output is zero for every private key, and
// the non-canonical ones (SPEC.md §7).
func TestAnnouncementKeys(t *testing.T) {
	lowOrder := []string{
		"0000000000000000000000000000000000000000000000000000000000000000", // 0
		"0100000000000000000000000000000000000000000000000000000000000000", // 1
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1
	}
	nonCanonical := []string{
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p (0 mod p)
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p+1
		"efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p+2 (2 mod p: not low order, still refused)
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // 2^255-1
		"0900000000000000000000000000000000000000000000000000000000000080", // 9 with the top bit set
	}
	for _, h := range lowOrder {
		b, _ := hex.DecodeString(h)
		nonCanonical = append(nonCanonical, hex.EncodeToString(append(b[:31:31], b[31]|0x80)))
	}
	ann := append([]byte{1, 1, 1}, make([]byte, 32)...)
	for _, set := range []struct {
		keys []string
		why  string
	}{{lowOrder, "low-order"}, {nonCanonical, "not a canonical X25519 key"}} {
		for _, h := range set.keys {
			b, _ := hex.DecodeString(h)
			copy(ann[3:], b)
			if _, err := ParseAnnouncement(ann); err == nil || !strings.Contains(err.Error(), set.why) {
				t.Errorf("key %s: %v, want %q", h, err, set.why)
			}
		}
	}
	// Canonical keys of large order are accepted: 2, 9 (the base point),
	// p-2, and fresh keys.
	for _, h := range []string{
		"0200000000000000000000000000000000000000000000000000000000000000",
		"0900000000000000000000000000000000000000000000000000000000000000",
		"ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		b, _ := hex.DecodeString(h)
		copy(ann[3:], b)
		if _, err := ParseAnnouncement(ann); err != nil {
			t.Errorf("key %s: %v", h, err)
		}
	}
	for range 20 {
		k, err := ecdh.X25519().GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		copy(ann[3:], k.PublicKey().Bytes())
		if _, err := ParseAnnouncement(ann); err != nil {
			t.Fatalf("a fresh key: %v", err)
		}
	}
}

// TestLowOrderWhateverTheProbe: the low-order check does not depend on
// the fixed private key it uses: with other private keys the same points,
// and only they, give an all-zero shared secret.
func TestLowOrderWhateverTheProbe(t *testing.T) {
	var keys [][]byte
	for _, h := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0200000000000000000000000000000000000000000000000000000000000000",
		"0900000000000000000000000000000000000000000000000000000000000000",
		"ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		b, _ := hex.DecodeString(h)
		keys = append(keys, b)
	}
	for range 10 {
		k, _ := ecdh.X25519().GenerateKey(nil)
		keys = append(keys, k.PublicKey().Bytes())
	}
	for range 8 {
		sk, err := ecdh.X25519().GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range keys {
			pk, err := ecdh.X25519().NewPublicKey(b)
			if err != nil {
				t.Fatal(err)
			}
			_, dhErr := sk.ECDH(pk)
			if refused := CheckEncryptionKey(b) != nil; refused != (dhErr != nil) {
				t.Errorf("key %x: refused %v, but ECDH with another private key fails %v", b, refused, dhErr != nil)
			}
		}
	}
}
