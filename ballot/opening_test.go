package ballot

import (
	"bytes"
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
