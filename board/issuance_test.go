package board_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuance"
)

// statementFixture is an election with three ballots cast, served over
// HTTP, and its issuer's statement key.
type statementFixture struct {
	e   *electiontest.Election
	a   *api
	key ed25519.PrivateKey
}

func newStatementFixture(t *testing.T, closed bool) *statementFixture {
	t.Helper()
	e := electiontest.New(t, electiontest.Options{})
	for _, v := range []int{0, 1, 0} {
		e.Cast(t, e.Voter(t), []int{v})
	}
	if closed {
		if _, err := e.Board.CloseVoting(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return &statementFixture{e: e, a: serveBoard(t, e.Board), key: issuance.DeriveKey(e.Issuer)}
}

// sign is the issuer's statement for this election.
func (f *statementFixture) sign(t *testing.T, eligible, issued uint64) []byte {
	t.Helper()
	st, err := issuance.Sign(f.key, issuance.Statement{ElectionID: f.e.Board.Manifest().ID(), Eligible: eligible, Issued: issued, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return st.Bytes()
}

// craft writes a statement's entry signed with key, as any holder of the
// key can, whatever its counts (issuance.Sign refuses some).
func craft(key ed25519.PrivateKey, st issuance.Statement) []byte {
	st.Time = st.Time.UTC().Truncate(time.Second)
	b, _ := json.Marshal(struct {
		ElectionID string `json:"election_id"`
		Eligible   uint64 `json:"eligible"`
		Issued     uint64 `json:"issued"`
		Time       string `json:"time"`
		Signature  []byte `json:"signature"`
	}{hex.EncodeToString(st.ElectionID), st.Eligible, st.Issued, st.Time.Format(issuance.TimeLayout), ed25519.Sign(key, st.Message())})
	return b
}

// accept posts body as the admin and requires it recorded.
func (f *statementFixture) accept(t *testing.T, body []byte) {
	t.Helper()
	if st, msg := f.a.post(boardapi.PathIssuance, octet, bearer, body); st != http.StatusCreated {
		t.Fatalf("the issuer's true statement: %d %s", st, msg)
	}
}

func TestIssuanceRecorded(t *testing.T) {
	f := newStatementFixture(t, true)
	body := f.sign(t, 5, 3)
	i, err := f.e.Board.PostIssuance(ctx, body)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := f.e.Log.Leaf(i)
	if err != nil || !bytes.Equal(leaf[1:], body) {
		t.Fatalf("entry %d is %q, want the statement", i, leaf)
	}
}

// TestAttackIssuanceBeforeClose: the issuer states its counts only once
// voting has closed; before, a statement, even a true one, is refused 403
// and nothing is stored.
func TestAttackIssuanceBeforeClose(t *testing.T) {
	f := newStatementFixture(t, false)
	f.a.refuse("a statement while voting is open", boardapi.PathIssuance, octet, bearer, f.sign(t, 5, 3), http.StatusForbidden, "the election is still open")
	if _, err := f.e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	f.accept(t, f.sign(t, 5, 3))
}

// TestAttackIssuanceWithoutAdminToken: the endpoint is the admin's, as
// every other that appends an entry of the authorities'.
func TestAttackIssuanceWithoutAdminToken(t *testing.T) {
	f := newStatementFixture(t, true)
	body := f.sign(t, 5, 3)
	f.a.refuse("no token", boardapi.PathIssuance, octet, "", body, http.StatusUnauthorized, "admin token")
	f.a.refuse("a wrong token", boardapi.PathIssuance, octet, "Bearer not-the-secret", body, http.StatusUnauthorized, "admin token")
	f.accept(t, body)
}

// TestAttackIssuanceForgedSignature: a statement signed with any key but
// the one the manifest names (another Ed25519 key, the statement key of
// another issuing key), or one whose counts or signature were changed
// after signing, is refused.
func TestAttackIssuanceForgedSignature(t *testing.T) {
	f := newStatementFixture(t, true)
	id := f.e.Board.Manifest().ID()
	st := issuance.Statement{ElectionID: id, Eligible: 5, Issued: 3, Time: time.Now()}
	_, other, _ := ed25519.GenerateKey(nil)
	otherIssuer, err := token.GenerateKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	good := f.sign(t, 5, 3)
	// One base64 character in the middle of the signature, changed.
	flipped := bytes.Clone(good)
	at := bytes.Index(good, []byte(`"signature":"`)) + len(`"signature":"`) + 10
	if flipped[at] == 'A' {
		flipped[at] = 'B'
	} else {
		flipped[at] = 'A'
	}
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"another key", craft(other, st)},
		{"another issuing key's statement key", craft(issuance.DeriveKey(otherIssuer), st)},
		{"issued changed after signing", bytes.Replace(good, []byte(`"issued":3`), []byte(`"issued":4`), 1)},
		{"eligible changed after signing", bytes.Replace(good, []byte(`"eligible":5`), []byte(`"eligible":50`), 1)},
		{"the signature changed", flipped},
	} {
		if bytes.Equal(c.body, good) {
			t.Fatalf("%s: the forgery is the true statement", c.name)
		}
		f.a.refuse(c.name, boardapi.PathIssuance, octet, bearer, c.body, http.StatusBadRequest, "does not verify under the manifest's issuance key")
	}
	f.a.refuse("not canonical", boardapi.PathIssuance, octet, bearer, append(bytes.Clone(good), '\n'), http.StatusBadRequest, "canonical encoding")
	f.accept(t, good)
}

// TestAttackIssuanceOtherElection: a statement the issuer signed for
// another election (its key serves one, but a statement is bytes anyone
// may carry) is refused.
func TestAttackIssuanceOtherElection(t *testing.T) {
	f := newStatementFixture(t, true)
	other := bytes.Repeat([]byte{0x42}, 32)
	body := craft(f.key, issuance.Statement{ElectionID: other, Eligible: 5, Issued: 3, Time: time.Now()})
	f.a.refuse("another election's statement", boardapi.PathIssuance, octet, bearer, body, http.StatusBadRequest, "the statement is for election 4242")
	f.accept(t, f.sign(t, 5, 3))
}

// TestAttackIssuanceMoreIssuedThanEligible: a statement, signed with the
// right key, saying more tokens were issued than voters were eligible is
// refused: no roll issues that.
func TestAttackIssuanceMoreIssuedThanEligible(t *testing.T) {
	f := newStatementFixture(t, true)
	body := craft(f.key, issuance.Statement{ElectionID: f.e.Board.Manifest().ID(), Eligible: 3, Issued: 4, Time: time.Now()})
	f.a.refuse("issued > eligible", boardapi.PathIssuance, octet, bearer, body, http.StatusBadRequest, "4 tokens were issued to 3 eligible voters")
	f.accept(t, f.sign(t, 5, 3))
}

// TestAttackIssuanceFewerTokensThanBallots: a statement saying fewer
// tokens were issued than ballots are counted (each counted ballot holds a
// token the issuer signed) is refused, so that the one statement a record
// may hold is not a wrong roll's; verify fails such a record too
// (package verify's TestAttackIssuanceCountedOverIssued).
func TestAttackIssuanceFewerTokensThanBallots(t *testing.T) {
	f := newStatementFixture(t, true)
	f.a.refuse("issued < counted", boardapi.PathIssuance, octet, bearer, f.sign(t, 5, 2), http.StatusBadRequest, "2 tokens were issued, but 3 ballots are counted")
	f.accept(t, f.sign(t, 5, 3))
}

// TestAttackIssuanceTwice: a record holds one statement: the same again,
// or another with other counts, is refused once one is recorded.
func TestAttackIssuanceTwice(t *testing.T) {
	f := newStatementFixture(t, true)
	first := f.sign(t, 5, 3)
	f.accept(t, first)
	f.a.refuse("the same statement again", boardapi.PathIssuance, octet, bearer, first, http.StatusBadRequest, "already on the board")
	f.a.refuse("a second statement", boardapi.PathIssuance, octet, bearer, f.sign(t, 9, 4), http.StatusBadRequest, "already on the board")
}

// TestAttackIssuanceWithoutKey: an election whose manifest names no
// statement key records no statement, however it is signed.
func TestAttackIssuanceWithoutKey(t *testing.T) {
	el, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), NoIssuanceKey: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { el.Close() })
	v, err := el.Voter()
	if err != nil {
		t.Fatal(err)
	}
	b, err := el.Ballot(v, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := el.Board.Cast(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Tally closes and, with no statement key, posts no statement.
	if _, err := el.Tally(); err != nil {
		t.Fatalf("an election without a statement key tallies: %v", err)
	}
	body, err := el.Statement(5, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := serveBoard(t, el.Board)
	a.refuse("a statement for an election without a statement key", boardapi.PathIssuance, octet, bearer, body, http.StatusBadRequest, "names no issuance key")
	if _, err := el.Board.PostIssuance(ctx, body); !errors.Is(err, board.ErrInvalidEntry) {
		t.Fatalf("a statement in an election without a statement key: %v", err)
	}
}

// TestAttackIssuanceReadBeforeClose: a statement signed while voting was
// still open (its counts read then, so tokens issued later are missing
// from them), posted after the close: refused naming both times, the log
// unchanged; the verifier fails such a statement in a record too
// (verify's TestAttackIssuanceReadBeforeClose).
func TestAttackIssuanceReadBeforeClose(t *testing.T) {
	f := newStatementFixture(t, true)
	m := f.e.Board.Manifest()
	st, err := issuance.Sign(f.key, issuance.Statement{ElectionID: m.ID(), Eligible: 5, Issued: 3, Time: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.a.refuse("a statement read an hour before the close", boardapi.PathIssuance, octet, bearer, st.Bytes(), http.StatusBadRequest, "before voting closed")
	f.accept(t, f.sign(t, 5, 3))
}
