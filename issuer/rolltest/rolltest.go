// Package rolltest is the conformance suite of [issuer.Roll], the issuer's
// storage seam: what every roll must do for the issuer over it to give one
// token per voter and hold the guess limit. A roll's tests call [Run] with
// a constructor; issuer runs it on [issuer.MemRoll], the reference, and
// issuer/bolt on bbolt. A new roll (PostgreSQL next) passes it first.
//
// Beyond each method's contract it checks that Update is one atomic
// read-modify-write however requests race, which the two decisions that
// must hold across issuer replicas sharing one roll rest on: one blinded
// message signed per voter, and the back-off of wrong codes, here with
// two [issuer.Issuer] values guessing at once.
package rolltest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
)

// NewRoll returns a new, empty roll; the suite closes it.
type NewRoll func(t testing.TB) issuer.Roll

// Run runs the conformance suite on the rolls newRoll makes.
func Run(t *testing.T, newRoll NewRoll) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, issuer.Roll)
	}{
		{"Add", testAdd},
		{"Update", testUpdate},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"Issue", testIssue},
		{"IssueConcurrent", testIssueConcurrent},
		{"AddAfterIssue", testAddAfterIssue},
		{"UnknownVoter", testUnknownVoter},
		{"Purge", testPurge},
		{"TwoIssuersOneRoll", testTwoIssuers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoll(t)
			defer r.Close()
			tc.run(t, r)
		})
	}
}

var ctx = context.Background()

const code = "00000-00000-00000-00000"

func hash(t testing.TB, code string) issuer.CodeHash {
	t.Helper()
	h, err := issuer.HashCode(code)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func add(t testing.TB, r issuer.Roll, ids ...string) {
	t.Helper()
	h := hash(t, code)
	recs := make([]issuer.RollEntry, len(ids))
	for i, id := range ids {
		recs[i] = issuer.RollEntry{VoterID: id, Code: h}
	}
	if err := r.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

// Add is all or nothing; Get returns the record, a copy of it.
func testAdd(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "c"}, {VoterID: "a"}}); !errors.Is(err, issuer.ErrDuplicateVoter) {
		t.Fatalf("Add of a voter on the roll: %v", err)
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "d"}, {VoterID: "d"}}); !errors.Is(err, issuer.ErrDuplicateVoter) {
		t.Fatalf("Add of one voter twice: %v", err)
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "e"}, {VoterID: ""}}); err == nil {
		t.Fatal("Add of an empty voter ID")
	}
	for _, id := range []string{"c", "d", "e"} {
		if _, err := r.Get(ctx, id); !errors.Is(err, issuer.ErrUnknownVoter) {
			t.Fatalf("voter %q of a refused Add: %v; Add is all or nothing", id, err)
		}
	}
	if c, err := r.Counts(ctx); err != nil || c != (issuer.Counts{Eligible: 2}) {
		t.Fatalf("Counts after refused Adds = %+v, %v", c, err)
	}
	rec, err := r.Get(ctx, "a")
	if err != nil || rec.VoterID != "a" || !rec.Code.Verify("0000000000000000000O") || rec.Code.Verify("00000000000000000001") || rec.Issued() || rec.Failures != 0 {
		t.Fatalf("Get(a) = %+v, %v", rec, err)
	}
	clear(rec.Code.Sum)
	if again, _ := r.Get(ctx, "a"); !again.Code.Verify(code) {
		t.Fatal("changing a record Get returned changed the roll: Get must return a copy")
	}
	issued := issuer.RollEntry{VoterID: "f", Code: hash(t, code), Blinded: []byte("b"), BlindSig: []byte("s")}
	if err := r.Add(ctx, []issuer.RollEntry{issued}); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Counts(ctx); c != (issuer.Counts{Eligible: 3, Issued: 1}) {
		t.Fatalf("Counts after adding an issued record = %+v", c)
	}
}

// Update writes what change made, or nothing if change failed, and
// returns copies.
func testUpdate(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	rec, err := r.Update(ctx, "a", func(e *issuer.RollEntry) error {
		e.Failures = 3
		e.Contact = []byte("sealed")
		e.OTP = &issuer.SentCode{Sum: []byte("sum"), Sends: 1}
		e.Backoffs = []issuer.Backoff{{Addr: []byte("addr"), Failures: 2, Until: 7, Last: 5}}
		return nil
	})
	if err != nil || rec.Failures != 3 || rec.VoterID != "a" || !rec.Code.Verify(code) {
		t.Fatalf("Update = %+v, %v", rec, err)
	}
	got, err := r.Get(ctx, "a")
	if err != nil || got.Failures != 3 || string(got.Contact) != "sealed" || got.OTP == nil || string(got.OTP.Sum) != "sum" ||
		len(got.Backoffs) != 1 || got.Backoffs[0].Until != 7 || string(got.Backoffs[0].Addr) != "addr" {
		t.Fatalf("Get after Update = %+v, %v", got, err)
	}
	refused := errors.New("refused")
	if _, err := r.Update(ctx, "a", func(e *issuer.RollEntry) error {
		e.Failures = 99
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("Update whose change fails = %v, want its error", err)
	}
	if got, _ := r.Get(ctx, "a"); got.Failures != 3 {
		t.Fatalf("a failed change was written: failures %d", got.Failures)
	}
	if _, err := r.Update(ctx, "a", func(e *issuer.RollEntry) error { e.VoterID = "b"; return nil }); err == nil {
		t.Fatal("Update changed the voter ID")
	}
	clear(got.OTP.Sum)
	if again, _ := r.Get(ctx, "a"); string(again.OTP.Sum) != "sum" {
		t.Fatal("changing an entry Get returned changed the roll: Get must return a copy")
	}
	if got, _ := r.Get(ctx, "b"); got.Failures != 0 || got.Contact != nil {
		t.Fatalf("another voter's entry changed: %+v", got)
	}
}

// Updates raced on one voter are applied one by one: none is lost.
func testUpdateConcurrent(t *testing.T, r issuer.Roll) {
	add(t, r, "v")
	const n = 64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := r.Update(ctx, "v", func(e *issuer.RollEntry) error { e.Failures++; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if rec, _ := r.Get(ctx, "v"); rec.Failures != n {
		t.Fatalf("%d racing increments left failures = %d", n, rec.Failures)
	}
}

func setIssued(r issuer.Roll, id string, blinded, sig []byte) ([]byte, error) {
	var out []byte
	_, err := r.Update(ctx, id, func(e *issuer.RollEntry) error {
		var err error
		out, err = e.Issue(blinded, sig)
		return err
	})
	return out, err
}

func testIssue(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	s, err := setIssued(r, "a", []byte("b1"), []byte("s1"))
	if err != nil || string(s) != "s1" {
		t.Fatalf("Issue = %q, %v", s, err)
	}
	if s, err := setIssued(r, "a", []byte("b1"), []byte("s1-other")); err != nil || string(s) != "s1" {
		t.Fatalf("Issue again = %q, %v; want the stored s1", s, err)
	}
	if _, err := setIssued(r, "a", []byte("b2"), []byte("s2")); !errors.Is(err, issuer.ErrAlreadyIssued) {
		t.Fatalf("Issue of another blinded message = %v", err)
	}
	if _, err := setIssued(r, "b", nil, nil); err == nil {
		t.Fatal("Issue with no blinded message or signature")
	}
	if _, err := r.Update(ctx, "a", func(e *issuer.RollEntry) error { e.Blinded, e.BlindSig = nil, nil; return nil }); err == nil {
		t.Fatal("Update took back an issued token")
	}
	rec, err := r.Get(ctx, "a")
	if err != nil || !rec.Issued() || !bytes.Equal(rec.Blinded, []byte("b1")) || !bytes.Equal(rec.BlindSig, []byte("s1")) {
		t.Fatalf("Get after Issue = %+v, %v", rec, err)
	}
	if c, err := r.Counts(ctx); err != nil || c != (issuer.Counts{Eligible: 2, Issued: 1}) {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
}

// Many requests for one voter with different blinded messages race;
// exactly one is signed.
func testIssueConcurrent(t *testing.T, r issuer.Roll) {
	add(t, r, "v")
	const n = 16
	var won atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := setIssued(r, "v", fmt.Appendf(nil, "blinded-%d", i), []byte("sig"))
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, issuer.ErrAlreadyIssued):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c, _ := r.Counts(ctx); won.Load() != 1 || c.Issued != 1 {
		t.Fatalf("%d of %d different blinded messages signed (counts %+v), want 1", won.Load(), n, c)
	}
}

// Once a token is issued the roll takes no voter: the count of eligible
// voters is what turnout is measured against. Add decides it in its own
// transaction, so an add racing the first token never lands after it.
func testAddAfterIssue(t *testing.T, r issuer.Roll) {
	add(t, r, "a")
	var wg sync.WaitGroup
	var addErr error
	wg.Go(func() { addErr = r.Add(ctx, []issuer.RollEntry{{VoterID: "late", Code: hash(t, code)}}) })
	wg.Go(func() {
		if _, err := setIssued(r, "a", []byte("b"), []byte("s")); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	c, _ := r.Counts(ctx)
	switch {
	case addErr == nil && c.Eligible != 2, addErr != nil && (!errors.Is(addErr, issuer.ErrIssuanceStarted) || c.Eligible != 1):
		t.Fatalf("an add racing the first token: %v, counts %+v", addErr, c)
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "later", Code: hash(t, code)}}); !errors.Is(err, issuer.ErrIssuanceStarted) {
		t.Fatalf("an add after a token was issued: %v, want ErrIssuanceStarted", err)
	}
	if _, err := r.Get(ctx, "later"); !errors.Is(err, issuer.ErrUnknownVoter) {
		t.Fatalf("the refused add left its voter: %v", err)
	}
}

func testUnknownVoter(t *testing.T, r issuer.Roll) {
	add(t, r, "a")
	called := false
	for name, op := range map[string]func() error{
		"Get": func() error { _, err := r.Get(ctx, "zz"); return err },
		"Update": func() error {
			_, err := r.Update(ctx, "zz", func(e *issuer.RollEntry) error { called = e.VoterID == "zz"; e.Failures++; return nil })
			return err
		},
		"Issue": func() error { _, err := setIssued(r, "zz", []byte("b"), []byte("s")); return err },
	} {
		if err := op(); !errors.Is(err, issuer.ErrUnknownVoter) {
			t.Errorf("%s of a voter not on the roll: %v", name, err)
		}
	}
	if called {
		t.Error("Update called change with an entry for a voter not on the roll")
	}
	if c, _ := r.Counts(ctx); c != (issuer.Counts{Eligible: 1}) {
		t.Errorf("updates of unknown voters changed the counts: %+v", c)
	}
}

func testPurge(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	if _, err := setIssued(r, "a", []byte("b1"), []byte("s1")); err != nil {
		t.Fatal(err)
	}
	want := issuer.Counts{Eligible: 2, Issued: 1, Purged: true}
	if c, err := r.Purge(ctx); err != nil || c != want {
		t.Fatalf("Purge = %+v, %v", c, err)
	}
	if c, err := r.Purge(ctx); err != nil || c != want {
		t.Fatalf("Purge again = %+v, %v", c, err)
	}
	if c, err := r.Counts(ctx); err != nil || c != want {
		t.Fatalf("Counts after purge = %+v, %v", c, err)
	}
	for name, op := range map[string]func() error{
		"Add":    func() error { return r.Add(ctx, []issuer.RollEntry{{VoterID: "late"}}) },
		"Get":    func() error { _, err := r.Get(ctx, "a"); return err },
		"Update": func() error { _, err := r.Update(ctx, "a", func(*issuer.RollEntry) error { return nil }); return err },
		"Issue":  func() error { _, err := setIssued(r, "b", []byte("b"), []byte("s")); return err },
	} {
		if err := op(); !errors.Is(err, issuer.ErrPurged) {
			t.Errorf("%s after purge: %v, want ErrPurged", name, err)
		}
	}
}

var (
	keyOnce sync.Once
	key     *token.PrivateKey
	keyErr  error
)

// Two issuers on one roll, as two issuer replicas on one database, guess
// one voter's code from one address at once: exactly FreeFailures+1 wrong
// codes are tested (the last of them starts the address's wait), the rest
// are not and are answered as wrong codes, on both; the right code from
// that address waits too, but from another address it passes; an unlock
// on one issuer lifts the wait on the other.
func testTwoIssuers(t *testing.T, r issuer.Roll) { TwoIssuers(t, [2]issuer.Roll{r, r}) }

// TwoIssuers is the suite's TwoIssuersOneRoll over two handles on one
// roll: the same one twice, or two opened apart, as two issuer processes
// each open it (a database roll's two connection pools). A stranger
// guessing one voter's code through both issuers at once gets
// FreeFailures+1 codes tested and the rest not; the right code from the
// stranger's address then waits on both, from the voter's own passes; an
// unlock through one lifts the wait on the other.
func TwoIssuers(t *testing.T, rolls [2]issuer.Roll) {
	r := rolls[0]
	keyOnce.Do(func() { key, keyErr = token.GenerateKey(token.DefaultKeyBits) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	election := bytes.Repeat([]byte{0x42}, token.ElectionIDSize)
	right, err := issuer.GenerateCode()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "voter-1", Code: hash(t, right)}}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) // a clock that stands: the wait never ends by itself
	var replicas [2]*issuer.Issuer
	for i := range replicas {
		if replicas[i], err = issuer.New(issuer.Config{ElectionID: election, Key: key, Roll: rolls[i], Now: func() time.Time { return now }}); err != nil {
			t.Fatal(err)
		}
	}
	tokenKey, _, _ := ed25519.GenerateKey(rand.Reader)
	blinded, _, err := token.Blind(nil, key.Public(), election, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	const guesser, voter = "203.0.113.7", "198.51.100.9"
	cred := func(code string) issuerapi.Credentials { return issuerapi.Credentials{VoterID: "voter-1", Code: code} }
	const guesses = 32
	var tested, waited atomic.Int64
	var wg sync.WaitGroup
	for g := range guesses {
		wg.Go(func() {
			wrong, _ := issuer.GenerateCode()
			_, err := replicas[g%2].Issue(ctx, cred(wrong), blinded, guesser)
			switch {
			case errors.Is(err, issuer.ErrNotTested): // answered as a wrong code
				waited.Add(1)
			case errors.Is(err, issuer.ErrBadCredentials):
				tested.Add(1)
			default:
				t.Errorf("guess: %v", err)
			}
		})
	}
	wg.Wait()
	if want := int64(issuer.FreeFailures + 1); tested.Load() != want || waited.Load() != guesses-want {
		t.Fatalf("%d wrong codes guessed through two issuers at once: %d tested, %d not; want %d and %d", guesses, tested.Load(), waited.Load(), want, guesses-want)
	}
	if rec, _ := rolls[1].Get(ctx, "voter-1"); rec.Failures != issuer.FreeFailures+1 {
		t.Fatalf("failures counted: %d, want %d", rec.Failures, issuer.FreeFailures+1)
	}
	for i, is := range replicas {
		if _, err := is.Issue(ctx, cred(right), blinded, guesser); !errors.Is(err, issuer.ErrNotTested) {
			t.Fatalf("the right code on issuer %d from the waiting address: %v, want ErrNotTested", i, err)
		}
	}
	sig, err := replicas[1].Issue(ctx, cred(right), blinded, voter)
	if err != nil {
		t.Fatalf("the right code from the voter's own address while a stranger's waits: %v", err)
	}
	if err := replicas[0].Unlock(ctx, "voter-1"); err != nil {
		t.Fatal(err)
	}
	if again, err := replicas[1].Issue(ctx, cred(right), blinded, guesser); err != nil || !bytes.Equal(again, sig) {
		t.Fatalf("the same request from the first address after an unlock on the other issuer: %v; want the same signature", err)
	}
	if rec, _ := r.Get(ctx, "voter-1"); rec.Failures != 0 || len(rec.Backoffs) != 0 {
		t.Fatalf("after the unlock and right codes: failures %d, back-offs %+v", rec.Failures, rec.Backoffs)
	}
}
