package secret

import (
	"bytes"
	"testing"

	"filippo.io/age"
)

// FuzzDecrypt feeds arbitrary secret files to Decrypt under an identity
// keyring: it never panics, and whatever it opens is one of the secrets
// encrypted to that identity (a changed file cannot open to anything
// else).
func FuzzDecrypt(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	k := &Keyring{Identities: []age.Identity{id}}
	plains := [][]byte{[]byte("trustee share"), bytes.Repeat([]byte{7}, 200)}
	for _, p := range plains {
		armored, err := k.Encrypt(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(armored)
		f.Add(armored[:len(armored)-20])
		// The binary form.
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, id.Recipient())
		if err != nil {
			f.Fatal(err)
		}
		w.Write(p)
		w.Close()
		f.Add(buf.Bytes())
	}
	f.Add([]byte("age-encryption.org/v1\n-> scrypt AAAA 22\nAAAA\n--- AAAA\n"))
	f.Fuzz(func(t *testing.T, ct []byte) {
		got, err := k.Decrypt(ct)
		if err != nil {
			return
		}
		for _, p := range plains {
			if bytes.Equal(got, p) {
				return
			}
		}
		t.Fatalf("a changed file opened to %q", got)
	})
}
