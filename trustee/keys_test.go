package trustee_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/evote/evote/trustee"
)

// TestKeyFormats: a signing key and a public key read back as written, and
// what is not one is refused with the sentinel for it; a public key no
// manifest may name (the identity, of small order) is refused as such.
func TestKeyFormats(t *testing.T) {
	pub, key, err := trustee.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := trustee.MarshalSigningKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := trustee.ParseSigningKey(enc); err != nil || !back.Equal(key) {
		t.Fatalf("the signing key does not read back: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	for name, b := range map[string][]byte{
		"nothing":      nil,
		"a public key": trustee.MarshalPublicKey(pub),
		"an ECDSA key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"bad DER":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := trustee.ParseSigningKey(b); !errors.Is(err, trustee.ErrNotSigningKey) {
			t.Errorf("%s as a signing key: got %v, want ErrNotSigningKey", name, err)
		}
	}

	text := trustee.MarshalPublicKey(pub)
	for _, b := range [][]byte{text, bytes.ToUpper(text), []byte("  " + strings.TrimSpace(string(text)) + "\r\n")} {
		if back, err := trustee.ParsePublicKey(b); err != nil || !back.Equal(pub) {
			t.Errorf("%q does not read back: %v", b, err)
		}
	}
	for _, s := range []string{"", "not a key", string(text[:62]), string(text[:32]) + "\n" + string(text[32:])} {
		if _, err := trustee.ParsePublicKey([]byte(s)); !errors.Is(err, trustee.ErrNotPublicKey) {
			t.Errorf("%q as a public key: got %v, want ErrNotPublicKey", s, err)
		}
	}
	identity := "01" + strings.Repeat("00", 31)
	if _, err := trustee.ParsePublicKey([]byte(identity)); err == nil || errors.Is(err, trustee.ErrNotPublicKey) || !strings.Contains(err.Error(), "small order") {
		t.Fatalf("the identity as a public key: %v", err)
	}
}
