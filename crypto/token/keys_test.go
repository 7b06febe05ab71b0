package token

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	xhkdf "golang.org/x/crypto/hkdf"
)

func TestDeriveSecret(t *testing.T) {
	sk, _ := keys(t)
	a, b := sk.DeriveSecret("evote/issuer/a/v1"), sk.DeriveSecret("evote/issuer/b/v1")
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("two labels gave %x and %x", a, b)
	}
	if !bytes.Equal(a, sk.DeriveSecret("evote/issuer/a/v1")) {
		t.Fatal("one label gave two secrets")
	}
	// The derivation is HKDF-SHA256 over the PKCS #8 DER, as documented:
	// checked against x/crypto's HKDF, a second implementation.
	der, _ := sk.MarshalPKCS8()
	want := make([]byte, 32)
	io.ReadFull(xhkdf.New(sha256.New, der, nil, []byte("evote/issuer/a/v1")), want)
	if !bytes.Equal(a, want) {
		t.Fatalf("DeriveSecret = %x, x/crypto/hkdf = %x", a, want)
	}
}
