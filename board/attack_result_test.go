package board_test

import (
	"bytes"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
)

// closedWithPartials runs an election of three ballots (yes, yes, no) with
// three trustees (threshold 2), closes it and has the trustees post their
// partial decryptions in the order given.
func closedWithPartials(t *testing.T, order ...int) (*electiontest.Election, *tally.Aggregate) {
	t.Helper()
	e := electiontest.New(t, electiontest.Options{})
	for _, v := range []int{0, 0, 1} {
		e.Cast(t, e.Voter(t), []int{v})
	}
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PostIssuance(ctx); err != nil {
		t.Fatal(err)
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range order {
		ks := e.Shares[i-1]
		s, err := tally.Decrypt(e.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.PostPartial(ctx, s.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return e, agg
}

// TestAttackResultWrongTrusteesOrEncoding: a result with the right counts
// but another list of trustees, or the right result encoded another way
// (keys reordered or repeated, spaces, escapes), must not be stored: once
// on the board it would keep the true result out for good and make the
// record fail verification forever. The board stores only the result it
// computes itself from the first t partial decryptions in record order
// (here trustees 3 then 1, though trustee 2 posted too), byte for byte.
func TestAttackResultWrongTrusteesOrEncoding(t *testing.T) {
	e, _ := closedWithPartials(t, 3, 1, 2)
	want := `{"ballots":3,"counts":[[2,1]],"trustees":[3,1]}`
	shares, err := e.Board.Partials()
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	for _, s := range shares {
		order = append(order, s.Trustee)
	}
	if !slices.Equal(order, []int{3, 1, 2}) {
		t.Fatalf("Shares in order %v, want record order [3 1 2]", order)
	}
	for _, c := range []struct{ what, body, msg string }{
		{"the same two trustees in index order", `{"ballots":3,"counts":[[2,1]],"trustees":[1,3]}`, "names trustees [1 3], but it is made by the first 2 partial decryptions in record order, trustees [3 1]'s"},
		{"two other trustees with valid partials", `{"ballots":3,"counts":[[2,1]],"trustees":[1,2]}`, "names trustees [1 2]"},
		{"the last two", `{"ballots":3,"counts":[[2,1]],"trustees":[3,2]}`, "names trustees [3 2]"},
		{"all three", `{"ballots":3,"counts":[[2,1]],"trustees":[3,1,2]}`, "names trustees [3 1 2]"},
		{"one trustee", `{"ballots":3,"counts":[[2,1]],"trustees":[3]}`, "names trustees [3]"},
		{"a trustee twice", `{"ballots":3,"counts":[[2,1]],"trustees":[3,3]}`, "names trustees [3 3]"},
		{"a non-trustee", `{"ballots":3,"counts":[[2,1]],"trustees":[3,7]}`, "names trustees [3 7]"},
		{"no trustees", `{"ballots":3,"counts":[[2,1]],"trustees":[]}`, "names trustees []"},
		{"trustees null", `{"ballots":3,"counts":[[2,1]],"trustees":null}`, "trustees is null"},
		{"trustees left out", `{"ballots":3,"counts":[[2,1]]}`, `field "trustees" is missing`},
		{"keys reordered", `{"counts":[[2,1]],"ballots":3,"trustees":[3,1]}`, "not in its canonical encoding"},
		{"a key repeated", `{"ballots":3,"ballots":3,"counts":[[2,1]],"trustees":[3,1]}`, ""},
		{"counts repeated, the first false", `{"ballots":3,"counts":[[1,2]],"counts":[[2,1]],"trustees":[3,1]}`, ""},
		{"spaces", `{"ballots": 3, "counts": [[2, 1]], "trustees": [3, 1]}`, "not in its canonical encoding"},
		{"a leading space", ` ` + want, "not in its canonical encoding"},
		{"a trailing newline", want + "\n", "not in its canonical encoding"},
		{"an escaped key", `{"\u0062allots":3,"counts":[[2,1]],"trustees":[3,1]}`, "written with an escape"},
		{"a number with an exponent", `{"ballots":3e0,"counts":[[2,1]],"trustees":[3,1]}`, ""},
		{"wrong counts, right trustees", `{"ballots":3,"counts":[[1,2]],"trustees":[3,1]}`, "the posted counts [[1 2]] are not what the partial decryptions combine to, [[2 1]]"},
		{"wrong ballots", `{"ballots":4,"counts":[[2,1]],"trustees":[3,1]}`, "the posted result counts 4 ballots, the board has 3"},
	} {
		before := size(t, e)
		_, err := e.Board.PostResult(ctx, []byte(c.body))
		refused(t, e, before, err, board.ErrInvalidEntry, c.what)
		if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %q does not say %q", c.what, err, c.msg)
		}
		if c.msg != "" && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not give the result the board would store", c.what, err)
		}
	}
	// The true result, as the tallier makes it from the record: accepted,
	// once, and the record verifies.
	res, err := tally.Combine(e.Board.Election(), mustAggregate(t, e), shares)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Bytes()) != want {
		t.Fatalf("Combine over the board's shares gives %s, want %s", res.Bytes(), want)
	}
	if _, err := e.Board.PostResult(ctx, []byte(want)); err != nil {
		t.Fatalf("the true result is refused: %v", err)
	}
	rep, err := verify.Record(bytes.NewReader(e.Export(t)), e.Verifier, verify.Options{})
	if err != nil || !rep.OK {
		t.Fatalf("the record does not verify: %v", err)
	}
	if string(rep.Posted.Bytes()) != want {
		t.Fatalf("the verified result is %s, want %s", rep.Posted.Bytes(), want)
	}
}

func mustAggregate(t *testing.T, e *electiontest.Election) *tally.Aggregate {
	t.Helper()
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	return agg
}

// l is the order of ristretto255.
var l, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// TestAttackPartialNotCanonical: the board stores a partial decryption only
// in its one encoding. A share whose response scalar is z + l, whose point
// is encoded non-canonically, that is a byte short or long, that puts the
// trivial partial (identity, no proof) where the aggregate needs
// decrypting, or that names another trustee inside is refused, and nothing
// is stored.
func TestAttackPartialNotCanonical(t *testing.T) {
	e, agg := closedWithPartials(t)
	ks := e.Shares[0]
	s, err := tally.Decrypt(e.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
	if err != nil {
		t.Fatal(err)
	}
	good := s.Bytes()
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	le := func(b []byte) *big.Int {
		r := slices.Clone(b)
		slices.Reverse(r)
		return new(big.Int).SetBytes(r)
	}
	toLE := func(x *big.Int) []byte {
		b := x.FillBytes(make([]byte, 32))
		slices.Reverse(b)
		return b
	}
	// Partial layout after the share's index byte: index, D, R1, R2, z.
	const d, z = 2, 2 + 32 + 64
	bodies := map[string][]byte{
		"z + l": mutate( // z < l < 2^253, so z + l fits 32 bytes
			func(b []byte) []byte {
				copy(b[z:], toLE(new(big.Int).Add(le(b[z:z+32]), l)))
				return b
			}),
		"D with its top bit set": mutate(func(b []byte) []byte { b[d+31] |= 0x80; return b }),
		"D as the field element p (non-canonical zero)": mutate(func(b []byte) []byte {
			p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
			copy(b[d:], toLE(p))
			return b
		}),
		"trivial partial for an aggregate that needs decrypting": mutate(func(b []byte) []byte {
			clear(b[d:])
			return b
		}),
		"one byte short":           good[:len(good)-1],
		"one byte more":            append(bytes.Clone(good), 0),
		"share and partial differ": mutate(func(b []byte) []byte { b[0] = 2; return b }),
	}
	for what, body := range bodies {
		before := size(t, e)
		_, err := e.Board.PostPartial(ctx, body)
		refused(t, e, before, err, board.ErrInvalidEntry, what)
		t.Logf("%s: %v", what, err)
	}
	if _, err := e.Board.PostPartial(ctx, good); err != nil {
		t.Fatalf("the honest partial is refused: %v", err)
	}
	if !errors.Is(func() error { _, err := e.Board.PostPartial(ctx, good); return err }(), board.ErrInvalidEntry) {
		t.Fatal("the same partial is stored twice")
	}
}
