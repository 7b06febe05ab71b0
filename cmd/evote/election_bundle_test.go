package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/electiontest"
	"golang.org/x/mod/sumdb/note"
)

// bundleFixture is an election's published files in a directory: a
// manifest, the board's verifier key and a private CA's certificate.
type bundleFixture struct {
	dir, manifest, vkey, ca string
	boardKey                string // the key itself
	hash                    [32]byte
}

func newBundleFixture(t testing.TB) *bundleFixture {
	t.Helper()
	dir := t.TempDir()
	f := &bundleFixture{dir: dir, manifest: filepath.Join(dir, "manifest.json"), vkey: filepath.Join(dir, "board.vkey"), ca: filepath.Join(dir, "ca.pem")}
	issuer := filepath.Join(dir, "issuer.pub")
	if err := os.WriteFile(issuer, electiontest.Issuer(t).Public().MarshalPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"election", "init", "--title", "Bundle", "--question", "m:Adopt?:yes,no", "--issuer-key", issuer, "--out", f.manifest}
	for i := 1; i <= 3; i++ {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("t%d.pub", i))
		if err := os.WriteFile(p, []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--trustee-key", p)
	}
	var so, se bytes.Buffer
	if code := run(args, &so, &se); code != 0 {
		t.Fatalf("election init: exit %d\n%s", code, se.String())
	}
	_, vkey, err := note.GenerateKey(rand.Reader, "board.example.org/bundle")
	if err != nil {
		t.Fatal(err)
	}
	f.boardKey = vkey
	if err := os.WriteFile(f.vkey, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.ca, testCACert(t), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ballot.ParseManifest(readTB(t, f.manifest))
	if err != nil {
		t.Fatal(err)
	}
	f.hash = m.Hash()
	// The bundle's files go to this test's own cache directory.
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	t.Setenv("HOME", dir)
	t.Setenv("EVOTE_BUNDLE", "")
	return f
}

// testCACert is a fresh self-signed CA certificate, PEM.
func testCACert(t testing.TB) []byte {
	t.Helper()
	sk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evote test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &sk.PublicKey, sk)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func readTB(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bundleBytes is a valid bundle of a fresh election, for the fuzz seeds.
func bundleBytes(t testing.TB) []byte {
	f := newBundleFixture(t)
	var so, se bytes.Buffer
	out := filepath.Join(f.dir, "election.bundle")
	if code := run([]string{"election", "bundle", "--manifest", f.manifest, "--board-key", f.vkey, "--ca-cert", f.ca,
		"--board", "https://board.example.org", "--issuer", "https://issuer.example.org", "--witness", "https://w1.example.org", "--out", out}, &so, &se); code != 0 {
		t.Fatalf("election bundle: exit %d\n%s", code, se.String())
	}
	return readTB(t, out)
}

func (f *bundleFixture) in(name string) string { return filepath.Join(f.dir, name) }

// write runs evote election bundle with the fixture's files and extra
// flags, and returns what it printed.
func (f *bundleFixture) write(t *testing.T, out string, extra ...string) string {
	t.Helper()
	so, se, code := evote(t, append([]string{"election", "bundle", "--manifest", f.manifest, "--board-key", f.vkey, "--ca-cert", f.ca,
		"--board", "https://board.example.org", "--issuer", "https://issuer.example.org/", "--out", out}, extra...)...)
	if code != 0 {
		t.Fatalf("election bundle: exit %d\n%s%s", code, so, se)
	}
	return so
}

// TestElectionBundle: the bundle holds the manifest's bytes, the key, the
// CA and the addresses (the final slash dropped), reads back, and the
// SHA-256 printed is the file's.
func TestElectionBundle(t *testing.T) {
	f := newBundleFixture(t)
	out := f.write(t, f.in("election.bundle"), "--witness", "https://w1.example.org", "--witness", "https://w2.example.org/")
	raw := mustRead(t, f.in("election.bundle"))
	if want := fmt.Sprintf("bundle SHA-256 %x", sha256.Sum256(raw)); !strings.Contains(out, want) {
		t.Errorf("election bundle does not print %q:\n%s", want, out)
	}
	if want := fmt.Sprintf("manifest hash %x", f.hash); !strings.Contains(out, want) {
		t.Errorf("election bundle does not print %q:\n%s", want, out)
	}
	eb, err := parseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(eb.Manifest) != string(mustRead(t, f.manifest)) || eb.manifest.Hash() != f.hash {
		t.Error("the bundle's manifest is not the manifest's bytes")
	}
	if eb.BoardKey != f.boardKey || eb.Board != "https://board.example.org" || eb.Issuer != "https://issuer.example.org" ||
		strings.Join(eb.Witnesses, " ") != "https://w1.example.org https://w2.example.org" {
		t.Errorf("bundle fields: %+v", eb)
	}
	blk, _ := pem.Decode([]byte(eb.CACert))
	caBlk, _ := pem.Decode(mustRead(t, f.ca))
	if blk == nil || string(blk.Bytes) != string(caBlk.Bytes) {
		t.Error("the bundle's CA is not the CA file's certificate")
	}
	// Written again from the same files: the same bytes.
	f.write(t, f.in("again.bundle"), "--witness", "https://w1.example.org", "--witness", "https://w2.example.org")
	if string(mustRead(t, f.in("again.bundle"))) != string(raw) {
		t.Error("the same files give another bundle")
	}
	// Not overwritten without --force.
	if _, se, code := evote(t, "election", "bundle", "--manifest", f.manifest, "--board-key", f.vkey, "--board", "https://b.example.org",
		"--issuer", "https://i.example.org", "--out", f.in("election.bundle")); code == 0 || !strings.Contains(se, "exists") {
		t.Errorf("election bundle over an existing file: exit %d\n%s", code, se)
	}
}

// TestAttackElectionBundleRefuses: a CA file with a private key in it, an
// address in clear text to another machine, a missing address, a file that
// is not a manifest: refused, with no file written.
func TestAttackElectionBundleRefuses(t *testing.T) {
	f := newBundleFixture(t)
	_, key := selfSigned(t, t.TempDir()) // a certificate and its key
	withKey := f.in("ca-and-key.pem")
	if err := os.WriteFile(withKey, append(mustRead(t, f.ca), mustRead(t, key)...), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"election", "bundle", "--manifest", f.manifest, "--board-key", f.vkey, "--out", f.in("x.bundle")}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a key in the CA file", []string{"--board", "https://b.example.org", "--issuer", "https://i.example.org", "--ca-cert", withKey}, "a PRIVATE KEY block"},
		{"http to another machine", []string{"--board", "http://board.example.org", "--issuer", "https://i.example.org"}, "want https://"},
		{"a query", []string{"--board", "https://b.example.org/?x=1", "--issuer", "https://i.example.org"}, "no user, query or fragment"},
		{"no issuer", []string{"--board", "https://b.example.org"}, "are required"},
		{"a witness twice", []string{"--board", "https://b.example.org", "--issuer", "https://i.example.org", "--witness", "https://w.example.org", "--witness", "https://w.example.org/"}, "twice"},
		{"not a manifest", []string{"--board", "https://b.example.org", "--issuer", "https://i.example.org", "--manifest", f.vkey}, "manifest"},
		{"not a board key", []string{"--board", "https://b.example.org", "--issuer", "https://i.example.org", "--board-key", f.manifest}, "board key"},
	} {
		_, se, code := evote(t, append(base, tc.args...)...)
		if code == 0 || !strings.Contains(se, tc.want) {
			t.Errorf("%s: exit %d, want a refusal saying %q:\n%s", tc.name, code, tc.want, se)
		}
		if _, err := os.Stat(f.in("x.bundle")); err == nil {
			t.Fatalf("%s: refused, but a bundle was written", tc.name)
		}
	}
}
