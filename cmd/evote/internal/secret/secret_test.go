package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestPassphraseRoundTrip(t *testing.T) {
	k := &Keyring{Passphrase: "pw", WorkFactor: 10}
	p := filepath.Join(t.TempDir(), "s")
	if err := k.WriteFile(p, []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteFile(p, []byte("again"), false); err == nil {
		t.Fatal("overwrote an existing secret")
	}
	got, err := k.ReadFile(p)
	if err != nil || string(got) != "secret" {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := (&Keyring{Passphrase: "other"}).ReadFile(p); err == nil {
		t.Fatal("opened with the wrong passphrase")
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

func TestIdentityFile(t *testing.T) {
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "key.txt")
	os.WriteFile(idFile, []byte("# test identity\n"+id.String()+"\n"), 0o600)
	k, err := Load(idFile, "", "EVOTE_TEST_NO_SUCH_VAR", 0)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := k.Encrypt([]byte("share"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("share")) {
		t.Fatal("plaintext in the ciphertext")
	}
	got, err := k.Decrypt(ct)
	if err != nil || string(got) != "share" {
		t.Fatalf("%q, %v", got, err)
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := (&Keyring{Identities: []age.Identity{other}}).Decrypt(ct); err == nil {
		t.Fatal("opened with another identity")
	}
}

func TestNoKey(t *testing.T) {
	t.Setenv("EVOTE_TEST_PASS", "")
	if _, err := Load("", "", "EVOTE_TEST_PASS", 0); err != ErrNoKey || !strings.Contains(err.Error(), "--identity") {
		t.Fatalf("%v", err)
	}
	t.Setenv("EVOTE_TEST_PASS", "x")
	if k, err := Load("", "", "EVOTE_TEST_PASS", 0); err != nil || k.Passphrase != "x" {
		t.Fatalf("%v", err)
	}
}
