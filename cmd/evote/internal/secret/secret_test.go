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

func TestAttackReadableSecretFile(t *testing.T) {
	dir := t.TempDir()
	k := &Keyring{Passphrase: "correct horse", WorkFactor: 10}
	path := filepath.Join(dir, "trustee.share")
	if err := k.WriteFile(path, []byte("secret share"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := k.ReadFile(path); err != nil {
		t.Fatalf("owner-only file refused: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := k.ReadFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable secret file was read: %v", err)
	}
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("correct horse\n"), 0o640)
	if _, err := Load("", pass, "NO_SUCH_ENV", 10); err == nil {
		t.Fatal("a group-readable passphrase file was used")
	}
}
