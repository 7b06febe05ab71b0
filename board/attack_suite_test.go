package board_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/tally"
	"github.com/gtank/ristretto255"
	"golang.org/x/mod/sumdb/note"
)

// api is a board served over HTTP on loopback, with its log.
type api struct {
	t   *testing.T
	url string
	log store.Log
}

func serveBoard(t *testing.T, b *board.Board) *api {
	srv := httptest.NewServer(board.NewHandler(b, board.HandlerConfig{AdminToken: "admin-secret"}))
	t.Cleanup(srv.Close)
	return &api{t, srv.URL, b.Log()}
}

// post sends body to path and returns the status and the error message of
// a JSON error reply ("" for a 2xx).
func (a *api) post(path, contentType, auth string, body []byte) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, ""
	}
	var er boardapi.ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&er); err != nil || er.Error == "" {
		a.t.Fatalf("POST %s: %d reply is not a JSON error (%v)", path, resp.StatusCode, err)
	}
	return resp.StatusCode, er.Error
}

func (a *api) size() uint64 {
	n, err := a.log.Size()
	if err != nil {
		a.t.Fatal(err)
	}
	return n
}

// refuse posts and checks the reply has status want, an error naming
// wantMsg, and that the log did not change.
func (a *api) refuse(what, path, contentType, auth string, body []byte, want int, wantMsg string) {
	a.t.Helper()
	before := a.size()
	st, msg := a.post(path, contentType, auth, body)
	if st != want || !strings.Contains(msg, wantMsg) {
		a.t.Errorf("%s: POST %s got %d %q, want %d and an error with %q", what, path, st, msg, want, wantMsg)
	}
	if n := a.size(); n != before {
		a.t.Fatalf("%s: refused, but the log grew from %d to %d entries", what, before, n)
	}
}

const (
	octet  = "application/octet-stream"
	bearer = "Bearer admin-secret"
)

// boards returns the three phases of a board over HTTP: one still in its
// key ceremony, one open (with a valid ballot not yet cast), one closed
// (with a valid partial decryption not yet posted).
func boards(t *testing.T) (ceremony, open, closed *api, ballotRaw, partial []byte) {
	e := electiontest.New(t, electiontest.Options{})
	open = serveBoard(t, e.Board)
	ballotRaw = e.Ballot(t, e.Voter(t), []int{0})

	skey, _, _ := note.GenerateKey(rand.Reader, "board-ceremony.test")
	signer, _ := note.NewSigner(skey)
	l, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cb, err := board.Create(ctx, l, e.Board.Manifest().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ceremony = serveBoard(t, cb)

	c := electiontest.New(t, electiontest.Options{})
	c.Cast(t, c.Voter(t), []int{1})
	if _, err := c.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	agg, err := c.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := tallyDecrypt(c, agg, 1)
	if err != nil {
		t.Fatal(err)
	}
	return ceremony, open, serveBoard(t, c.Board), ballotRaw, s
}

// TestAttackOversizedBody: bodies over the size limit to every POST
// endpoint of the board are refused with 413 before anything is parsed.
func TestAttackOversizedBody(t *testing.T) {
	ceremony, open, closed, _, _ := boards(t)
	huge := make([]byte, board.MaxBodyBytes+1)
	rand.Read(huge)
	open.refuse("huge ballot", boardapi.PathBallots, octet, "", huge, http.StatusRequestEntityTooLarge, "body over")
	open.refuse("10 MB ballot", boardapi.PathBallots, octet, "", make([]byte, 10<<20), http.StatusRequestEntityTooLarge, "body over")
	ceremony.refuse("huge ceremony message", boardapi.PathCeremony, octet, bearer, huge, http.StatusRequestEntityTooLarge, "body over")
	closed.refuse("huge partial", boardapi.PathPartials, octet, "", huge, http.StatusRequestEntityTooLarge, "body over")
	closed.refuse("huge result", boardapi.PathResult, octet, bearer, huge, http.StatusRequestEntityTooLarge, "body over")
}

// TestAttackWrongContentTypeBoard: every POST endpoint wants
// application/octet-stream; anything else is 415 and nothing is stored,
// even with a valid body.
func TestAttackWrongContentTypeBoard(t *testing.T) {
	ceremony, open, closed, raw, partial := boards(t)
	for _, ct := range []string{"", "application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/octet-stream/x", "application/octet-stream; q=\"", "*/*"} {
		open.refuse("ballot as "+ct, boardapi.PathBallots, ct, "", raw, http.StatusUnsupportedMediaType, "Content-Type must be")
		ceremony.refuse("ceremony as "+ct, boardapi.PathCeremony, ct, bearer, []byte{1, 1, 1}, http.StatusUnsupportedMediaType, "Content-Type must be")
		closed.refuse("partial as "+ct, boardapi.PathPartials, ct, "", partial, http.StatusUnsupportedMediaType, "Content-Type must be")
		closed.refuse("result as "+ct, boardapi.PathResult, ct, bearer, []byte(`{"ballots":1,"counts":[[0,1]]}`), http.StatusUnsupportedMediaType, "Content-Type must be")
	}
	// The valid ones with the right type go in: the refusals were about the type.
	if st, msg := open.post(boardapi.PathBallots, octet, "", raw); st != http.StatusCreated {
		t.Fatalf("the valid ballot: %d %s", st, msg)
	}
	if st, msg := closed.post(boardapi.PathPartials, octet, "", partial); st != http.StatusCreated {
		t.Fatalf("the valid partial: %d %s", st, msg)
	}
}

// TestAttackGarbageBodiesBoard: empty, random, truncated and extended
// bodies to every POST endpoint that reads one, in the phase where it
// would be accepted, are refused with 400 and a message, and stored
// nowhere.
func TestAttackGarbageBodiesBoard(t *testing.T) {
	ceremony, open, closed, raw, partial := boards(t)
	random := make([]byte, 700)
	rand.Read(random)
	ann, err := ceremonyLeaf(t, open)
	if err != nil {
		t.Fatal(err)
	}
	result := []byte(`{"ballots":1,"counts":[[0,1]]}`)
	for _, tc := range []struct {
		a     *api
		path  string
		auth  string
		valid []byte
	}{
		{open, boardapi.PathBallots, "", raw},
		{ceremony, boardapi.PathCeremony, bearer, ann},
		{closed, boardapi.PathPartials, "", partial},
		{closed, boardapi.PathResult, bearer, result},
	} {
		for name, body := range map[string][]byte{
			"empty":          nil,
			"one byte":       {0},
			"random":         random,
			"truncated":      tc.valid[:len(tc.valid)-1],
			"half":           tc.valid[:len(tc.valid)/2],
			"extended":       append(bytes.Clone(tc.valid), 0),
			"json":           []byte(`{"a":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}`),
			"valid, doubled": append(bytes.Clone(tc.valid), tc.valid...),
		} {
			tc.a.refuse(name, tc.path, octet, tc.auth, body, http.StatusBadRequest, "")
		}
	}
}

// TestAttackAdminWithoutToken: the admin endpoints (ceremony, open, close,
// result) refuse a missing or wrong bearer token with 401, so no one else
// can close the election early or post a result.
func TestAttackAdminWithoutToken(t *testing.T) {
	ceremony, open, closed, _, _ := boards(t)
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer admin", "Bearer admin-secret2", "Bearer admin-secre", "bearer admin-secret", "Basic YWRtaW4tc2VjcmV0", "admin-secret"} {
		ceremony.refuse("ceremony with "+auth, boardapi.PathCeremony, octet, auth, []byte{1}, http.StatusUnauthorized, "admin token")
		ceremony.refuse("open with "+auth, boardapi.PathOpen, octet, auth, nil, http.StatusUnauthorized, "admin token")
		open.refuse("close with "+auth, boardapi.PathClose, octet, auth, nil, http.StatusUnauthorized, "admin token")
		closed.refuse("result with "+auth, boardapi.PathResult, octet, auth, []byte(`{"ballots":1,"counts":[[0,1]]}`), http.StatusUnauthorized, "admin token")
	}
	if p, _ := open.post(boardapi.PathElection, "", "", nil); p != http.StatusNotFound && p != http.StatusMethodNotAllowed {
		t.Errorf("POST to a GET endpoint: %d", p)
	}
}

// Offsets in a one-question yes/no ballot (SPEC.md §6, RSA-2048 token).
const (
	offT      = 1 + 32
	offCipher = offT + 32 + 32 + 256
	offProof  = offCipher + 64 // a0 b0 a1 b1, c0 c1, z0 z1
	offC0     = offProof + 128
	offZ0     = offC0 + 64
)

// badPoints are 32-byte strings no ristretto255 element has as its
// encoding, or the identity: non-canonical field elements (≥ p, or
// "negative"), and the encodings Ed25519 gives its low-order points (a
// ristretto255 decoder must refuse them: the group has no small subgroup
// because it never decodes one).
var badPoints = map[string]string{
	"identity":                      "0000000000000000000000000000000000000000000000000000000000000000",
	"p (non-canonical)":             "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"p+1 (non-canonical)":           "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"2^255-1 (non-canonical)":       "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"negative field element":        "0100000000000000000000000000000000000000000000000000000000000000",
	"high bit set":                  "0000000000000000000000000000000000000000000000000000000000000080",
	"Edwards order 2 (0,-1)":        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"Edwards order 8":               "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"Edwards order 8, sign bit set": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"Edwards order 8 (other)":       "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"Edwards order 8 (other), sign": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
}

// TestAttackInvalidPointEncodings: a ballot whose token key, ciphertext or
// proof commitment is the identity, a non-canonical encoding or an
// Edwards low-order point is refused by the board as malformed (the
// decoder, not a later proof, catches it), and nothing is stored. The
// election key in an open entry and a trustee's partial are read by the
// same decoder (see TestAttackOpenWithOtherKey, TestAttackBadPartialDecryption).
func TestAttackInvalidPointEncodings(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	if n := e.Board.Election().Size(); n != offZ0+64+64 {
		t.Fatalf("ballot size %d: the offsets above are stale", n)
	}
	raw := e.Ballot(t, e.Voter(t), []int{1})
	for name, hx := range badPoints {
		p, _ := hex.DecodeString(hx)
		if _, err := elgamal.ParseElement(p); err == nil {
			t.Errorf("%s: ParseElement accepts it", name)
		}
		for field, off := range map[string]int{"token key T": offT, "ciphertext A": offCipher, "ciphertext B": offCipher + 32, "proof commitment a0": offProof, "proof commitment b1": offProof + 96} {
			bad := bytes.Clone(raw)
			copy(bad[off:], p)
			before := size(t, e)
			_, err := e.Board.Cast(ctx, bad)
			refused(t, e, before, err, board.ErrInvalidBallot, name+" as "+field)
			// B may be the identity (SPEC.md §2: g^m·h^r can be); the
			// proof refuses it there.
			decoder := !(name == "identity" && field == "ciphertext B")
			if decoder && err != nil && !strings.Contains(err.Error(), "canonical") && !strings.Contains(err.Error(), "identity") {
				t.Errorf("%s as %s: refused, but not by the decoder: %v", name, field, err)
			}
		}
	}
	if _, err := e.Board.Cast(ctx, raw); err != nil {
		t.Fatalf("the untouched ballot: %v", err)
	}
}

// TestAttackTamperedProofResigned: a voter (who holds the token key and
// so can sign anything) alters the challenges or responses of a ballot's
// 0/1 proof, keeping the challenges' sum, or puts a scalar ≥ l, and signs
// the altered ballot: the signature holds, the proof does not, and the
// board refuses it.
func TestAttackTamperedProofResigned(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	v := e.Voter(t)
	raw := e.Ballot(t, v, []int{0})
	one := elgamal.ScalarFromUint64(1)
	scalar := func(b []byte) *ristretto255.Scalar {
		s, err := elgamal.ParseScalar(b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	resign := func(b []byte) []byte {
		body := b[:len(b)-zkp.SchnorrSize]
		h := e.Board.Manifest().Hash()
		sctx := append(append([]byte("evote/ballot/v1/signature\x00"), h[:]...), body...)
		sig, err := zkp.ProveSchnorr(rand.Reader, sctx, v.Secret, v.Key)
		if err != nil {
			t.Fatal(err)
		}
		return append(bytes.Clone(body), sig.Bytes()...)
	}
	for name, alter := range map[string]func(b []byte){
		"c0+1, c1-1": func(b []byte) {
			copy(b[offC0:], ristretto255.NewScalar().Add(scalar(b[offC0:offC0+32]), one).Bytes())
			copy(b[offC0+32:], ristretto255.NewScalar().Subtract(scalar(b[offC0+32:offC0+64]), one).Bytes())
		},
		"c0 and c1 swapped": func(b []byte) {
			c0 := bytes.Clone(b[offC0 : offC0+32])
			copy(b[offC0:], b[offC0+32:offC0+64])
			copy(b[offC0+32:], c0)
		},
		"z0+1": func(b []byte) {
			copy(b[offZ0:], ristretto255.NewScalar().Add(scalar(b[offZ0:offZ0+32]), one).Bytes())
		},
		"z1 = 0": func(b []byte) { clear(b[offZ0+32 : offZ0+64]) },
		"z0 + l (non-canonical)": func(b []byte) {
			// z0 + l, as 32 little-endian bytes, when it fits.
			l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
			var carry uint16
			for i := 0; i < 32; i++ {
				s := uint16(b[offZ0+i]) + uint16(l[i]) + carry
				b[offZ0+i], carry = byte(s), s>>8
			}
		},
	} {
		bad := bytes.Clone(raw)
		alter(bad)
		bad = resign(bad)
		before := size(t, e)
		_, err := e.Board.Cast(ctx, bad)
		refused(t, e, before, err, board.ErrInvalidBallot, name)
		t.Logf("%s: %v", name, err)
	}
	// The re-signing itself is sound: the untouched ballot re-signed goes in.
	if _, err := e.Board.Cast(ctx, resign(raw)); err != nil {
		t.Fatalf("the re-signed untouched ballot: %v", err)
	}
}

// TestAttackTallyBeforeClose: partial decryptions and results posted while
// the election is open are refused (out of phase), as is a second close.
func TestAttackTallyBeforeClose(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	before := size(t, e)
	_, err := e.Board.PostPartial(ctx, []byte{1})
	refused(t, e, before, err, board.ErrNotClosed, "partial while open")
	_, err = e.Board.PostResult(ctx, []byte(`{"ballots":1,"counts":[[1,0]]}`))
	refused(t, e, before, err, board.ErrNotClosed, "result while open")
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	before = size(t, e)
	_, err = e.Board.CloseVoting(ctx)
	if err == nil || size(t, e) != before {
		t.Fatalf("a second close: %v", err)
	}
}

// tallyDecrypt is trustee index's partial decryption of agg, encoded.
func tallyDecrypt(e *electiontest.Election, agg *tally.Aggregate, index int) ([]byte, error) {
	ks := e.Shares[index-1]
	s, err := tally.Decrypt(e.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
	if err != nil {
		return nil, err
	}
	return s.Bytes(), nil
}

// ceremonyLeaf returns the body of the first ceremony entry of a's log
// (trustee 1's announcement), valid for any board of the same manifest.
func ceremonyLeaf(t *testing.T, a *api) ([]byte, error) {
	l, err := a.log.Leaf(1)
	if err != nil {
		return nil, err
	}
	if store.EntryType(l[0]) != store.Ceremony {
		t.Fatalf("entry 1 is a %v entry", store.EntryType(l[0]))
	}
	return l[1:], nil
}
