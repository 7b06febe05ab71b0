package ballot

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// TestEncryptOpening: EncryptOpening makes, from the same bytes of
// randomness, byte for byte the ballot Encrypt makes, with one scalar per
// encrypted choice, and its opening checks out for exactly the choices
// encrypted, through the ballot as parsed.
func TestEncryptOpening(t *testing.T) {
	te := newElection(t, yesNo, pickOne3, upTo3, exact2)
	v := newVoter(t, te)
	sel := [][]int{{1}, {2}, {0, 4, 9}, {1, 3}}
	seed := [32]byte{7}
	b1, err := Encrypt(rand.NewChaCha8(seed), te.Election, v.secret, v.key, v.tok, sel)
	if err != nil {
		t.Fatal(err)
	}
	b2, o, err := EncryptOpening(rand.NewChaCha8(seed), te.Election, v.secret, v.key, v.tok, sel)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Fatal("EncryptOpening and Encrypt make different ballots from the same randomness")
	}
	if len(o) != len(te.Manifest.Questions) {
		t.Fatalf("%d opening rows for %d questions", len(o), len(te.Manifest.Questions))
	}
	for qi, q := range te.Manifest.Questions {
		if len(o[qi]) != q.Encrypted() {
			t.Fatalf("question %s: %d scalars for %d encrypted choices", q.ID, len(o[qi]), q.Encrypted())
		}
	}
	p, err := Parse(te.Election, b2.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckOpening(te.Election, p, sel, o); err != nil {
		t.Fatalf("the honest opening is refused: %v", err)
	}
	if err := CheckOpening(te.Election, b2, sel, o); err != nil {
		t.Fatalf("the honest opening is refused on the ballot as made: %v", err)
	}
	// Encrypt still checks what it checked.
	if _, _, err := EncryptOpening(nil, te.Election, v.secret, v.key, v.tok, [][]int{{0, 1}, {2}, {0}, {1, 3}}); err == nil {
		t.Fatal("an over-vote was encrypted")
	}
	if _, _, err := EncryptOpening(nil, te.Election, v.secret, v.key, v.tok, sel[:3]); err == nil {
		t.Fatal("three answers for four questions were encrypted")
	}
	other := newVoter(t, te)
	if _, _, err := EncryptOpening(nil, te.Election, v.secret, v.key, other.tok, sel); err == nil {
		t.Fatal("a ballot was encrypted under another token key's token")
	}
}

// TestCheckOpeningRefuses: choices other than those encrypted (the implied
// one included) and a changed scalar are refused with ErrOpeningMismatch,
// naming the question and choice; choices that break the rules and
// openings of the wrong shape are refused too.
func TestCheckOpeningRefuses(t *testing.T) {
	te := newElection(t, yesNo, pickOne3, exact2)
	v := newVoter(t, te)
	sel := [][]int{{0}, {1}, {0, 3}}
	b, o, err := EncryptOpening(nil, te.Election, v.secret, v.key, v.tok, sel)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() Opening {
		c := make(Opening, len(o))
		for i := range o {
			c[i] = append([]*ristretto255.Scalar(nil), o[i]...)
		}
		return c
	}
	changed := clone()
	changed[1][1] = ristretto255.NewScalar().Add(changed[1][1], elgamal.ScalarFromUint64(1))
	for _, tc := range []struct {
		name     string
		sel      [][]int
		o        Opening
		mismatch bool
		want     string
	}{
		{"yes shown, no encrypted", [][]int{{1}, {1}, {0, 3}}, o, true, `question "q1" choice 0 ("yes")`},
		{"another chair", [][]int{{0}, {2}, {0, 3}}, o, true, `question "q2" choice 1 ("b")`},
		{"the implied choice swapped", [][]int{{0}, {1}, {0, 2}}, o, true, `question "q4" choice 2 ("c")`},
		{"a changed scalar", sel, changed, true, `question "q2" choice 1 ("b")`},
		{"an over-vote shown", [][]int{{0}, {1, 2}, {0, 3}}, o, false, "takes 1 to 1"},
		{"nothing shown", [][]int{{}, {1}, {0, 3}}, o, false, "takes 1 to 1"},
		{"a row short", sel, o[:2], false, "2 row(s)"},
		{"a row long", sel, append(clone(), o[0]), false, "4 row(s)"},
		{"a scalar short", sel, append(clone()[:1], o[1][:1], o[2]), false, "has 1 scalar(s)"},
		{"a scalar long", sel, append(clone()[:2], append(clone()[2], o[2][0])), false, "4 scalar(s)"},
		{"a nil scalar", sel, append(clone()[:1], []*ristretto255.Scalar{o[1][0], nil}, o[2]), false, "no scalar"},
	} {
		err := CheckOpening(te.Election, b, tc.sel, tc.o)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tc.name)
		case errors.Is(err, ErrOpeningMismatch) != tc.mismatch:
			t.Errorf("%s: errors.Is(ErrOpeningMismatch) = %v: %v", tc.name, !tc.mismatch, err)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v, want it to say %q", tc.name, err, tc.want)
		case tc.mismatch && !strings.Contains(err.Error(), "does NOT encrypt"):
			t.Errorf("%s: %v does not say the ballot does NOT encrypt the choices shown", tc.name, err)
		}
	}
	// The opening of another ballot of the same choices opens nothing here.
	_, o2, err := EncryptOpening(nil, te.Election, v.secret, v.key, v.tok, sel)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckOpening(te.Election, b, sel, o2); !errors.Is(err, ErrOpeningMismatch) {
		t.Fatalf("another ballot's opening: %v, want ErrOpeningMismatch", err)
	}
}

// TestBody: a ballot's body is its encoding less the signature, of
// BodySize bytes; ParseBody reads it back (no signature, no encoding) and
// VerifyBody and CheckOpening accept it, while Verify and VerifyBatch
// refuse it as unsigned. Parse refuses a body and ParseBody a whole
// ballot. VerifyBody ignores a signature, so a body with another ballot's
// signature passes it and fails Verify. The fingerprint is the same for
// the ballot and its body, differs from the tracking code and between two
// encryptions of the same choices, and a flipped bit of the body is
// refused by ParseBody or VerifyBody. The fingerprint is SPEC.md §10.3's.
func TestBody(t *testing.T) {
	te := newElection(t, yesNo, upTo3, exact2)
	v := newVoter(t, te)
	sel := [][]int{{0}, {1, 7}, {0, 3}}
	b, o, err := EncryptOpening(nil, te.Election, v.secret, v.key, v.tok, sel)
	if err != nil {
		t.Fatal(err)
	}
	body := b.Body()
	if len(body) != te.BodySize() || te.BodySize() != te.Size()-64 || !bytes.Equal(body, b.Bytes()[:te.BodySize()]) {
		t.Fatalf("the body is %d bytes and not the ballot's first %d", len(body), te.BodySize())
	}
	grown := append(body, 0xff) // the body's capacity ends with it: appending copies
	if grown[len(body)] != 0xff || !bytes.Equal(b.Bytes()[te.BodySize():], b.Signature.Bytes()) {
		t.Fatal("appending to the body overwrote the ballot's signature")
	}
	p, err := ParseBody(te.Election, body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Signature != nil || p.Bytes() != nil || !bytes.Equal(p.Body(), body) {
		t.Fatalf("the parsed body has a signature or an encoding, or another body")
	}
	if err := VerifyBody(te.Election, p); err != nil {
		t.Fatalf("the body does not verify: %v", err)
	}
	if err := CheckOpening(te.Election, p, sel, o); err != nil {
		t.Fatalf("the opening does not open the parsed body: %v", err)
	}
	if err := Verify(te.Election, p); !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), "no signature") {
		t.Fatalf("Verify of a body: %v, want ErrInvalidProof for no signature", err)
	}
	if errs := VerifyBatch(te.Election, []*Ballot{b, p}); errs[0] != nil || !errors.Is(errs[1], ErrInvalidProof) {
		t.Fatalf("VerifyBatch of a ballot and a body: %v", errs)
	}
	if _, err := Parse(te.Election, body); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse of a body: %v, want ErrMalformed", err)
	}
	if _, err := ParseBody(te.Election, b.Bytes()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ParseBody of a whole ballot: %v, want ErrMalformed", err)
	}
	if _, err := ParseBody(te.Election, body[:len(body)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ParseBody of a short body: %v, want ErrMalformed", err)
	}
	other := v.cast(t, te, sel...)
	resigned, err := Parse(te.Election, append(bytes.Clone(body), other.Signature.Bytes()...))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(te.Election, resigned); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("the body with another ballot's signature: Verify says %v", err)
	}
	if err := VerifyBody(te.Election, resigned); err != nil {
		t.Fatalf("VerifyBody does not ignore the signature: %v", err)
	}
	if err := VerifyBody(te.Election, b); err != nil {
		t.Fatalf("VerifyBody of the signed ballot: %v", err)
	}

	fp := Fingerprint(body)
	if want := sha256.Sum256(append([]byte("evote/ballot/v1/fingerprint\x00"), body...)); fp != want {
		t.Fatalf("the fingerprint is %x, SPEC.md §10.3 gives %x", fp, want)
	}
	if fp != Fingerprint(p.Body()) || fp == TrackingCode(body) || fp == TrackingCode(b.Bytes()) || fp == Fingerprint(other.Body()) {
		t.Fatal("the fingerprint is not the body's alone, or is a tracking code, or two ballots share it")
	}
	for _, at := range []int{0, 40, 70, len(body) / 2, len(body) - 1} {
		flipped := bytes.Clone(body)
		flipped[at] ^= 1
		if p, err := ParseBody(te.Election, flipped); err == nil {
			if err := VerifyBody(te.Election, p); err == nil {
				t.Errorf("byte %d of the body flipped: it verifies", at)
			}
		}
	}
}
