// Package electiontest runs whole elections in one process for tests: a
// board on a temporary bbolt log, a key ceremony among real dkg trustees,
// voters with tokens from a real issuer key, close, threshold tally and
// export. Tests of the board, the tally and the verifier build on it.
package electiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/tally"
	"github.com/gtank/ristretto255"
	"golang.org/x/mod/sumdb/note"
)

// Options shape a test election. Zero values give one yes/no question,
// 3 trustees with threshold 2, and refusal of second ballots.
type Options struct {
	Questions []ballot.Question
	N, T      int
	Revoting  string
}

// YesNo is a yes/no question.
var YesNo = ballot.Question{ID: "motion", Text: "Adopt the motion?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}

var issuerKey *token.PrivateKey

// Issuer returns an RSA-2048 issuing key shared by the test binary.
func Issuer(t testing.TB) *token.PrivateKey {
	if issuerKey == nil {
		k, err := token.GenerateKey(2048)
		if err != nil {
			t.Fatal(err)
		}
		issuerKey = k
	}
	return issuerKey
}

// Election is an election in progress.
type Election struct {
	Board    *board.Board
	Log      *bolt.Log
	Verifier note.Verifier
	Issuer   *token.PrivateKey
	Trustees []*dkg.Trustee
	Shares   []*dkg.KeyShare

	anns  []*dkg.Announcement
	deals []*dkg.Deal
}

// New creates the board, runs the key ceremony through it and opens it.
func New(t testing.TB, o Options) *Election {
	t.Helper()
	if len(o.Questions) == 0 {
		o.Questions = []ballot.Question{YesNo}
	}
	if o.N == 0 {
		o.N, o.T = 3, 2
	}
	if o.Revoting == "" {
		o.Revoting = ballot.RevotingRefuse
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "board.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	log, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	iss := Issuer(t)
	id, _ := ballot.NewElectionID(rand.Reader)
	m, err := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "Test election", Questions: o.Questions,
		Trustees: ballot.Trustees{N: o.N, T: o.T}, IssuerKey: iss.Public().Bytes(), Revoting: o.Revoting,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := board.Create(ctx, log, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	e := &Election{Board: b, Log: log, Verifier: verifier, Issuer: iss}
	e.ceremony(t, m, o.N, o.T)
	if _, err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tr := range e.Trustees {
		res, ks, err := tr.Finalize(e.anns, e.deals, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.ElectionKey.Bytes(), b.Election().Key.Bytes()) {
			t.Fatal("a trustee's election key differs from the board's")
		}
		e.Shares = append(e.Shares, ks)
	}
	return e
}

func (e *Election) ceremony(t testing.TB, m *ballot.Manifest, n, th int) {
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		tr, ann, err := dkg.NewTrustee(rand.Reader, i, n, th)
		if err != nil {
			t.Fatal(err)
		}
		e.Trustees = append(e.Trustees, tr)
		e.anns = append(e.anns, ann)
		if _, err := e.Board.PostCeremony(ctx, record.Message(record.KindAnnouncement, ann.Marshal())); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range e.Trustees {
		d, err := tr.Deal(rand.Reader, record.CeremonyContext(m), e.anns)
		if err != nil {
			t.Fatal(err)
		}
		e.deals = append(e.deals, d)
		if _, err := e.Board.PostCeremony(ctx, record.Message(record.KindDeal, d.Marshal())); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range e.Trustees {
		cs, err := tr.Verify(e.deals)
		if err != nil || len(cs) != 0 {
			t.Fatalf("honest ceremony: complaints %v, error %v", cs, err)
		}
	}
}

// Voter holds a token key and its token.
type Voter struct {
	Secret *ristretto255.Scalar
	Key    *elgamal.PublicKey
	Token  *token.Token
}

// Voter issues a fresh voter a token, in process.
func (e *Election) Voter(t testing.TB) *Voter {
	t.Helper()
	m := e.Board.Manifest()
	x, pk, err := ballot.GenerateTokenKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	blinded, st, err := token.Blind(rand.Reader, m.Issuer(), m.ID(), pk.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := e.Issuer.Sign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		t.Fatal(err)
	}
	return &Voter{x, pk, tok}
}

// Ballot encrypts the voter's selections.
func (e *Election) Ballot(t testing.TB, v *Voter, sel ...[]int) []byte {
	t.Helper()
	b, err := ballot.Encrypt(nil, e.Board.Election(), v.Secret, v.Key, v.Token, sel)
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Cast encrypts and casts; it fails the test if the board refuses.
func (e *Election) Cast(t testing.TB, v *Voter, sel ...[]int) *board.Receipt {
	t.Helper()
	rc, err := e.Board.Cast(context.Background(), e.Ballot(t, v, sel...))
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// Tally closes the election, has the given trustees (1-based; default the
// first t) post partial decryptions, and posts and returns the result.
func (e *Election) Tally(t testing.TB, trustees ...int) *tally.Result {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Board.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(trustees) == 0 {
		for i := 1; i <= e.Board.Manifest().Trustees.T; i++ {
			trustees = append(trustees, i)
		}
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	el := e.Board.Election()
	for _, i := range trustees {
		ks := e.Shares[i-1]
		s, err := tally.Decrypt(el, agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.PostPartial(ctx, s.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	shares, err := e.Board.Shares()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tally.Combine(el, agg, shares)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Board.PostResult(ctx, res.Bytes()); err != nil {
		t.Fatal(err)
	}
	return res
}

// Export returns the whole record.
func (e *Election) Export(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Log.Export(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
