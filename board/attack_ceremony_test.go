package board_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/trustee"
	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/note"
)

// trusteesBoard is a board still in its key ceremony, served over HTTP,
// with the trustees of its manifest (three, threshold two) ready to run
// their steps by hand: a test posts what it likes of their messages.
type trusteesBoard struct {
	*api
	b        *board.Board
	e        *electiontest.Election // the manifest, trustee keys and issuer are its
	verifier note.Verifier
	trustees []*trustee.Trustee
	cer      *record.Ceremony // every message made so far
}

func newCeremonyBoard(t *testing.T) *trusteesBoard {
	e := electiontest.New(t, electiontest.Options{})
	skey, vkey, _ := note.GenerateKey(rand.Reader, "board-open.test")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	l, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b, err := board.Create(ctx, l, e.Board.Manifest().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	cb := &trusteesBoard{api: serveBoard(t, b), b: b, e: e, verifier: verifier, cer: record.NewCeremony(b.Manifest())}
	for i := 1; i <= 3; i++ {
		tr, ann, err := trustee.New(nil, b.Manifest(), i, e.TrusteeKeys[i-1])
		if err != nil {
			t.Fatal(err)
		}
		cb.trustees = append(cb.trustees, tr)
		cb.post(t, ann)
	}
	return cb
}

// post adds messages to the test's ceremony and posts them to the board
// through its public path, with no admin token.
func (cb *trusteesBoard) post(t *testing.T, msgs ...trustee.Message) {
	t.Helper()
	for _, m := range msgs {
		if err := cb.cer.Add(m.Body); err != nil {
			t.Fatal(err)
		}
		if st, msg := cb.api.post(boardapi.PathTrusteeCeremony, octet, "", m.Body); st != http.StatusCreated {
			t.Fatalf("trustee %d's message of kind %d: %d %s", m.From, m.Kind, st, msg)
		}
	}
}

func (cb *trusteesBoard) deal(t *testing.T, i int) {
	t.Helper()
	d, err := cb.trustees[i-1].Deal(nil, cb.cer)
	if err != nil {
		t.Fatal(err)
	}
	cb.post(t, d)
}

// verify has trustee i check the deals so far and returns its messages,
// its complaints and then its check, without posting them.
func (cb *trusteesBoard) verify(t *testing.T, i int) []trustee.Message {
	t.Helper()
	msgs, err := cb.trustees[i-1].Verify(cb.cer)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// refuseOpen asks the board to open, in Go and over HTTP, going on without
// the trustees given, and checks both refuse with err (the HTTP status
// status) saying each of want, and that the log is unchanged.
func (cb *trusteesBoard) refuseOpen(t *testing.T, without []int, err error, status int, want ...string) {
	t.Helper()
	before := cb.size()
	_, got := cb.b.OpenVoting(ctx, without...)
	if !errors.Is(got, err) {
		t.Fatalf("open without %v: got %v, want %v", without, got, err)
	}
	for _, w := range want {
		if !strings.Contains(got.Error(), w) {
			t.Errorf("open without %v: %q does not say %q", without, got, w)
		}
	}
	body := []byte(withoutJSON(without))
	cb.api.refuse("open without "+string(body), boardapi.PathOpen, "application/json", bearer, body, status, want[0])
	if cb.size() != before {
		t.Fatal("a refused open changed the log")
	}
}

func withoutJSON(is []int) string {
	s := make([]string, len(is))
	for k, i := range is {
		s[k] = string(rune('0' + i))
	}
	return `{"without":[` + strings.Join(s, ",") + `]}`
}

// TestAttackOpenWithADealMissing: with trustee 3's deal missing the board
// once opened with trustees 1 and 2 without a word. Now an open is refused
// (409 trustees_missing, and in Go ErrTrusteesMissing), naming trustee 3,
// what it is missing and what the election loses, however it is asked:
// with no body, with an empty without, without the wrong trustee; the log
// is unchanged each time.
func TestAttackOpenWithADealMissing(t *testing.T) {
	cb := newCeremonyBoard(t)
	cb.deal(t, 1)
	cb.deal(t, 2)
	for i := 1; i <= 2; i++ {
		cb.post(t, cb.verify(t, i)...)
	}
	says := []string{"trustee 3 has not dealt", "trustee 3 has not checked its shares of the deals of trustees 1 and 2", "without trustee 3, all of trustees 1 and 2 must decrypt; one more lost and the election cannot be tallied", `{"without":[3]}`}
	for _, w := range [][]int{nil, {2}, {1, 2}} {
		cb.refuseOpen(t, w, board.ErrTrusteesMissing, http.StatusConflict, says...)
	}
	cb.api.refuse("open with no body", boardapi.PathOpen, octet, bearer, nil, http.StatusConflict, "trustee 3 has not dealt")
	if _, err := boardapi.NewClient(cb.url, nil).Open(ctx); err == nil {
		t.Fatal("an open with no admin token")
	}
	admin := boardapi.NewClient(cb.url, nil)
	admin.AdminToken = "admin-secret"
	if _, err := admin.Open(ctx); !errors.Is(err, boardapi.ErrTrusteesMissing) || !strings.Contains(err.Error(), "trustee 3 has not dealt") {
		t.Fatalf("the client's open: %v", err)
	}
	if got := cb.size(); got != 8 {
		t.Fatalf("the log has %d entries, want the manifest and the 7 messages", got)
	}
}

// TestAttackOpenWithTheComplaintRoundMissing: a trustee with good shares
// posts no complaint, so a board once could not tell one that checked from
// one that had not, and opened before it had: should a share be bad, that
// trustee's complaint came too late and it held no share. Its check is
// now awaited (trustee 2's here), and an accused dealer's answer too
// (trustee 3's to trustee 1); each open is refused naming them, the log
// unchanged, until they come.
func TestAttackOpenWithTheComplaintRoundMissing(t *testing.T) {
	cb := newCeremonyBoard(t)
	for i := 1; i <= 3; i++ {
		cb.deal(t, i)
	}
	cb.refuseOpen(t, nil, board.ErrTrusteesMissing, http.StatusConflict,
		"trustee 1 has not checked its shares of the deals of trustees 1, 2 and 3: should one be bad, it would hold no share",
		"trustee 2 has not checked", "trustee 3 has not checked", `{"without":[1,2,3]}`)
	cb.post(t, cb.verify(t, 1)...)
	cb.post(t, cb.verify(t, 3)...)
	cb.refuseOpen(t, []int{1}, board.ErrTrusteesMissing, http.StatusConflict, "trustee 2 has not checked its shares", "without trustee 2, all of trustees 1 and 3 must decrypt", `{"without":[2]}`)

	// Trustee 1 complains about trustee 3 (its share said not to match):
	// trustee 3 must answer, or be disqualified on the authority's word.
	complaint := record.Sign(cb.b.Manifest(), cb.e.TrusteeKeys[0], record.KindComplaint, []byte{1, 3, 1, 3, 2})
	cb.post(t, trustee.Message{Kind: record.KindComplaint, From: 1, To: 3, Body: complaint}, cb.verify(t, 2)[0])
	cb.refuseOpen(t, nil, board.ErrTrusteesMissing, http.StatusConflict, "trustee 3 has not answered the complaint of trustee 1: it would be disqualified as a dealer")
	as, err := cb.trustees[2].Answer(cb.cer)
	if err != nil || len(as) != 1 {
		t.Fatalf("trustee 3's answers %v: %v", as, err)
	}
	cb.post(t, as...)
	if p := cb.cer.Progress(); len(p.Gaps) != 0 {
		t.Fatalf("gaps left: %s", p.GapsText())
	}
	o, err := cb.b.OpenVoting(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Qualified(), []int{1, 2, 3}) {
		t.Fatalf("qualified %v", o.Qualified())
	}
}

// TestAttackOpenUndecided: with an announcement missing, or fewer than t
// deals, no key can be made at all: the open is refused 403
// ceremony_incomplete, naming who is missing, whatever without says.
func TestAttackOpenUndecided(t *testing.T) {
	cb := newCeremonyBoard(t)
	cb.deal(t, 1)
	cb.refuseOpen(t, []int{2, 3}, board.ErrCeremonyIncomplete, http.StatusForbidden, "1 of the 3 deals count, and 2 are needed", "trustee 2 has not dealt", "trustee 3 has not dealt")

	e := electiontest.New(t, electiontest.Options{})
	skey, _, _ := note.GenerateKey(rand.Reader, "board-undecided.test")
	signer, _ := note.NewSigner(skey)
	l, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, err := board.Create(ctx, l, e.Board.Manifest().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	_, ann, err := trustee.New(nil, b.Manifest(), 1, e.TrusteeKeys[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PostCeremony(ctx, ann.Body); err != nil {
		t.Fatal(err)
	}
	if _, err := b.OpenVoting(ctx, 2, 3); !errors.Is(err, board.ErrCeremonyIncomplete) || !strings.Contains(err.Error(), "trustees 2 and 3 announced no key") {
		t.Fatalf("open with two announcements missing: %v", err)
	}
	if n, _ := l.Size(); n != 2 {
		t.Fatalf("the log has %d entries", n)
	}
}

// TestAttackOpenBody: an open's body is empty or {"without":[...]} naming
// trustees of the election, each once at most; anything else is refused
// 400 with the log unchanged.
func TestAttackOpenBody(t *testing.T) {
	cb := newCeremonyBoard(t)
	for _, tc := range []struct {
		name, ct, body, want string
	}{
		{"trustee 4 of 3", "application/json", `{"without":[4]}`, "trustee 4; the election has trustees 1 to 3"},
		{"trustee 0", "application/json", `{"without":[0]}`, "trustee 0"},
		{"a string", "application/json", `{"without":"3"}`, "without"},
		{"another field", "application/json", `{"without":[3],"force":true}`, "without"},
		{"two objects", "application/json", `{"without":[3]}{}`, "without"},
		{"not JSON", "application/json", `without=3`, "without"},
		{"JSON as octets", octet, `{"without":[3]}`, "empty"},
	} {
		cb.api.refuse(tc.name, boardapi.PathOpen, tc.ct, bearer, []byte(tc.body), http.StatusBadRequest, tc.want)
	}
}

// TestAttackForgedCeremonyMessage: the board takes a ceremony message from
// anyone on its public path, with no admin token, since the trustee's
// signature is the credential. So a message not signed by the trustee it
// is from is refused there (and on the admin path) with 400 invalid_entry
// and the log unchanged: unsigned, signed by another trustee, signed for
// another election, a signature or a payload byte flipped, a check in a
// trustee's name by someone else. A repeat is refused too.
func TestAttackForgedCeremonyMessage(t *testing.T) {
	cb := newCeremonyBoard(t)
	m := cb.b.Manifest()
	other := electiontest.New(t, electiontest.Options{})
	check := []byte{1, 5, 2, 1, 1}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	good := record.Sign(m, cb.e.TrusteeKeys[1], record.KindCheck, check)
	for name, body := range map[string][]byte{
		"unsigned":                       append([]byte{record.KindCheck}, check...),
		"unsigned, zero signature":       append(append([]byte{record.KindCheck}, check...), make([]byte, 64)...),
		"signed by trustee 1":            record.Sign(m, cb.e.TrusteeKeys[0], record.KindCheck, check),
		"signed for another election":    record.Sign(other.Board.Manifest(), other.TrusteeKeys[1], record.KindCheck, check),
		"a signature bit flipped":        flip(good, len(good)-1),
		"a payload bit flipped":          flip(good, 5),
		"trustee 2's announcement again": record.Sign(m, cb.e.TrusteeKeys[1], record.KindAnnouncement, cb.trustees[1].Announcement().Marshal()),
	} {
		cb.api.refuse(name, boardapi.PathTrusteeCeremony, octet, "", body, http.StatusBadRequest, "entry refused")
		cb.api.refuse(name+", by the admin", boardapi.PathCeremony, octet, bearer, body, http.StatusBadRequest, "entry refused")
	}
	cb.api.refuse("a check with the admin's wrong token", boardapi.PathCeremony, octet, "Bearer nope", good, http.StatusUnauthorized, "admin token")
	if st, msg := cb.api.post(boardapi.PathTrusteeCeremony, octet, "", good); st != http.StatusCreated {
		t.Fatalf("trustee 2's own check: %d %s", st, msg)
	}
}

// TestOpenWithout: trustee 3 lost its state after it announced, so it
// never deals; the authority opens without it, the open entry disqualifies
// it (no-deal), and the election is cast, tallied by trustees 1 and 2 and
// verified.
func TestOpenWithout(t *testing.T) {
	cb := newCeremonyBoard(t)
	cb.deal(t, 1)
	cb.deal(t, 2)
	for i := 1; i <= 2; i++ {
		cb.post(t, cb.verify(t, i)...)
	}
	cb.refuseOpen(t, nil, board.ErrTrusteesMissing, http.StatusConflict, "trustee 3 has not dealt")
	if st, msg := cb.api.post(boardapi.PathOpen, "application/json", bearer, []byte(`{"without":[3]}`)); st != http.StatusCreated {
		t.Fatalf("open without 3: %d %s", st, msg)
	}
	o := cb.b.Opening()
	if o == nil || !slices.Equal(o.Qualified(), []int{1, 2}) || len(o.Disqualified()) != 1 || o.Disqualified()[0].Fault != "no-deal" {
		t.Fatalf("open entry %s", o.Bytes())
	}
	var shares []*trustee.KeyShare
	for i := 0; i < 2; i++ {
		_, ks, err := cb.trustees[i].Finalize(cb.cer)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, ks)
	}
	e := &electiontest.Election{Election: &sim.Election{Board: cb.b, Log: cb.b.Log(), Verifier: cb.verifier, Issuer: cb.e.Issuer, TrusteeKeys: cb.e.TrusteeKeys, Shares: shares}}
	for _, c := range []int{0, 0, 1} {
		e.Cast(t, e.Voter(t), []int{c})
	}
	res := e.Tally(t, 1, 2)
	if res.Ballots != 3 || res.Counts[0][0] != 2 || res.Counts[0][1] != 1 {
		t.Fatalf("result %+v", res)
	}
	rep, err := verify.Record(bytes.NewReader(e.Export(t)), cb.verifier, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Result == nil || rep.Result.Ballots != 3 {
		t.Fatalf("the verified record's result: %+v", rep.Result)
	}
}
