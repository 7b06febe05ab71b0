// Package sim runs an election in one process on the real packages: a
// board on a bbolt log, a key ceremony among its trustees posted through
// the board (trustee.RunLocal), voters with tokens from a real RSA issuing
// key, close, threshold tally and export. It is the one way evote stands
// up an election in process: New for tests (through internal/electiontest)
// and the benchmarks, StartSite, the same election with its issuer and
// board served over HTTP on loopback and its ceremony posted through the
// board's API, for the demo and the local load test. Nothing here is a
// shortcut the real services do not take, except that New's tokens are
// signed in process.
package sim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuance"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/trustee"
	"github.com/gtank/ristretto255"
	"golang.org/x/mod/sumdb/note"
)

// Options shape an election. Zero values give one yes/no question, 3
// trustees with threshold 2, and refusal of second ballots.
type Options struct {
	Dir       string // the log's directory (required)
	Issuer    *token.PrivateKey
	Questions []ballot.Question
	N, T      int
	Revoting  string
	// MinBallots is the manifest's min_ballots.
	MinBallots int
	LogOpts    *bolt.Options
	// OpenLog, if set, opens the board's log instead of a bbolt log in
	// Dir (evote demo --store postgres:DSN).
	OpenLog func(note.Signer) (store.Log, error)
	// Title and Origin name the election and its board; "" means "Test
	// election" and "board.test".
	Title, Origin string
	// Opens and Closes are the manifest's times (ballot.ParseTime), if any.
	Opens, Closes string
	// Witnesses and WitnessQuorum are the manifest's witness keys (note
	// verifier keys, witness.GenerateKey) and quorum, if any.
	Witnesses     []string
	WitnessQuorum int
	// NoIssuanceKey leaves the manifest's issuance_key out: the record
	// then holds no statement of the issuer's counts (SPEC.md §8), as an
	// election made before the key existed. By default the manifest names
	// the statement key derived from Issuer, and Tally posts the statement
	// right after close.
	NoIssuanceKey bool
	// Eligible is the number of voters New's issuer states as eligible
	// (0: as many as it issued tokens to). StartSite's issuer states its
	// roll's counts instead.
	Eligible int
}

// YesNo is a yes/no question.
var YesNo = ballot.Question{ID: "motion", Text: "Adopt the motion?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}

// Election is an election in progress.
type Election struct {
	Board    *board.Board
	Log      store.Log
	Verifier note.Verifier
	VKey     string      // the board's note verifier key
	Signer   note.Signer // the board's checkpoint key, for tests that play a lying board
	Issuer   *token.PrivateKey
	Trustees []*trustee.Trustee
	Shares   []*trustee.KeyShare
	// TrusteeKeys sign each trustee's ceremony messages; the manifest
	// names their public halves.
	TrusteeKeys []ed25519.PrivateKey

	eligible int
	issued   atomic.Uint64 // tokens Voter signed
	// counts are the issuer's counts of eligible voters and issued tokens:
	// New's from Voter, a Site's from its issuer's roll.
	counts func(context.Context) (eligible, issued uint64, err error)
}

// New creates the board, runs the key ceremony through it and opens it.
func New(o Options) (*Election, error) {
	e, m, err := create(o)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	err = e.ceremony(ctx, m, func(ctx context.Context, body []byte) error {
		_, err := e.Board.PostCeremony(ctx, body)
		return err
	}, func(ctx context.Context) error {
		_, err := e.Board.OpenVoting(ctx)
		return err
	})
	if err != nil {
		e.Log.Close()
		return nil, err
	}
	return e, nil
}

// create makes the keys, the manifest and the board, up to the ceremony.
func create(o Options) (*Election, *ballot.Manifest, error) {
	if o.Title == "" {
		o.Title = "Test election"
	}
	if o.Origin == "" {
		o.Origin = "board.test"
	}
	if len(o.Questions) == 0 {
		o.Questions = []ballot.Question{YesNo}
	}
	if o.N == 0 {
		o.N, o.T = 3, 2
	}
	if o.Revoting == "" {
		o.Revoting = ballot.RevotingRefuse
	}
	if o.Issuer == nil {
		return nil, nil, errors.New("sim: an issuer key is required")
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, o.Origin)
	if err != nil {
		return nil, nil, err
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	var log store.Log
	if o.OpenLog != nil {
		log, err = o.OpenLog(signer)
	} else {
		log, err = bolt.Open(o.Dir, signer, o.LogOpts)
	}
	if err != nil {
		return nil, nil, err
	}
	id, _ := ballot.NewElectionID(rand.Reader)
	e := &Election{Log: log, Verifier: verifier, VKey: vkey, Signer: signer, Issuer: o.Issuer, eligible: o.Eligible}
	keys, privs, err := trustee.LocalKeys(nil, o.N)
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	e.TrusteeKeys = privs
	var statementKey []byte
	if !o.NoIssuanceKey {
		statementKey = issuance.DeriveKey(o.Issuer).Public().(ed25519.PublicKey)
	}
	m, err := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: o.Title, Questions: o.Questions,
		Trustees: ballot.Trustees{N: o.N, T: o.T, Keys: keys}, IssuerKey: o.Issuer.Public().Bytes(), IssuanceKey: statementKey,
		Revoting: o.Revoting, MinBallots: o.MinBallots,
		Opens: o.Opens, Closes: o.Closes, Witnesses: o.Witnesses, WitnessQuorum: o.WitnessQuorum,
	})
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	if e.Board, err = board.Create(context.Background(), e.Log, m.Bytes()); err != nil {
		log.Close()
		return nil, nil, err
	}
	return e, m, nil
}

// ceremony runs the key ceremony among the election's trustees, each
// message posted with post (to the board in process, or through its HTTP
// API), then opens voting with open, and checks the board's election key is
// the one the trustees made.
func (e *Election) ceremony(ctx context.Context, m *ballot.Manifest, post func(context.Context, []byte) error, open func(context.Context) error) error {
	c, err := trustee.RunLocal(ctx, nil, m, e.TrusteeKeys, post)
	if err != nil {
		return err
	}
	if err := open(ctx); err != nil {
		return err
	}
	if !bytes.Equal(c.Open.Key.Bytes(), e.Board.Election().Key.Bytes()) {
		return errors.New("sim: the trustees' election key differs from the board's")
	}
	e.Trustees, e.Shares = c.Trustees, c.Shares
	return nil
}

// Close releases the log.
func (e *Election) Close() error { return e.Log.Close() }

// Voter holds a token key and its token.
type Voter struct {
	Secret *ristretto255.Scalar
	Key    *elgamal.PublicKey
	Token  *token.Token
}

// Voter issues a fresh voter a token, in process.
func (e *Election) Voter() (*Voter, error) {
	m := e.Board.Manifest()
	x, pk, err := ballot.GenerateTokenKey(nil)
	if err != nil {
		return nil, err
	}
	blinded, st, err := token.Blind(rand.Reader, m.Issuer(), m.ID(), pk.Bytes())
	if err != nil {
		return nil, err
	}
	sig, err := e.Issuer.Sign(blinded)
	if err != nil {
		return nil, err
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		return nil, err
	}
	e.issued.Add(1)
	return &Voter{x, pk, tok}, nil
}

// Statement returns the issuer's signed statement (package issuance) that
// eligible voters were on its roll and issued tokens were signed, for the
// election's board: the entry the issuer posts after close.
func (e *Election) Statement(eligible, issued uint64) ([]byte, error) {
	st, err := issuance.Sign(issuance.DeriveKey(e.Issuer), issuance.Statement{
		ElectionID: e.Board.Manifest().ID(), Eligible: eligible, Issued: issued, Time: time.Now()})
	if err != nil {
		return nil, err
	}
	return st.Bytes(), nil
}

// IssuanceStatement is the issuer's signed statement of its counts now
// (Statement): a Site's, its issuer's roll's. New's issuer is the test
// holding Issuer, which may sign tokens itself besides those Voter signs;
// it states as issued the more of the tokens Voter signed and the distinct
// tokens on the board (each one it signed), and Options.Eligible voters or
// as many as it issued.
func (e *Election) IssuanceStatement(ctx context.Context) ([]byte, error) {
	if e.counts != nil {
		eligible, issued, err := e.counts(ctx)
		if err != nil {
			return nil, err
		}
		return e.Statement(eligible, issued)
	}
	onBoard, err := e.tokensOnBoard()
	if err != nil {
		return nil, err
	}
	issued := max(e.issued.Load(), onBoard)
	return e.Statement(max(uint64(e.eligible), issued), issued)
}

// tokensOnBoard counts the distinct eligibility tokens of the ballots on
// the board. A token sits at a fixed place in every ballot (SPEC.md §6):
// after the version, the election ID and the token key.
func (e *Election) tokensOnBoard() (uint64, error) {
	n, err := e.Log.Size()
	if err != nil {
		return 0, err
	}
	size := 32 + e.Board.Manifest().Issuer().Size()
	seen := map[string]bool{}
	for i := uint64(1); i < n; i++ {
		leaf, err := e.Log.Leaf(i)
		if err != nil {
			return 0, err
		}
		if store.EntryType(leaf[0]) == store.Ballot && len(leaf) >= 1+65+size {
			seen[string(leaf[1+65:1+65+size])] = true
		}
	}
	return uint64(len(seen)), nil
}

// PostIssuance posts the issuer's statement of its counts to the board in
// process. Tally calls it right after close when the manifest names an
// issuance key.
func (e *Election) PostIssuance(ctx context.Context) (uint64, error) {
	body, err := e.IssuanceStatement(ctx)
	if err != nil {
		return 0, err
	}
	return e.Board.PostIssuance(ctx, body)
}

// Ballot encrypts the voter's selections.
func (e *Election) Ballot(v *Voter, sel ...[]int) ([]byte, error) {
	b, err := ballot.Encrypt(nil, e.Board.Election(), v.Secret, v.Key, v.Token, sel)
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Tally closes the election, posts the issuer's statement of its counts
// (when the manifest names an issuance key), has the given trustees (1-based; default the
// first t) post partial decryptions, and posts and returns the result.
func (e *Election) Tally(trustees ...int) (*tally.Result, error) {
	ctx := context.Background()
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		return nil, err
	}
	if e.Board.Manifest().Issuance() != nil {
		if _, err := e.PostIssuance(ctx); err != nil {
			return nil, err
		}
	}
	if len(trustees) == 0 {
		for i := 1; i <= e.Board.Manifest().Trustees.T; i++ {
			trustees = append(trustees, i)
		}
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		return nil, err
	}
	el := e.Board.Election()
	for _, i := range trustees {
		ks := e.Shares[i-1]
		s, err := tally.Decrypt(el, agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			return nil, err
		}
		if _, err := e.Board.PostPartial(ctx, s.Bytes()); err != nil {
			return nil, err
		}
	}
	shares, err := e.Board.Partials()
	if err != nil {
		return nil, err
	}
	res, err := tally.Combine(el, agg, shares)
	if err != nil {
		return nil, err
	}
	if _, err := e.Board.PostResult(ctx, res.Bytes()); err != nil {
		return nil, err
	}
	return res, nil
}

// Export returns the whole record.
func (e *Election) Export() ([]byte, error) {
	var buf bytes.Buffer
	err := e.Log.Export(&buf)
	return buf.Bytes(), err
}
