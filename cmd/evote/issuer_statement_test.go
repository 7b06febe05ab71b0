package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/issuance"
)

// TestIssuerStatement runs the issuer's side with the command line: keygen
// writes the statement key in issuer.pub, election init names it in the
// manifest, and after serve (which imports the roll) and purge, statement
// signs the roll's counts, for this election, under that key; issuer pub
// writes issuer.pub again, byte for byte.
func TestIssuerStatement(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	pass := in("pass")
	os.WriteFile(pass, []byte("s3cret\n"), 0o600)
	secret := []string{"--passphrase-file", pass, "--scrypt-work-factor", "10"}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return evote(t, args...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, errs, code := run(args...)
		if code != 0 {
			t.Fatalf("evote %s: exit %d\n%s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	must(append(secret, "issuer", "keygen", "--key", in("issuer.key"), "--pub", in("issuer.pub"))...)
	pub := mustRead(t, in("issuer.pub"))
	first, rest := pem.Decode(pub)
	second, after := pem.Decode(rest)
	if first == nil || first.Type != "PUBLIC KEY" || second == nil || second.Type != pemStatementKeyType || len(second.Bytes) != 32 || len(bytes.TrimSpace(after)) != 0 {
		t.Fatalf("issuer.pub is not the RSA key and the statement key:\n%s", pub)
	}
	if out := must(append(secret, "issuer", "pub", "--key", in("issuer.key"), "--pub", in("again.pub"))...); !strings.Contains(out, "statement key") {
		t.Fatalf("issuer pub:\n%s", out)
	}
	if !bytes.Equal(mustRead(t, in("again.pub")), pub) {
		t.Fatal("issuer pub does not write what keygen wrote")
	}
	if _, errs, code := run(append(secret, "issuer", "pub", "--key", in("issuer.key"), "--pub", in("again.pub"))...); code == 0 || !strings.Contains(errs, "exists") {
		t.Fatalf("issuer pub over an existing file: exit %d\n%s", code, errs)
	}

	var keys []string
	for i := 1; i <= 3; i++ {
		p := in(fmt.Sprintf("t%d.pub", i))
		must(append(secret, "trustee", "keygen", "--out", in(fmt.Sprintf("t%d.sign", i)), "--pub", p)...)
		keys = append(keys, "--trustee-key", p)
	}
	initArgs := func(pubFile, out string) []string {
		return append([]string{"election", "init", "--title", "Assembly", "--question", "q:Yes?:yes,no", "--issuer-key", pubFile, "--out", out}, keys...)
	}
	if out := must(initArgs(in("issuer.pub"), in("manifest.json"))...); !strings.Contains(out, "the issuer states its counts with statement key") {
		t.Fatalf("election init does not name the statement key:\n%s", out)
	}
	m, err := ballot.ParseManifest(mustRead(t, in("manifest.json")))
	if err != nil || !bytes.Equal(m.Issuance(), second.Bytes) {
		t.Fatalf("the manifest's issuance key is not issuer.pub's: %v", err)
	}

	must("issuer", "roll", "--voters", "4", "--out", in("roll.csv"))
	serveOnce(t, append(secret, "issuer", "serve", "--key", in("issuer.key"), "--election", in("manifest.json"),
		"--roll", in("roll.csv"), "--data", in("data"), "--listen", "127.0.0.1:0")...)
	statement := append(append([]string(nil), secret...), "issuer", "statement", "--data", in("data"), "--key", in("issuer.key"), "--election", in("manifest.json"), "--out", in("issuance.json"))
	if out := must(statement...); !strings.Contains(out, "4 eligible voters, 0 tokens issued") || !strings.Contains(out, "evote board issuance") {
		t.Fatalf("issuer statement:\n%s", out)
	}
	st, err := issuance.Parse(mustRead(t, in("issuance.json")))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Verify(m.Issuance(), m.ID()); err != nil || st.Eligible != 4 || st.Issued != 0 {
		t.Fatalf("the statement %+v: %v", st.Statement, err)
	}
	if _, errs, code := run(statement...); code == 0 || !strings.Contains(errs, "exists") {
		t.Fatalf("a second statement over the first file: exit %d\n%s", code, errs)
	}
	// After purge the roll keeps its counts, and so the statement.
	must("issuer", "purge", "--data", in("data"))
	if out := must(append(statement, "--force")...); !strings.Contains(out, "4 eligible voters, 0 tokens issued") || !strings.Contains(out, "purged") {
		t.Fatalf("issuer statement after purge:\n%s", out)
	}

	// A manifest from an issuer.pub without the statement key (an older
	// keygen's) names none: election init says so, and statement refuses.
	if err := os.WriteFile(in("old.pub"), pem.EncodeToMemory(first), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(initArgs(in("old.pub"), in("old.json"))...)
	if code != 0 || !strings.Contains(errs, "holds no issuance statement key") || !strings.Contains(errs, "evote issuer pub") {
		t.Fatalf("election init with an old issuer.pub: exit %d\n%s", code, errs)
	}
	if bytes.Contains(mustRead(t, in("old.json")), []byte("issuance_key")) {
		t.Fatal("a manifest from an issuer.pub without the statement key names one")
	}
	old := append(append([]string(nil), secret...), "issuer", "statement", "--data", in("data"), "--key", in("issuer.key"), "--election", in("old.json"), "--out", in("old-issuance.json"))
	if _, errs, code := run(old...); code != 2 || !strings.Contains(errs, "names no issuance statement key") {
		t.Fatalf("a statement for a manifest without a statement key: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(in("old-issuance.json")); err == nil {
		t.Fatal("a refused statement was written")
	}
}

// TestAttackStatementKeyNotTheManifests: a manifest naming the issuer's
// RSA key beside a statement key that is not the one the issuing key
// derives (someone else's, who could then sign the counts): serve and
// statement refuse the key file, naming both keys, and write nothing.
func TestAttackStatementKeyNotTheManifests(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	pass := in("pass")
	os.WriteFile(pass, []byte("s3cret\n"), 0o600)
	secret := []string{"--passphrase-file", pass, "--scrypt-work-factor", "10"}
	if _, errs, code := evote(t, append(secret, "issuer", "keygen", "--key", in("issuer.key"), "--pub", in("issuer.pub"))...); code != 0 {
		t.Fatal(errs)
	}
	pk, _, err := readIssuerPub(in("issuer.pub"))
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	id, _ := ballot.NewElectionID(rand.Reader)
	m, err := ballot.NewManifest(ballot.Manifest{Version: 1, ElectionID: id, Title: "T",
		Questions: []ballot.Question{{ID: "q", Text: "Q?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}},
		Trustees:  ballot.Trustees{N: 1, T: 1, Keys: []string{fmt.Sprintf("%x", other)}},
		IssuerKey: pk.Bytes(), IssuanceKey: other, Revoting: ballot.RevotingRefuse})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("manifest.json"), m.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, in("issuer.key"))
	for _, args := range [][]string{
		{"issuer", "statement", "--data", in("data"), "--key", in("issuer.key"), "--election", in("manifest.json"), "--out", in("issuance.json")},
		{"issuer", "serve", "--key", in("issuer.key"), "--election", in("manifest.json"), "--roll", in("none.csv"), "--data", in("data"), "--listen", "127.0.0.1:0"},
	} {
		_, errs, code := evote(t, append(append([]string(nil), secret...), args...)...)
		if code != 1 || !strings.Contains(errs, "the manifest names issuance statement key") || !strings.Contains(errs, "derives") {
			t.Errorf("evote %s: exit %d\n%s", args[1], code, errs)
		}
	}
	if !bytes.Equal(mustRead(t, in("issuer.key")), before) {
		t.Fatal("a refused key file was changed")
	}
	if _, err := os.Stat(in("issuance.json")); err == nil {
		t.Fatal("a statement was written under a key the manifest does not name")
	}
}

func TestReadIssuerPub(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	pass := in("pass")
	os.WriteFile(pass, []byte("s3cret\n"), 0o600)
	if _, errs, code := evote(t, "--passphrase-file", pass, "--scrypt-work-factor", "10", "issuer", "keygen", "--key", in("issuer.key"), "--pub", in("issuer.pub")); code != 0 {
		t.Fatal(errs)
	}
	good := mustRead(t, in("issuer.pub"))
	first, rest := pem.Decode(good)
	second, _ := pem.Decode(rest)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"text after", append(bytes.Clone(good), "junk\n"...), "holds only its statement key"},
		{"another block after", append(pem.EncodeToMemory(first), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: second.Bytes})...), "holds only its statement key"},
		{"a short statement key", append(pem.EncodeToMemory(first), pem.EncodeToMemory(&pem.Block{Type: pemStatementKeyType, Bytes: second.Bytes[:31]})...), "31 bytes"},
		{"two statement keys", append(bytes.Clone(good), pem.EncodeToMemory(second)...), "holds only its statement key"},
	} {
		os.WriteFile(in("bad.pub"), c.b, 0o644)
		if _, _, err := readIssuerPub(in("bad.pub")); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
