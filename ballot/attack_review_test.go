package ballot

import (
	"errors"
	"testing"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
)

// Ciphertexts and 0/1 proofs moved between positions of the same ballot
// (and re-signed) fail: each proof's context names its question and choice.
func TestAttackSwapPositionsWithinBallot(t *testing.T) {
	te := newElection(t, upTo3)
	v := newVoter(t, te)
	b := v.cast(t, te, []int{0, 1})
	k := upTo3.Encrypted()
	start := te.Size() - zkp.SchnorrSize - k*(elgamal.CiphertextSize+zkp.OrProofSize(2))
	body := append([]byte(nil), b.Bytes()[:te.Size()-zkp.SchnorrSize]...)
	swap := func(i, j, size int) {
		tmp := append([]byte(nil), body[i:i+size]...)
		copy(body[i:i+size], body[j:j+size])
		copy(body[j:j+size], tmp)
	}
	// Swap choice 0 and choice 2 (a picked and an unpicked one): ciphertexts and proofs.
	swap(start, start+2*elgamal.CiphertextSize, elgamal.CiphertextSize)
	ps := start + k*elgamal.CiphertextSize
	swap(ps, ps+2*zkp.OrProofSize(2), zkp.OrProofSize(2))
	sig, err := proveSignature(te.Election, body, v)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(te.Election, append(body, sig...))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(te.Election, p); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("ballot with swapped positions: got %v, want ErrInvalidProof", err)
	}
}

// In the compact shape (min == max, last choice implied) the implied count
// can be neither negative nor above 1, for every exact-k question shape.
func TestAttackImpliedChoiceOutOfRange(t *testing.T) {
	all3 := Question{ID: "all", Text: "All three", Choices: []string{"a", "b", "c"}, Min: 3, Max: 3}
	two3 := Question{ID: "two", Text: "Two of three", Choices: []string{"a", "b", "c"}, Min: 2, Max: 2}
	one3 := Question{ID: "one", Text: "One of three", Choices: []string{"a", "b", "c"}, Min: 1, Max: 1}
	for _, tc := range []struct {
		q     Question
		picks []uint64 // encrypted choices only
		ok    bool
	}{
		{one3, []uint64{1, 1}, false}, // implied -1
		{one3, []uint64{0, 0}, true},  // implied 1
		{one3, []uint64{1, 0}, true},  // implied 0
		{two3, []uint64{0, 0}, false}, // implied 2
		{two3, []uint64{1, 1}, true},  // implied 0
		{two3, []uint64{0, 1}, true},  // implied 1
		{all3, []uint64{1, 0}, false}, // implied 2
		{all3, []uint64{1, 1}, true},  // implied 1
	} {
		te := newElection(t, tc.q)
		v := newVoter(t, te)
		picks := append(append([]uint64(nil), tc.picks...), 0)
		b, err := encrypt(nil, te.Election, v.secret, v.key, v.tok, [][]uint64{picks})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(te.Election, b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(te.Election, p); (err == nil) != tc.ok {
			t.Errorf("%s-of-3 with encrypted %v: verify error %v, want ok=%v", tc.q.ID, tc.picks, err, tc.ok)
		}
	}
}
