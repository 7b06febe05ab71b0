package ballot

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/gtank/ristretto255"
)

var (
	issuerOnce sync.Once
	issuerKey  *token.PrivateKey
)

func testIssuer(t testing.TB) *token.PrivateKey {
	issuerOnce.Do(func() {
		var err error
		if issuerKey, err = token.GenerateKey(2048); err != nil {
			panic(err)
		}
	})
	return issuerKey
}

// trusteeKeys returns n fresh trustee public keys in manifest form.
func trusteeKeys(n int) []string {
	var keys []string
	for range n {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		keys = append(keys, hex.EncodeToString(pub))
	}
	return keys
}

type testElection struct {
	*Election
	secret *ristretto255.Scalar // single-holder key: tests only, to decrypt and check
	issuer *token.PrivateKey
}

func newElection(t testing.TB, questions ...Question) testElection {
	t.Helper()
	isk := testIssuer(t)
	id, _ := NewElectionID(rand.Reader)
	m, err := NewManifest(Manifest{
		Version: 1, ElectionID: id, Title: "Test election", Questions: questions,
		Trustees: Trustees{N: 3, T: 2, Keys: trusteeKeys(3)}, IssuerKey: isk.Public().Bytes(), Revoting: RevotingRefuse,
	})
	if err != nil {
		t.Fatal(err)
	}
	x, pk, _ := elgamal.GenerateKey(nil)
	return testElection{&Election{Manifest: m, Key: pk}, x, isk}
}

type voter struct {
	secret *ristretto255.Scalar
	key    *elgamal.PublicKey
	tok    *token.Token
}

func newVoter(t testing.TB, te testElection) voter {
	t.Helper()
	x, pk, _ := GenerateTokenKey(nil)
	blinded, st, err := token.Blind(rand.Reader, te.Manifest.Issuer(), te.Manifest.ID(), pk.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := te.issuer.Sign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		t.Fatal(err)
	}
	return voter{x, pk, tok}
}

func (v voter) cast(t testing.TB, te testElection, sel ...[]int) *Ballot {
	t.Helper()
	b, err := Encrypt(nil, te.Election, v.secret, v.key, v.tok, sel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	yesNo    = Question{ID: "q1", Text: "Approve?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}
	pickOne3 = Question{ID: "q2", Text: "Chair", Choices: []string{"a", "b", "c"}, Min: 1, Max: 1}
	upTo3    = Question{ID: "q3", Text: "Board", Choices: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, Min: 0, Max: 3}
	exact2   = Question{ID: "q4", Text: "Two of four", Choices: []string{"a", "b", "c", "d"}, Min: 2, Max: 2}
)

func decrypt(te testElection, ct *elgamal.Ciphertext) uint64 {
	g := elgamal.Decrypt(te.secret, ct)
	for m := uint64(0); m < 16; m++ {
		if g.Equal(ristretto255.NewIdentityElement().ScalarBaseMult(elgamal.ScalarFromUint64(m))) == 1 {
			return m
		}
	}
	return 99
}

func TestRoundTrip(t *testing.T) {
	te := newElection(t, yesNo, pickOne3, upTo3, exact2)
	v := newVoter(t, te)
	sel := [][]int{{1}, {2}, {0, 4, 9}, {1, 3}}
	b := v.cast(t, te, sel...)
	if len(b.Bytes()) != te.Size() {
		t.Fatalf("ballot is %d bytes, Size says %d", len(b.Bytes()), te.Size())
	}
	p, err := Parse(te.Election, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(te.Election, p); err != nil {
		t.Fatalf("honest ballot refused: %v", err)
	}
	for qi, q := range te.Manifest.Questions {
		var got []int
		for c, ct := range p.Questions[qi].Choices {
			if decrypt(te, ct) == 1 {
				got = append(got, c)
			}
		}
		if q.Encrypted() < len(q.Choices) && len(got) < q.Min {
			got = append(got, len(q.Choices)-1) // the implied last choice
		}
		if !equalInts(got, sel[qi]) {
			t.Errorf("question %s: decrypted %v, voted %v", q.ID, got, sel[qi])
		}
	}
	if TrackingCode(b.Bytes()) == TrackingCode(v.cast(t, te, sel...).Bytes()) {
		t.Fatal("two encryptions of the same choices share a tracking code")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCompactShape(t *testing.T) {
	if _, _, needed := yesNo.SumRange(); needed || yesNo.Encrypted() != 1 {
		t.Fatal("a yes/no question should be one ciphertext with no range proof")
	}
	if lo, hi, needed := pickOne3.SumRange(); !needed || lo != 0 || hi != 1 {
		t.Fatalf("pick-one-of-3: range [%d,%d] needed=%v, want [0,1] true", lo, hi, needed)
	}
	if lo, hi, needed := upTo3.SumRange(); !needed || lo != 0 || hi != 3 {
		t.Fatalf("up-to-3-of-10: range [%d,%d] needed=%v", lo, hi, needed)
	}
}

func TestAttackOverAndUnderVote(t *testing.T) {
	te := newElection(t, pickOne3, upTo3, exact2)
	v := newVoter(t, te)
	for name, sel := range map[string][][]int{
		"two picks in pick-one": {{0, 1}, {}, {0, 1}},
		"no pick in pick-one":   {{}, {}, {0, 1}},
		"four of up-to-3":       {{0}, {0, 1, 2, 3}, {0, 1}},
		"one of exactly-2":      {{0}, {}, {0}},
		"repeated choice":       {{0}, {1, 1}, {0, 1}},
		"choice out of range":   {{3}, {}, {0, 1}},
	} {
		if _, err := Encrypt(nil, te.Election, v.secret, v.key, v.tok, sel); err == nil {
			t.Errorf("%s: Encrypt accepted it", name)
		}
	}
	// A cheating client skips those checks; the proofs give it away.
	for name, picks := range map[string][][]uint64{
		"both encrypted choices of pick-one": {{1, 1, 0}, make([]uint64, 10), {1, 1, 0, 0}},
		"a choice worth 2":                   {{2, 0, 0}, make([]uint64, 10), {1, 1, 0, 0}},
		"four of up-to-3":                    {{1, 0, 0}, {1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, {1, 1, 0, 0}},
		"three of exactly-2":                 {{1, 0, 0}, make([]uint64, 10), {1, 1, 1, 0}},
		"zero of exactly-2":                  {{1, 0, 0}, make([]uint64, 10), {0, 0, 0, 0}},
		"none in pick-one (implied last = 1, cast 0 for all)": {{0, 0, 0}, make([]uint64, 10), {1, 1, 0, 0}},
	} {
		b, err := encrypt(nil, te.Election, v.secret, v.key, v.tok, picks)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p, err := Parse(te.Election, b.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		err = Verify(te.Election, p)
		// "none in pick-one" is actually a valid vote for the implied last
		// choice; everything else must be refused.
		if name == "none in pick-one (implied last = 1, cast 0 for all)" {
			if err != nil {
				t.Errorf("%s: a valid vote for the implied choice was refused: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: got %v, want ErrInvalidProof", name, err)
		}
	}
}

func TestAttackForeignToken(t *testing.T) {
	te := newElection(t, yesNo)
	other := newElection(t, yesNo) // same issuer, another election ID
	v := newVoter(t, other)
	if _, err := Encrypt(nil, te.Election, v.secret, v.key, v.tok, [][]int{{0}}); err == nil {
		t.Fatal("Encrypt accepted a token for another election")
	}
	// Build the ballot anyway, bypassing the client-side check.
	b, err := encrypt(nil, te.Election, v.secret, v.key, v.tok, [][]uint64{{1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(te.Election, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(te.Election, p); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of another election: got %v, want ErrInvalidToken", err)
	}
	// A forged token: a random "signature".
	forged := *v.tok
	forged.Signature = make([]byte, len(v.tok.Signature))
	rand.Read(forged.Signature)
	b, _ = encrypt(nil, te.Election, v.secret, v.key, &forged, [][]uint64{{1, 0}})
	if p, err := Parse(te.Election, b.Bytes()); err == nil && Verify(te.Election, p) == nil {
		t.Fatal("forged token accepted")
	}
}

func TestAttackWrongElection(t *testing.T) {
	te := newElection(t, yesNo)
	other := newElection(t, yesNo)
	b := newVoter(t, te).cast(t, te, []int{0})
	if _, err := Parse(other.Election, b.Bytes()); !errors.Is(err, ErrWrongElection) {
		t.Fatalf("got %v, want ErrWrongElection", err)
	}
	// Same election ID, another manifest (say, edited questions' text): the
	// manifest hash in every proof no longer matches.
	mm := *te.Manifest
	mm.Title = "Edited after the fact"
	edited, err := NewManifest(mm)
	if err != nil {
		t.Fatal(err)
	}
	e2 := &Election{Manifest: edited, Key: te.Key}
	p, err := Parse(e2, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(Verify(e2, p), ErrInvalidProof) {
		t.Fatal("ballot verified against an edited manifest")
	}
}

// A valid ballot's ciphertexts and proofs replayed under another voter's
// token, re-signed by that voter: the proofs are bound to the first token key.
func TestAttackReplayUnderAnotherToken(t *testing.T) {
	te := newElection(t, yesNo, upTo3)
	alice, mallory := newVoter(t, te), newVoter(t, te)
	b := alice.cast(t, te, []int{0}, []int{1, 2})
	body := append([]byte(nil), b.Bytes()[:te.Size()-64]...)
	copy(body[33:65], mallory.key.Bytes())
	tokLen := token.PrefixSize + te.Manifest.Issuer().Size()
	copy(body[65:65+tokLen], mallory.tok.Bytes())
	sig, err := proveSignature(te.Election, body, mallory)
	if err != nil {
		t.Fatal(err)
	}
	replayed := append(body, sig...)
	p, err := Parse(te.Election, replayed)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(te.Election, p); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("replayed ballot: got %v, want ErrInvalidProof", err)
	}
}

func TestAttackTamperedBytes(t *testing.T) {
	te := newElection(t, yesNo, pickOne3)
	b := newVoter(t, te).cast(t, te, []int{0}, []int{1})
	enc := b.Bytes()
	// Every 7th byte, and the first and last, flipped one bit at a time.
	for i := 0; i < len(enc); i += 7 {
		for _, pos := range []int{i, len(enc) - 1} {
			m := append([]byte(nil), enc...)
			m[pos] ^= 1 << (pos % 8)
			if p, err := Parse(te.Election, m); err == nil && Verify(te.Election, p) == nil {
				t.Fatalf("ballot with bit %d of byte %d flipped verified", pos%8, pos)
			}
		}
	}
	for _, m := range [][]byte{nil, enc[:len(enc)-1], append(append([]byte(nil), enc...), 0)} {
		if _, err := Parse(te.Election, m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte ballot: got %v, want ErrMalformed", len(m), err)
		}
	}
}

func TestVerifyBatchNamesTheBadBallot(t *testing.T) {
	te := newElection(t, yesNo)
	var bs []*Ballot
	for i := 0; i < 12; i++ {
		p, err := Parse(te.Election, newVoter(t, te).cast(t, te, []int{i % 2}).Bytes())
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, p)
	}
	for i, err := range VerifyBatch(te.Election, bs) {
		if err != nil {
			t.Fatalf("ballot %d refused in a good batch: %v", i, err)
		}
	}
	// Ballot 5 carries ballot 6's first proof.
	bad := append([]byte(nil), bs[5].Bytes()...)
	off := 1 + 32 + 32 + token.PrefixSize + te.Manifest.Issuer().Size() + 64
	copy(bad[off:off+256], bs[6].Bytes()[off:off+256])
	if bs[5], _ = Parse(te.Election, bad); bs[5] == nil {
		t.Fatal("tampered ballot did not parse")
	}
	errs := VerifyBatch(te.Election, bs)
	for i, err := range errs {
		if (i == 5) != (err != nil) {
			t.Fatalf("ballot %d: error %v", i, err)
		}
	}
}

func TestManifestValidation(t *testing.T) {
	te := newElection(t, yesNo)
	good := *te.Manifest
	for name, edit := range map[string]func(m *Manifest){
		"version 2":         func(m *Manifest) { m.Version = 2 },
		"short election id": func(m *Manifest) { m.ElectionID = "abcd" },
		"no questions":      func(m *Manifest) { m.Questions = nil },
		"min > max":         func(m *Manifest) { m.Questions = []Question{{ID: "x", Choices: []string{"a", "b"}, Min: 2, Max: 1}} },
		"max > choices":     func(m *Manifest) { m.Questions = []Question{{ID: "x", Choices: []string{"a", "b"}, Min: 1, Max: 3}} },
		"one choice":        func(m *Manifest) { m.Questions = []Question{{ID: "x", Choices: []string{"a"}, Min: 1, Max: 1}} },
		"t > n":             func(m *Manifest) { m.Trustees = Trustees{N: 2, T: 3, Keys: trusteeKeys(2)} },
		"bad revoting":      func(m *Manifest) { m.Revoting = "sometimes" },
		"bad issuer key":    func(m *Manifest) { m.IssuerKey = []byte("nope") },
		"duplicate ids":     func(m *Manifest) { m.Questions = []Question{yesNo, yesNo} },
		"PEM issuer key":    func(m *Manifest) { m.IssuerKey = te.issuer.Public().MarshalPEM() },
	} {
		m := good
		edit(&m)
		if _, err := NewManifest(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	keys := good.Trustees.Keys
	for name, edit := range map[string]func(m *Manifest){
		"no trustee keys":        func(m *Manifest) { m.Trustees.Keys = nil },
		"too few trustee keys":   func(m *Manifest) { m.Trustees.Keys = keys[:2] },
		"too many trustee keys":  func(m *Manifest) { m.Trustees.Keys = append(append([]string(nil), keys...), trusteeKeys(1)...) },
		"short trustee key":      func(m *Manifest) { m.Trustees.Keys = []string{keys[0], keys[1], keys[2][:62]} },
		"upper-case trustee key": func(m *Manifest) { m.Trustees.Keys = []string{keys[0], strings.ToUpper(keys[1]), keys[2]} },
		"repeated trustee key":   func(m *Manifest) { m.Trustees.Keys = []string{keys[0], keys[1], keys[0]} },
	} {
		m := good
		edit(&m)
		_, err := NewManifest(m)
		if err == nil || !strings.Contains(err.Error(), "trustees.keys") {
			t.Errorf("%s: error %v, want one naming trustees.keys", name, err)
		}
	}
	for i := 1; i <= 3; i++ {
		if k := hex.EncodeToString(te.Manifest.TrusteeKey(i)); k != keys[i-1] {
			t.Errorf("TrusteeKey(%d) = %s, want %s", i, k, keys[i-1])
		}
	}
	if te.Manifest.TrusteeKey(0) != nil || te.Manifest.TrusteeKey(4) != nil {
		t.Error("TrusteeKey outside 1..n is not nil")
	}
	raw := te.Manifest.Bytes()
	for name, in := range map[string][]byte{
		"unknown field": bytes.Replace(raw, []byte(`"title"`), []byte(`"extra": 1, "title"`), 1),
		"trailing data": append(append([]byte(nil), raw...), []byte(" {}")...),
		"not json":      []byte("election"),
		"case-folded":   bytes.Replace(raw, []byte(`"title"`), []byte(`"Title"`), 1),
	} {
		if _, err := ParseManifest(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	te := newElection(f, yesNo)
	enc := newVoter(f, te).cast(f, te, []int{0}).Bytes()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Parse(te.Election, in)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Bytes(), in) {
			t.Fatal("parsed ballot re-encodes differently")
		}
		if !bytes.Equal(in, enc) && Verify(te.Election, b) == nil {
			t.Fatal("a ballot other than the seed verified")
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	te := newElection(f, yesNo, upTo3)
	f.Add(te.Manifest.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		ParseManifest(in)
	})
}

func TestCiphertextsMatchParse(t *testing.T) {
	te := newElection(t, yesNo, pickOne3, upTo3, exact2)
	raw := newVoter(t, te).cast(t, te, []int{1}, []int{2}, []int{0, 4, 9}, []int{1, 3}).Bytes()
	b, err := Parse(te.Election, raw)
	if err != nil {
		t.Fatal(err)
	}
	cts, err := Ciphertexts(te.Election, raw)
	if err != nil {
		t.Fatal(err)
	}
	for qi, q := range b.Questions {
		if len(cts[qi]) != len(q.Choices) {
			t.Fatalf("question %d: %d ciphertexts, Parse found %d", qi, len(cts[qi]), len(q.Choices))
		}
		for c := range q.Choices {
			if !bytes.Equal(cts[qi][c].Bytes(), q.Choices[c].Bytes()) {
				t.Fatalf("question %d choice %d differs from Parse's", qi, c)
			}
		}
	}
	if _, err := Ciphertexts(te.Election, raw[:len(raw)-1]); err == nil {
		t.Fatal("a short ballot was accepted")
	}
}

// A manifest whose ballots could never fit in a log entry is refused when
// it is made, not when the first voter tries.
func TestManifestBallotMustFitAnEntry(t *testing.T) {
	te := newElection(t, yesNo)
	m := *te.Manifest
	var choices []string
	for i := 0; i < MaxChoices; i++ {
		choices = append(choices, fmt.Sprintf("c%d", i))
	}
	for i := 0; i < 4; i++ {
		m.Questions = append(m.Questions, Question{ID: fmt.Sprintf("big%d", i), Text: "Many", Choices: choices, Min: 0, Max: 64})
	}
	if _, err := NewManifest(m); err == nil || !strings.Contains(err.Error(), "a ballot would be") {
		t.Fatalf("a manifest with unfittable ballots: %v", err)
	}
}
