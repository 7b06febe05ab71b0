package board_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/threshold"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"github.com/gtank/ristretto255"
)

// firstScalar is a randomness source whose first scalar (the first 64
// bytes, reduced mod l) is s, and random after that: ballot.Encrypt draws
// the randomness of the first question's first ciphertext first.
type firstScalar struct{ pending []byte }

func newFirstScalar(s *ristretto255.Scalar) *firstScalar {
	return &firstScalar{pending: append(s.Bytes(), make([]byte, 32)...)}
}

func (f *firstScalar) Read(p []byte) (int, error) {
	if len(f.pending) > 0 {
		n := copy(p, f.pending)
		f.pending = f.pending[n:]
		return n, nil
	}
	return rand.Read(p)
}

// TestAttackIdentityAggregate: two colluding voters encrypt their answer to
// the first question with randomness r and −r, so the aggregate's first
// component is the identity (B is g^count in the clear). Each ballot is
// valid; the tally must still complete: every trustee's partial for that
// ciphertext is the trivial one (identity, no proof), the others are
// proved as usual, the result is right and the record verifies. The
// trivial partial is refused where the aggregate does need decrypting.
func TestAttackIdentityAggregate(t *testing.T) {
	q2 := ballot.Question{ID: "board", Text: "Elect two", Choices: []string{"a", "b", "c"}, Min: 0, Max: 2}
	e := electiontest.New(t, electiontest.Options{Questions: []ballot.Question{electiontest.YesNo, q2}})
	el := e.Board.Election()
	r, err := elgamal.RandomScalar(nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range []struct {
		r   *ristretto255.Scalar
		sel [][]int
	}{
		{r, [][]int{{0}, {0, 2}}},
		{ristretto255.NewScalar().Negate(r), [][]int{{1}, {2}}},
	} {
		v := e.Voter(t)
		b, err := ballot.Encrypt(newFirstScalar(c.r), el, v.Secret, v.Key, v.Token, c.sel)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.Cast(ctx, b.Bytes()); err != nil {
			t.Fatalf("colluding voter %d's ballot is refused: %v", k+1, err)
		}
	}
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PostIssuance(ctx); err != nil {
		t.Fatal(err)
	}
	agg := mustAggregate(t, e)
	if agg.Questions[0][0].A().Equal(ristretto255.NewIdentityElement()) != 1 {
		t.Fatal("the aggregate's first component is not the identity")
	}

	// The trivial partial where a proof is due: refused, nothing stored.
	ks := e.Shares[0]
	s, err := tally.Decrypt(el, agg, ks.Index, ks.Secret, ks.VerificationKey)
	if err != nil {
		t.Fatalf("a trustee cannot decrypt the identity aggregate: %v", err)
	}
	for k, p := range s.Partials {
		if p.Trivial() != (k == 0) {
			t.Fatalf("partial %d: trivial %v", k, p.Trivial())
		}
	}
	for k := 1; k < len(s.Partials); k++ {
		bad := s.Bytes()
		clear(bad[1+k*threshold.PartialSize+1 : 1+(k+1)*threshold.PartialSize])
		before := size(t, e)
		_, err := e.Board.PostPartial(ctx, bad)
		refused(t, e, before, err, board.ErrInvalidEntry, fmt.Sprintf("the trivial partial for choice %d", k))
	}

	for _, i := range []int{2, 1} {
		ks := e.Shares[i-1]
		s, err := tally.Decrypt(el, agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.PostPartial(ctx, s.Bytes()); err != nil {
			t.Fatalf("trustee %d's partial decryption is refused: %v", i, err)
		}
	}
	shares, err := e.Board.Partials()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tally.Combine(el, agg, shares)
	if err != nil {
		t.Fatalf("the partial decryptions do not combine: %v", err)
	}
	if _, err := e.Board.PostResult(ctx, res.Bytes()); err != nil {
		t.Fatalf("the result is refused: %v", err)
	}
	if got := fmt.Sprint(res.Counts, res.Trustees); got != "[[1 1] [1 0 2]] [2 1]" {
		t.Fatalf("result %s, want [[1 1] [1 0 2]] [2 1]", got)
	}
	rec := e.Export(t)
	rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{})
	if err != nil || !rep.OK {
		t.Fatalf("the record does not verify: %v", err)
	}
	if !rep.Result.Equal(res) {
		t.Fatalf("verified result %v, posted %v", rep.Result.Counts, res.Counts)
	}
	// Every partial entry holds the trivial partial, and only it, for the
	// identity ciphertext.
	r2 := store.NewReader(bytes.NewReader(rec), e.Verifier)
	partials := 0
	for {
		leaf, err := r2.Next()
		if err != nil {
			break
		}
		if store.EntryType(leaf[0]) != store.Partial {
			continue
		}
		partials++
		s, err := tally.ParsePartial(el, leaf[1:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf[2:2+threshold.PartialSize], append([]byte{byte(s.Trustee)}, make([]byte, threshold.PartialSize-1)...)) {
			t.Fatalf("trustee %d's partial of the identity ciphertext is %x, want the trivial partial", s.Trustee, leaf[2:2+threshold.PartialSize])
		}
	}
	if partials != 2 {
		t.Fatalf("%d partial entries, want 2", partials)
	}
}
