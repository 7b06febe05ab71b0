package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func boardKey(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func checkpoint(t testing.TB, s note.Signer, size uint64, seed string) *store.Checkpoint {
	t.Helper()
	cp, err := store.SignCheckpoint(s, size, tlog.Hash(sha256.Sum256([]byte(seed))))
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func newWitness(t testing.TB, name string) (*Signer, *Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Signer), v.(*Verifier)
}

// cosign appends signers' cosignature lines to a board-signed note.
func cosign(t testing.TB, signed []byte, signers ...note.Signer) []byte {
	t.Helper()
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		t.Fatal("not a note")
	}
	text := signed[:i+1]
	out := bytes.Clone(signed)
	for _, s := range signers {
		sig, err := s.Sign(text)
		if err != nil {
			t.Fatal(err)
		}
		h := []byte{byte(s.KeyHash() >> 24), byte(s.KeyHash() >> 16), byte(s.KeyHash() >> 8), byte(s.KeyHash())}
		out = append(out, "— "+s.Name()+" "+base64.StdEncoding.EncodeToString(append(h, sig...))+"\n"...)
	}
	return out
}

func torchwoodWitness(t *testing.T, name string) (*torchwood.CosignatureSigner, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// TestTorchwoodSignsWeVerify: filippo.io/torchwood v0.6.1, an independent
// implementation of C2SP tlog-cosignature, cosigns; we parse its verifier key
// and count its cosignature.
func TestTorchwoodSignsWeVerify(t *testing.T) {
	bs, bv := boardKey(t, "example.org/board")
	cp := checkpoint(t, bs, 7, "a")
	tw, _ := torchwoodWitness(t, "witness.example")
	v, err := NewVerifier(tw.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyHash() != tw.KeyHash() || v.Name() != tw.Name() {
		t.Fatalf("key ID %08x/%s, torchwood says %08x/%s", v.KeyHash(), v.Name(), tw.KeyHash(), tw.Name())
	}
	signed := cosign(t, cp.Signed, tw)
	c, err := store.OpenCosigned(signed, bv, []note.Verifier{v}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cosigners) != 1 || c.Cosigners[0] != "witness.example" || c.Checkpoint.Size != 7 {
		t.Fatalf("got %+v", c)
	}
	if d := time.Now().Unix() - c.Times[0]; d < 0 || d > 60 {
		t.Fatalf("timestamp %d is %d s from now", c.Times[0], d)
	}
	// Timestamp agrees with torchwood's.
	n, err := note.Open(signed, note.VerifierList(bv, tw.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range n.Sigs[1:] {
		ours, err := Timestamp(s)
		theirs, err2 := torchwood.CosignatureTimestamp(s)
		if err != nil || err2 != nil || ours != theirs {
			t.Fatalf("Timestamp %d (%v), torchwood %d (%v)", ours, err, theirs, err2)
		}
	}
}

// TestWeSignTorchwoodVerifies: our cosignature opens with torchwood's
// verifier, built from the same Ed25519 key.
func TestWeSignTorchwoodVerifies(t *testing.T) {
	bs, bv := boardKey(t, "example.org/board")
	cp := checkpoint(t, bs, 3, "b")
	seed := make([]byte, 32)
	rand.Read(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	tw, err := torchwood.NewCosignatureSigner("w1", priv)
	if err != nil {
		t.Fatal(err)
	}
	skey := "PRIVATE+KEY+w1+" + hex8(tw.KeyHash()) + "+" + base64.StdEncoding.EncodeToString(append([]byte{4}, seed...))
	ours, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if got := ours.(*Signer).Verifier().String(); got != tw.Verifier().String() {
		t.Fatalf("vkey %s, torchwood %s", got, tw.Verifier().String())
	}
	signed := cosign(t, cp.Signed, ours)
	n, err := note.Open(signed, note.VerifierList(bv, tw.Verifier()))
	if err != nil {
		t.Fatalf("torchwood refuses our cosignature: %v", err)
	}
	if len(n.Sigs) != 2 {
		t.Fatalf("torchwood verified %d signatures, want 2", len(n.Sigs))
	}
}

func hex8(h uint32) string {
	const d = "0123456789abcdef"
	b := make([]byte, 8)
	for i := range b {
		b[7-i] = d[h>>(4*i)&15]
	}
	return string(b)
}

func TestGenerateKeyRoundTrip(t *testing.T) {
	skey, vkey, err := GenerateKey(rand.Reader, "w")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if s.(*Signer).Verifier().String() != vkey {
		t.Fatal("signer's verifier is not the generated vkey")
	}
	// note's own parser reads the key too and agrees on its ID.
	if _, err := note.NewVerifier(vkey); err == nil {
		t.Log("x/mod/sumdb/note accepts alg 0x04 keys")
	}
	if _, _, err := GenerateKey(rand.Reader, "a b"); err == nil {
		t.Fatal("name with a space accepted")
	}
}

func TestQuorum(t *testing.T) {
	bs, bv := boardKey(t, "example.org/board")
	cp := checkpoint(t, bs, 9, "q")
	w1, v1 := newWitness(t, "w1")
	w2, v2 := newWitness(t, "w2")
	_, v3 := newWitness(t, "w3")
	stranger, _ := newWitness(t, "stranger")
	ws := []note.Verifier{v1, v2, v3}

	signed := cosign(t, cp.Signed, w1, stranger, w1, w2)
	c, err := store.OpenCosigned(signed, bv, ws, 2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Cosigners, ",") != "w1,w2" {
		t.Fatalf("cosigners %v", c.Cosigners)
	}
	if !bytes.Equal(c.Checkpoint.Signed, cp.Signed) {
		t.Fatal("Checkpoint.Signed is not the board-only note")
	}
	_, err = store.OpenCosigned(signed, bv, ws, 3)
	if !errors.Is(err, store.ErrNoQuorum) || !strings.Contains(err.Error(), "2 of 3") {
		t.Fatalf("quorum 3 of 2 cosigners: %v", err)
	}
	// The same witness listed twice counts once.
	if _, err := store.OpenCosigned(cosign(t, cp.Signed, w1), bv, []note.Verifier{v1, v1}, 2); !errors.Is(err, store.ErrNoQuorum) {
		t.Fatalf("one witness counted twice: %v", err)
	}
	// Without the board's signature, nothing.
	wOnly := cosign(t, []byte(strings.SplitAfter(string(cp.Signed), "\n\n")[0]+"— x AAAA\n"), w1, w2)
	if _, err := store.OpenCosigned(wOnly, bv, ws, 0); err == nil {
		t.Fatal("note without the board's signature opened")
	}
	// Another board's key.
	_, other := boardKey(t, "example.org/board")
	if _, err := store.OpenCosigned(signed, other, ws, 0); err == nil {
		t.Fatal("opened with another board key")
	}
}

// TestAttackMovedCosignature moves, alters and truncates cosignatures: a
// cosignature of another checkpoint, with another timestamp, or cut short,
// does not count.
func TestAttackMovedCosignature(t *testing.T) {
	bs, bv := boardKey(t, "example.org/board")
	a := checkpoint(t, bs, 5, "a")
	b := checkpoint(t, bs, 5, "fork")
	w, v := newWitness(t, "w")
	ws := []note.Verifier{v}
	lines := func(signed []byte) []string {
		ls := strings.Split(strings.TrimSuffix(string(signed), "\n"), "\n")
		return ls
	}
	good := cosign(t, a.Signed, w)
	cosLine := lines(good)[len(lines(good))-1]
	if _, err := store.OpenCosigned(good, bv, ws, 1); err != nil {
		t.Fatal(err)
	}

	// Moved onto another checkpoint of the same log.
	moved := append(bytes.Clone(b.Signed), cosLine+"\n"...)
	if _, err := store.OpenCosigned(moved, bv, ws, 1); !errors.Is(err, store.ErrNoQuorum) {
		t.Fatalf("cosignature of another checkpoint counted: %v", err)
	}

	name, b64, _ := strings.Cut(strings.TrimPrefix(cosLine, "— "), " ")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	edit := func(f func([]byte) []byte) []byte {
		r := f(bytes.Clone(raw))
		return append(bytes.Clone(a.Signed), "— "+name+" "+base64.StdEncoding.EncodeToString(r)+"\n"...)
	}
	cases := map[string][]byte{
		"timestamp+1": edit(func(r []byte) []byte { r[11]++; return r }),
		"truncated":   edit(func(r []byte) []byte { return r[:len(r)-1] }),
		"bit flip":    edit(func(r []byte) []byte { r[len(r)-1] ^= 1; return r }),
		"extended":    edit(func(r []byte) []byte { return append(r, 0) }),
	}
	// A line of the key hash alone makes the note malformed for
	// x/mod/sumdb/note: refused whole.
	if _, err := store.OpenCosigned(edit(func(r []byte) []byte { return r[:4] }), bv, ws, 0); err == nil {
		t.Error("key hash only: opened")
	}
	for n, signed := range cases {
		if _, err := store.OpenCosigned(signed, bv, ws, 1); !errors.Is(err, store.ErrNoQuorum) {
			t.Errorf("%s: counted (%v)", n, err)
		}
		// Below quorum the note still opens: unknown or bad lines are ignored.
		if _, err := store.OpenCosigned(signed, bv, ws, 0); err != nil {
			t.Errorf("%s: quorum 0 refused: %v", n, err)
		}
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	_, vkey, err := GenerateKey(rand.Reader, "w")
	if err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(vkey, "+")
	hash, key, _ := strings.Cut(rest, "+")
	raw, _ := base64.StdEncoding.DecodeString(key)
	wrongHash := []byte(hash)
	if wrongHash[0] == '0' {
		wrongHash[0] = '1'
	} else {
		wrongHash[0] = '0'
	}
	bad := map[string]string{
		"wrong hash":       name + "+" + string(wrongHash) + "+" + key,
		"upper-case hash":  name + "+" + strings.ToUpper(hash) + "+" + key,
		"other name":       "v+" + hash + "+" + key,
		"short key":        name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(raw[:32]),
		"long key":         name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append(raw, 0)),
		"ed25519 type":     name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, raw[1:]...)),
		"padded":           name + "+" + hash + "+" + key + "=",
		"extra field":      vkey + "+x",
		"empty":            "",
		"short hash":       name + "+" + hash[1:] + "+" + key,
		"trailing newline": vkey + "\n",
	}
	for n, k := range bad {
		if _, err := NewVerifier(k); !errors.Is(err, ErrKey) {
			t.Errorf("%s: %q accepted (%v)", n, k, err)
		}
	}
	if _, err := NewSigner(vkey); !errors.Is(err, ErrKey) {
		t.Errorf("verifier key accepted as signer key: %v", err)
	}
}

func TestTimestampRefuses(t *testing.T) {
	for _, b := range []string{"", "AAAA", "!!!!", base64.StdEncoding.EncodeToString(make([]byte, 75))} {
		if _, err := Timestamp(note.Signature{Name: "w", Base64: b}); err == nil {
			t.Errorf("Timestamp(%q) accepted", b)
		}
	}
}

func FuzzNewVerifier(f *testing.F) {
	_, vkey, _ := GenerateKey(rand.Reader, "w")
	f.Add(vkey)
	f.Add("w+00000000+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := NewVerifier(s)
		if err != nil {
			return
		}
		if v.(*Verifier).String() != s {
			t.Fatalf("accepted %q, which re-encodes as %q", s, v.(*Verifier).String())
		}
	})
}

func FuzzOpenCosigned(f *testing.F) {
	bs, bv := boardKey(f, "example.org/board")
	cp := checkpoint(f, bs, 5, "a")
	w, v := newWitness(f, "w")
	f.Add(cosign(f, cp.Signed, w))
	f.Add(cp.Signed)
	f.Fuzz(func(t *testing.T, signed []byte) {
		c, err := store.OpenCosigned(signed, bv, []note.Verifier{v}, 0)
		if err != nil {
			return
		}
		if _, err := store.ParseCheckpoint(c.Checkpoint.Signed, bv); err != nil {
			t.Fatalf("opened, but the board's note does not parse: %v", err)
		}
		if len(c.Cosigners) > 1 {
			t.Fatalf("one witness counted %d times", len(c.Cosigners))
		}
	})
}
